using System.Text.Json.Nodes;
using Rlvr.Model;

namespace Rlvr.Tests.Training;

/// <summary><c>rlvr train</c> with LoRA, 8-bit AdamW states, a KL reference and gradient checkpointing, on the tiny model.</summary>
public class LowMemoryTrainTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    string[] TrainArgs(string runDir, int steps) =>
    [
        "train", "--model", tiny.ModelDir, "--objective", "nsr", "--out", runDir,
        "--steps", steps.ToString(), "--rollout-batch-size", "4", "--rollouts-per-prompt", "2", "--max-new-tokens", "8",
        "--eval-every", "2", "--eval-limit", "4", "--eval-max-new-tokens", "8", "--save-every", "2", "--lr", "1e-2",
        "--grad-accum", "2", "--seed", "7",
        "--lora-rank", "4", "--lora-alpha", "8", "--lora-targets", "q_proj,v_proj,down_proj", "--optimizer-states", "8bit",
        "--kl-coef", "0.05", "--gradient-checkpointing",
    ];

    static IEnumerable<string> TrainLines(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
        .Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!)
        .Where(l => (string)l["type"]! == "train")
        .Select(l => { foreach (var k in l.Select(kv => kv.Key).Where(k => k.StartsWith("time/")).ToList()) l.Remove(k); return l.ToJsonString(); });

    [Fact]
    public void A_LoRA_run_with_8bit_states_saves_adapters_resumes_exactly_and_merges()
    {
        const int steps = 4;
        var whole = Path.Combine(Fixtures.TempDir(), "whole");
        var r = CliRunner.Run(TrainArgs(whole, steps));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var lines = TrainLines(whole).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(steps, lines.Count);
        Assert.All(lines, l => Assert.NotNull(l["loss"]));
        Assert.All(lines, l => Assert.NotNull(l["kl"]));
        // The first update moves B off zero, so later steps see a policy that differs from the reference.
        Assert.Equal(0.0, (double)lines[0]["kl"]!);
        Assert.True((double)lines[^1]["kl"]! > 0, lines[^1].ToJsonString());

        // The checkpoint is a PEFT adapter folder (no full weights) with 8-bit optimizer states.
        var checkpoint = Path.Combine(whole, "checkpoints", "step_000004");
        Assert.True(File.Exists(Path.Combine(checkpoint, "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(checkpoint, "adapter_model.safetensors")));
        Assert.False(File.Exists(Path.Combine(checkpoint, "model.safetensors")));
        using (var optimizer = SafeTensorsFile.Open(Directory.GetFiles(checkpoint, "optimizer.safetensors", SearchOption.AllDirectories).Single()))
        {
            // down_proj's A is [4, 128] = 512 elements (fp32 states); its B [64, 4] too; nothing of the tiny model reaches 4096.
            Assert.Contains(optimizer.Tensors.Keys, k => k.EndsWith("lora_B.weight.exp_avg"));
            Assert.DoesNotContain(optimizer.Tensors.Keys, k => !k.Contains(".lora_"));
        }

        // Killed after the step-2 checkpoint and resumed: the same metrics as the uninterrupted run.
        var killed = Path.Combine(Fixtures.TempDir(), "killed");
        Assert.True(CliRunner.RunUntilFileExists(Path.Combine(killed, "checkpoints", "step_000002", "trainer_state.json"), TrainArgs(killed, steps)),
            "the run never wrote its step-2 checkpoint");
        var resumed = CliRunner.Run("train", "--resume", killed);
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Equal(TrainLines(whole), TrainLines(killed));

        // rlvr eval takes the adapter checkpoint as its --model (the base's config and tokenizer, the adapter applied).
        var evalOut = Path.Combine(Fixtures.TempDir(), "eval");
        var e = CliRunner.Run("eval", "--model", checkpoint, "--data", "bundled:test", "--limit", "2", "--n", "1", "--k", "1", "--max-new-tokens", "4", "--out", evalOut);
        Assert.True(e.ExitCode == 0, e.Stdout + e.Stderr);
        Assert.True(File.Exists(Path.Combine(evalOut, "summary.json")));

        // The adapter checkpoint scores like the model merged from it.
        var merged = Path.Combine(Fixtures.TempDir(), "merged");
        var m = CliRunner.Run("merge-adapter", "--adapter", checkpoint, "--out", merged);
        Assert.True(m.ExitCode == 0, m.Stderr);
        var input = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllText(input, """{"id": 1, "input_ids": [151644, 872, 198, 9707, 11, 1879]}""" + "\n");
        double[] Scores(string model)
        {
            var s = CliRunner.Run("logprobs", "--model", model, "--input", input);
            Assert.True(s.ExitCode == 0, s.Stderr);
            return ((JsonArray)JsonNode.Parse(s.Stdout.Trim())!["token_logprobs"]!).Select(n => (double)n!).ToArray();
        }
        var adapted = Scores(checkpoint);
        var fromMerged = Scores(merged);
        var baseScores = Scores(tiny.ModelDir);
        for (int i = 0; i < adapted.Length; i++) Assert.InRange(fromMerged[i] - adapted[i], -1e-4, 1e-4);
        Assert.NotEqual(baseScores, adapted);
    }

    [Theory]
    [InlineData("8bit", "U8")]
    [InlineData("bf16", "BF16")]
    public void Full_fine_tuning_with_low_memory_states_resumes_from_its_checkpoint(string states, string dtype)
    {
        string[] Args(string runDir, int steps) =>
        [
            "train", "--model", tiny.ModelDir, "--objective", "nsr", "--out", runDir, "--steps", steps.ToString(),
            "--rollout-batch-size", "4", "--rollouts-per-prompt", "2", "--max-new-tokens", "8", "--eval-every", "0",
            "--save-every", "1", "--keep-checkpoints", "1", "--lr", "1e-3", "--seed", "7", "--optimizer-states", states,
        ];
        var whole = Path.Combine(Fixtures.TempDir(), "whole");
        var r = CliRunner.Run(Args(whole, 2));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var part = Path.Combine(Fixtures.TempDir(), "part");
        r = CliRunner.Run(Args(part, 1));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        // The embedding (151,936 x 64 values) is above the size at which moments are kept in low precision.
        using (var optimizer = SafeTensorsFile.Open(Directory.GetFiles(Path.Combine(part, "checkpoints", "step_000001"), "optimizer.safetensors", SearchOption.AllDirectories).Single()))
            Assert.Equal(dtype, SafeTensors.DTypeName(optimizer.Tensors["model.embed_tokens.weight.exp_avg"].DType));

        r = CliRunner.Run("train", "--resume", part, "--steps", "2");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(TrainLines(whole), TrainLines(part));
        Assert.Equal(2, TrainLines(part).Count(l => l.Contains("\"loss\"")));
        Directory.Delete(whole, recursive: true);   // checkpoints of the tiny model: 120 MB each
        Directory.Delete(part, recursive: true);
    }

    [Fact]
    public void Bad_low_memory_options_are_named()
    {
        var run = Path.Combine(Fixtures.TempDir(), "run");
        foreach (var (args, word) in new[]
        {
            (new[] { "--optimizer-states", "4bit" }, "optimizer_states"),
            (new[] { "--lora-rank", "4", "--lora-targets", "q_proj,lm_head" }, "lora_targets"),
            (new[] { "--base-dtype", "bfloat16" }, "base_dtype"),
            (new[] { "--lora-rank", "4", "--lora-dropout", "1" }, "lora_dropout"),
        })
        {
            var r = CliRunner.Run(["train", "--model", tiny.ModelDir, "--out", run, .. args]);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains(word, r.Stderr);
        }
    }
}
