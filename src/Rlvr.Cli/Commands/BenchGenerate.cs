using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Rlvr.Generation;
using Rlvr.Model;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr bench generate</c>: sampler throughput (prefill and decode tokens/s), peak RSS, model FLOPs per
/// token, the fp32 GEMM throughput of this machine on the model's own matrices, and the efficiency
/// (achieved model FLOP/s over that GEMM FLOP/s). A subcommand of <c>rlvr bench</c>.
/// </summary>
public static class BenchGenerate
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder to load (trained weights are not needed: timings do not depend on them)" };
        var config = new Option<string?>("--config") { Description = $"Random weights for a bundled config ({string.Join(", ", Qwen2Config.NamedConfigs)}) or a config.json path" };
        var batch = new Option<int>("--batch") { Description = "Sequences decoded together", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Tokens per (random) prompt", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated per sequence (stop tokens are off)", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var seed = new Option<ulong>("--seed") { Description = "Seed for the prompts and the sampling", DefaultValueFactory = _ => 0 };
        var loraRank = new Option<int>("--lora-rank") { Description = "Decode with LoRA adapters of this rank on every projection, as extra matmuls (0 = none; a merged adapter runs at the speed of none)", DefaultValueFactory = _ => 0 };
        var bf16 = new Option<bool>("--bf16-weights") { Description = "Decode with bf16 copies of the weights (fp32 accumulation) where rlvr's kernel runs the products; the prefill stays fp32" };
        var json = new Option<bool>("--json") { Description = "End with one JSON object of the results on the last line" };
        var cmd = new Command("generate", "Measure the sampler: prefill and decode tokens/s, peak memory, and efficiency against fp32 GEMM on the model's shapes.")
        {
            model, config, batch, promptTokens, newTokens, seed, loraRank, bf16, json,
        };
        cmd.SetAction(parse =>
        {
            var (modelDir, configName) = (parse.GetValue(model), parse.GetValue(config));
            if ((modelDir is null) == (configName is null)) throw new CliException("give exactly one of --model DIR or --config NAME");
            var options = new GenerationBench.Options
            {
                Batch = parse.GetValue(batch), PromptTokens = parse.GetValue(promptTokens), NewTokens = parse.GetValue(newTokens), Seed = parse.GetValue(seed), Bf16Weights = parse.GetValue(bf16),
            };
            if (options.Batch < 1 || options.PromptTokens < 1 || options.NewTokens < 1)
                throw new CliException("--batch, --prompt-tokens and --new-tokens must be positive");
            if (options.Bf16Weights && Kernels.GemmPath.Bf16WeightsIgnored() is { } ignored) Console.Error.WriteLine($"bench generate: {ignored}");
            using var loaded = modelDir is not null ? ModelFolder.Load(modelDir) : ModelFolder.Random(configName!);
            if (parse.GetValue(loraRank) is > 0 and var rank)
            {
                loaded.Model.AddAdapters(new LoraOptions(rank, 2 * rank, 0, LoraOptions.AllProjections), seed: 0);
                Console.Error.WriteLine($"bench generate: LoRA adapters of rank {rank} on every projection ({loaded.Model.AdapterParameters().Sum(p => p.Parameter.numel()) / 1e6:F2} M parameters)");
            }
            var progress = new ConsoleProgress("bench generate");
            var r = GenerationBench.Run(loaded, options, progress);
            progress.Finish();
            Print(r, loaded, parse.GetValue(json));
            return 0;
        });
        return cmd;
    }



    static void Print(GenerationBench.Result r, LoadedModel loaded, bool json)
    {
        var s = r.Stats;
        var o = r.Options;
        var c = CultureInfo.InvariantCulture;
        void Line(FormattableString text) => Console.WriteLine(text.ToString(c));
        bool bf16Used = o.Bf16Weights && Kernels.GemmPath.UseKernel;   // only the kernel reads the copies (Sampler)
        Line($"{Kernels.GemmPath.Describe()}");
        Line($"model {loaded.Directory}: {loaded.Config.NumHiddenLayers} layers, hidden {loaded.Config.HiddenSize}, vocab {loaded.Config.VocabSize}, fp32{(bf16Used ? " (decode: bf16 weight copies)" : "")}, {r.Threads} torch threads");
        Line($"batch {o.Batch}, {o.PromptTokens} prompt + {o.NewTokens} new tokens; KV cache {s.CacheRows} x {s.CachePositions} positions = {s.CacheBytes / 1e6:F0} MB");
        Line($"prefill: {s.PrefilledTokens} tokens in {s.PrefillSeconds:F2} s = {r.PrefillTokensPerSecond:F0} tokens/s; {r.PrefillFlopsPerToken / 1e9:F3} GFLOP/token; GEMM ({r.PrefillGemmRows} rows) {r.PrefillGemmFlopsPerSecond / 1e9:F0} GFLOP/s; efficiency {r.PrefillEfficiency:F2}");
        Line($"decode:  {s.GeneratedTokens} tokens in {s.DecodeSeconds:F2} s = {r.DecodeTokensPerSecond:F1} tokens/s; {r.DecodeFlopsPerToken / 1e9:F3} GFLOP/token; GEMM ({o.Batch} rows) {r.DecodeGemmFlopsPerSecond / 1e9:F0} GFLOP/s (mean of {r.DecodeGemmPasses} passes between steps; best {r.BestDecodeGemmFlopsPerSecond / 1e9:F0}); efficiency {r.DecodeEfficiency:F2}");
        var (kernel, mkl, difference) = r.DecodePaths;
        if (kernel > 0)
            Line($"one product at {r.DecodePathRows} rows x {loaded.Config.HiddenSize} x {loaded.Config.IntermediateSize}: rlvr's kernel {kernel / 1e9:F0} GFLOP/s, MKL {mkl / 1e9:F0} GFLOP/s (best of 5 each); results differ by {difference:E1} of the largest output");
        Line($"sampled tokens' log-probs against the fp32 model scoring them (first {System.Math.Min(GenerationBench.ScoredSequences, o.Batch)} sequences): mean |difference| {r.LogProbDifference.Mean:E1}, largest {r.LogProbDifference.Max:E1}");
        Line($"decode, least disturbed: fastest step vs fastest GEMM pass: efficiency {r.BestStepEfficiency:F2}");
        Line($"decode step: {1000 * s.ForwardSeconds / s.DecodeSteps:F1} ms forward + {1000 * s.SamplingSeconds / s.DecodeSteps:F1} ms sampling ({s.DecodeSteps} steps); cache bookkeeping {s.CacheSeconds:F2} s");
        var tenth = System.Math.Max(1, s.StepSeconds.Count / 10);
        var sorted = s.StepSeconds.Order().ToList();
        Line($"decode step times: first tenth {1000 * s.StepSeconds.Take(tenth).Average():F0} ms, last tenth {1000 * s.StepSeconds.TakeLast(tenth).Average():F0} ms, fastest {1000 * sorted[0]:F0}, median {1000 * sorted[sorted.Count / 2]:F0}, slowest {1000 * sorted[^1]:F0}");
        Line($"peak RSS {r.PeakRssMb:F0} MB ({r.RssBeforeMb:F0} MB with the model loaded, before generating); load average at the end {Bench.LoadAverage()}");
        if (!json) return;
        var obj = new JsonObject
        {
            ["decode_tokens_per_s"] = r.DecodeTokensPerSecond,
            ["prefill_tokens_per_s"] = r.PrefillTokensPerSecond,
            ["efficiency"] = r.DecodeEfficiency,
            ["efficiency_best_step"] = r.BestStepEfficiency,
            ["prefill_efficiency"] = r.PrefillEfficiency,
            ["peak_rss_mb"] = r.PeakRssMb,
            ["rss_before_generate_mb"] = r.RssBeforeMb,
            ["decode_gflop_per_token"] = r.DecodeFlopsPerToken / 1e9,
            ["prefill_gflop_per_token"] = r.PrefillFlopsPerToken / 1e9,
            ["gemm_decode_gflops"] = r.DecodeGemmFlopsPerSecond / 1e9,
            ["gemm_decode_best_gflops"] = r.BestDecodeGemmFlopsPerSecond / 1e9,
            ["gemm_prefill_gflops"] = r.PrefillGemmFlopsPerSecond / 1e9,
            ["kernel_decode_product_gflops"] = kernel / 1e9,
            ["mkl_decode_product_gflops"] = mkl / 1e9,
            ["gemm_path"] = Kernels.GemmPath.UseKernel ? "kernel" : "mkl",
            ["cpu"] = Kernels.GemmPath.CpuModel(),
            ["bf16_weights"] = bf16Used,
            ["logprob_difference_mean"] = r.LogProbDifference.Mean,
            ["logprob_difference_max"] = r.LogProbDifference.Max,
            ["decode_forward_ms_per_step"] = 1000 * s.ForwardSeconds / s.DecodeSteps,
            ["decode_sampling_ms_per_step"] = 1000 * s.SamplingSeconds / s.DecodeSteps,
            ["kv_cache_mb"] = s.CacheBytes / 1e6,
            ["batch"] = o.Batch,
            ["prompt_tokens"] = o.PromptTokens,
            ["new_tokens"] = o.NewTokens,
            ["threads"] = r.Threads,
            ["model"] = loaded.Directory,
            ["load_average"] = Bench.LoadAverage(),
        };
        Console.WriteLine(obj.ToJsonString());
    }
}
