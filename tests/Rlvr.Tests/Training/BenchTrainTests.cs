using System.Text.Json.Nodes;
using Rlvr.Training;

namespace Rlvr.Tests.Training;

/// <summary><c>rlvr bench train</c> on the tiny config, and the measuring pieces under it. No timing asserts.</summary>
public class BenchTrainTests
{
    [Fact]
    public void Tiny_run_reports_the_counted_work_layout_memory_and_a_time_split()
    {
        // 3 rollouts of 5 + 4 tokens; budget 18 = two rows of 9: micro-batches of 2 and 1 rollouts.
        var r = CliRunner.Run("bench", "train", "--config", "tiny", "--rollouts", "3", "--prompt-tokens", "5", "--response-tokens", "4",
            "--micro-batch-tokens", "18", "--grad-accum", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonNode.Parse(r.Stdout.TrimEnd().Split('\n')[^1])!.AsObject();

        Assert.Equal(27, (long)json["tokens"]!);
        Assert.Equal(12, (long)json["response_tokens"]!);
        Assert.Equal(2, (int)json["micro_batches"]!);
        Assert.Equal(18, (long)json["largest_micro_batch_tokens"]!);
        // Tiny: per layer q 64x64+64, k and v 64x32+32 each, o 64x64, MLP 3 x 64x128, two norms of 64 = 37,120;
        // two layers and the final norm: 74,304. Embedding 151,936 x 64 (tied).
        Assert.Equal(74_304, (long)json["non_embedding_parameters"]!);
        Assert.Equal(74_304 + 151_936L * 64, (long)json["parameters"]!);
        // 6 x 74,304 x 27 + 6 x 64 x 151,936 x 12
        Assert.Equal(12_037_248 + 700_121_088.0, (double)json["counted_flop"]!);

        foreach (var key in new[] { "forward_s", "backward_s", "optimizer_s", "gemm_gflops", "achieved_gflops", "tokens_per_s", "efficiency", "rss_before_mb" })
            Assert.True((double)json[key]! is > 0 and < double.PositiveInfinity, $"{key} = {json[key]}");
        Assert.True((double)json["peak_rss_mb"]! >= (double)json["rss_before_mb"]!);
        Assert.Equal((double)json["forward_s"]! + (double)json["backward_s"]! + (double)json["optimizer_s"]!, (double)json["step_s"]!, 9);
        Assert.Contains("time split", r.Stdout);
    }

    [Fact]
    public void Needs_exactly_one_of_model_and_config()
    {
        var r = CliRunner.Run("bench", "train", "--rollouts", "1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--model DIR or --config NAME", r.Stderr);
    }

    [Fact]
    public void Micro_batches_are_accumulation_parts_sorted_by_length_and_split_by_the_token_budget()
    {
        // Lengths 8, 4, 7, 3, 5, 6; grad-accum 2 gives parts {8, 4, 7} and {3, 5, 6}, sorted {4, 7, 8} and {3, 5, 6}.
        // A budget of 16 padded tokens: 4 and 7 (2 x 7 = 14; with 8: 3 x 8 = 24 > 16), then 8;
        // 3 and 5 (2 x 5 = 10; with 6: 3 x 6 = 18 > 16), then 6. Unsorted, 8 and 4 would share one (4 padded to 8).
        var rollouts = new[] { 6, 2, 5, 1, 3, 4 }.Select(n => new Rollout([1, 2], new int[n], new float[n], 1f)).ToList();
        var micro = PolicyUpdate.MicroBatches(rollouts, new UpdateSchedule(GradAccum: 2, MicroBatchTokens: 16)).ToList();
        Assert.Equal([[4, 7], [8], [3, 5], [6]], micro.Select(m => m.Select(r => r.PromptIds.Length + r.CompletionIds.Length).ToArray()).ToArray());
    }

    [Fact]
    public void Status_fields_parse_with_and_without_padding()
    {
        string[] status = ["Name:\tdotnet", "VmHWM:\t12345678 kB", "VmRSS:\t    2048 kB"];
        Assert.Equal(12345678 / 1024.0, Bench.StatusFieldMb(status, "VmHWM"));
        Assert.Equal(2.0, Bench.StatusFieldMb(status, "VmRSS"));
        Assert.Equal(0.0, Bench.StatusFieldMb(status, "VmSwap"));
    }

    [Fact]
    public void Stat_fields_are_counted_after_a_command_name_with_spaces_and_parentheses()
    {
        // Fields: 1 pid, 2 name, 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty, 8 tpgid, 9 flags, 10 minflt, 11 cminflt.
        const string stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 987654 12 0 0\n";
        Assert.Equal(987654, Bench.StatField(stat, 10));
        Assert.Equal(1, Bench.StatField(stat, 4));
        if (File.Exists("/proc/self/stat")) Assert.True(Bench.KernelCounters().PageFaults > 0);   // this process has touched memory
    }

    [Fact]
    public void Gemm_mix_counts_two_flops_per_multiply_add_weighted_by_occurrence()
    {
        var shapes = GemmShape.LinearTraining(rows: 8, inFeatures: 16, outFeatures: 4);
        Assert.All(shapes, s => Assert.Equal(2.0 * 8 * 16 * 4, s.Flops));
        // forward [8,16]x[16,4], input gradient [8,4]x[4,16], weight gradient [4,8]x[8,16]
        Assert.Equal([(8L, 16L, 4L), (8, 4, 16), (4, 8, 16)], shapes.Select(s => (s.M, s.K, s.N)).ToArray());
        var mix = Bench.TimeGemms(shapes.Select(s => (s, 2.5)));
        Assert.Equal(3 * 2.5 * 1024, mix.Flops);
        Assert.True(mix.Seconds > 0);
    }
}
