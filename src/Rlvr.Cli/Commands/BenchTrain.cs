using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Rlvr.Model;
using Rlvr.Training;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr bench train</c>: one policy update (the trainer's own <see cref="PolicyUpdate"/>) on random rollouts:
/// tokens/s, achieved FLOP/s, the fp32 GEMM FLOP/s of the same work on this machine, efficiency, peak RSS and
/// the forward / backward / optimizer split (see <see cref="TrainBench"/> for what is counted).
/// </summary>
public static class BenchTrain
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder to load (trained weights are not needed: timings do not depend on them)" };
        var config = new Option<string?>("--config") { Description = $"Random weights for a bundled config ({string.Join(", ", Qwen2Config.NamedConfigs)}) or a config.json path" };
        var rollouts = new Option<int>("--rollouts") { Description = "Rollouts in the update", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Tokens per (random) prompt", DefaultValueFactory = _ => 200 }.AtLeast(1);
        var responseTokens = new Option<int>("--response-tokens") { Description = "Tokens per (random) response: all responses have this length unless --min-response-tokens is given", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var minResponseTokens = new Option<int?>("--min-response-tokens") { Description = "Draw each response length uniformly from [this, --response-tokens] (micro-batches then hold padding)" }.AtLeast(1);
        var trainDefaults = new TrainConfig();
        var microBatchTokens = new Option<int>("--micro-batch-tokens") { Description = "Most padded tokens in one forward/backward (0 = no limit), as in rlvr train", DefaultValueFactory = _ => trainDefaults.MicroBatchTokens }.AtLeast(0);
        var gradAccum = new Option<int>("--grad-accum") { Description = "Gradient-accumulation parts per optimizer step, as in rlvr train", DefaultValueFactory = _ => trainDefaults.GradAccum }.AtLeast(1);
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Recompute decoder layers in backward instead of keeping their activations" };
        var steps = new Option<int>("--steps") { Description = "Updates to time (after untimed warm-up updates on a short rollout and on the largest micro-batch); the mean is reported", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Seed for the random token ids", DefaultValueFactory = _ => 0 };
        var optimizerStates = new Option<string>("--optimizer-states") { Description = "AdamW moments: fp32, bf16 or 8bit, as in rlvr train", DefaultValueFactory = _ => "fp32" };
        var loraRank = new Option<int>("--lora-rank") { Description = "Train LoRA adapters of this rank on every projection (alpha 2r, no dropout) instead of all weights (0 = full fine-tuning)", DefaultValueFactory = _ => 0 };
        var baseDtype = new Option<string>("--base-dtype") { Description = "With --config: dtype of the random weights, float32 or bfloat16 (bfloat16 needs --lora-rank)", DefaultValueFactory = _ => "float32" };
        var json = new Option<bool>("--json") { Description = "End with one JSON object of the results on the last line" };
        var cmd = new Command("train", "Measure one policy update: tokens/s, efficiency against fp32 GEMM on the model's shapes, peak memory, time split.")
        {
            model, config, rollouts, promptTokens, responseTokens, minResponseTokens, microBatchTokens, gradAccum, checkpointing, steps, seed,
            optimizerStates, loraRank, baseDtype, json,
        };
        cmd.SetAction(parse =>
        {
            var (modelDir, configName) = (parse.GetValue(model), parse.GetValue(config));
            if ((modelDir is null) == (configName is null)) throw new CliException("give exactly one of --model DIR or --config NAME");
            var options = new TrainBench.Options
            {
                Rollouts = parse.GetValue(rollouts), PromptTokens = parse.GetValue(promptTokens), ResponseTokens = parse.GetValue(responseTokens),
                MinResponseTokens = parse.GetValue(minResponseTokens),
                MicroBatchTokens = parse.GetValue(microBatchTokens), GradAccum = parse.GetValue(gradAccum),
                GradientCheckpointing = parse.GetValue(checkpointing), Steps = parse.GetValue(steps), Seed = parse.GetValue(seed),
                OptimizerStates = MomentPrecisions.Parse(parse.GetValue(optimizerStates)!),
                Lora = parse.GetValue(loraRank) is > 0 and var rank ? new LoraOptions(rank, 2 * rank, 0, LoraOptions.AllProjections) : null,
            };
            var dtype = ModelFolder.ParseDtype(parse.GetValue(baseDtype)!);
            if (dtype != TorchSharp.torch.ScalarType.Float32 && options.Lora is null) throw new CliException("--base-dtype bfloat16 needs --lora-rank (full fine-tuning updates fp32 weights)");
            if (options.Rollouts < 1 || options.PromptTokens < 1 || options.ResponseTokens < 1 || options.GradAccum < 1 || options.Steps < 1)
                throw new CliException("--rollouts, --prompt-tokens, --response-tokens, --grad-accum and --steps must be positive");
            if (options.MicroBatchTokens < 0) throw new CliException("--micro-batch-tokens must be 0 (no limit) or positive");
            if (options.MinResponseTokens is { } min && (min < 1 || min > options.ResponseTokens))
                throw new CliException($"--min-response-tokens {min} must be between 1 and --response-tokens ({options.ResponseTokens})");
            using var loaded = modelDir is not null ? ModelFolder.Load(modelDir, dtype: dtype) : ModelFolder.Random(configName!, dtype: dtype);
            var r = TrainBench.Run(loaded, options, line => Console.Error.WriteLine("bench train: " + line));
            Print(r, loaded, parse.GetValue(json));
            return 0;
        });
        return cmd;
    }


    static void Print(TrainBench.Result r, LoadedModel loaded, bool json)
    {
        var o = r.Options;
        var m = r.Mean;
        var c = loaded.Config;
        var largest = r.MicroBatches.MaxBy(b => (long)b.Rows * b.Length);
        void Line(FormattableString text) => Console.WriteLine(text.ToString(CultureInfo.InvariantCulture));
        // JSON has no NaN or infinity (a ratio over a GEMM too small for the CPU clock's 10 ms ticks): null instead.
        static JsonNode? Number(double x) => double.IsFinite(x) ? JsonValue.Create(x) : null;
        string Share(double seconds) => (seconds / m.Total).ToString("P0", CultureInfo.InvariantCulture);
        Line($"{Rlvr.Kernels.GemmPath.Describe()}; training's products: MKL");
        Line($"model {loaded.Directory}: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, vocab {c.VocabSize}, {r.Parameters / 1e6:F1} M parameters ({r.NonEmbeddingParameters / 1e6:F1} M non-embedding), fp32, {r.Threads} torch threads");
        var responses = o.MinResponseTokens is { } min ? $"{min}..{o.ResponseTokens}" : $"{o.ResponseTokens}";
        Line($"{o.Rollouts} rollouts x ({o.PromptTokens} prompt + {responses} response) tokens = {r.Tokens} tokens ({r.ResponseTokens} response); grad-accum {o.GradAccum}, micro-batch tokens {o.MicroBatchTokens}: {r.MicroBatches.Count} micro-batches, largest {largest.Rows} x {largest.Length} = {(long)largest.Rows * largest.Length} tokens, padding {1 - (double)r.Tokens / r.PaddedTokens:P1}; gradient checkpointing {(o.GradientCheckpointing ? "on" : "off")}");
        foreach (var (s, i) in r.Steps.Select((s, i) => (s, i + 1)))
            Line($"update {i}: forward {s.Forward:F2} s, backward {s.Backward:F2} s, optimizer {s.Optimizer:F2} s (loss {s.Loss:G4}, grad norm {s.GradNorm:G4})");
        Line($"time split (mean of {r.Steps.Count}): forward {m.Forward:F2} s ({Share(m.Forward)}), backward {m.Backward:F2} s ({Share(m.Backward)}), optimizer {m.Optimizer:F2} s ({Share(m.Optimizer)}); total {m.Total:F2} s");
        Line($"  of which LM head (estimated from {r.LmHeadRows} rows): forward {r.LmHeadForwardSeconds:F2} s, backward {r.LmHeadBackwardSeconds:F2} s");
        Line($"throughput: {r.TokensPerSecond:F0} tokens/s forward+backward ({r.Tokens / m.Total:F0} tokens/s with the optimizer)");
        Line($"counted work: 6 x {r.NonEmbeddingParameters / 1e6:F1} M x {r.Tokens} tokens + 6 x {c.HiddenSize} x {c.VocabSize} x {r.ResponseTokens} response tokens = {r.DecoderFlops / 1e12:F2} + {r.LmHeadFlops / 1e12:F2} = {r.CountedFlops / 1e12:F2} TFLOP");
        Line($"achieved {r.AchievedFlopsPerSecond / 1e9:F1} GFLOP/s; fp32 GEMM on the same shapes {r.GemmFlopsPerSecond / 1e9:F1} GFLOP/s (before {r.GemmBefore.FlopsPerSecond / 1e9:F1}, after {r.GemmAfter.FlopsPerSecond / 1e9:F1}; decoder GEMMs at {r.GemmRows} rows); efficiency {r.Efficiency:F2}");
        Line($"GEMM by shape class (before the updates): {string.Join(", ", r.GemmClasses.Select(g => $"{g.Name} {g.Mix.FlopsPerSecond / 1e9:F0}"))} GFLOP/s");
        Line($"per CPU second: update {r.CountedFlops / m.ForwardBackwardCpuSeconds / 1e9:F1} GFLOP ({m.CpuSeconds:F1} CPU s in {m.Total:F1} s), GEMM {(r.GemmBefore.Flops + r.GemmAfter.Flops) / (r.GemmBefore.CpuSeconds + r.GemmAfter.CpuSeconds) / 1e9:F1} GFLOP; efficiency {r.CpuEfficiency:F2}");
        Line($"trained: {(o.Lora is { } l ? $"LoRA r {l.Rank} on {string.Join(",", l.Targets)}, {r.TrainedParameters / 1e6:F2} M parameters" : $"all {r.TrainedParameters / 1e6:F1} M parameters")}; AdamW moments {o.OptimizerStates}; weights {loaded.Model.DType}");
        Line($"peak RSS {r.PeakRssMb:F0} MiB {(r.PeakCoversStepsOnly ? "during the updates" : "of the whole process")} (RSS before them {r.RssBeforeMb:F0} MiB); load average at the end {Bench.LoadAverage()}");
        if (!json) return;
        var obj = new JsonObject
        {
            ["tokens_per_s"] = Number(r.TokensPerSecond),
            ["achieved_gflops"] = Number(r.AchievedFlopsPerSecond / 1e9),
            ["gemm_gflops"] = Number(r.GemmFlopsPerSecond / 1e9),
            ["gemm_gflops_before"] = Number(r.GemmBefore.FlopsPerSecond / 1e9),
            ["gemm_gflops_after"] = Number(r.GemmAfter.FlopsPerSecond / 1e9),
            ["gemm_gflops_forward"] = Number(r.GemmClasses[0].Mix.FlopsPerSecond / 1e9),
            ["gemm_gflops_input_gradient"] = Number(r.GemmClasses[1].Mix.FlopsPerSecond / 1e9),
            ["gemm_gflops_weight_gradient"] = Number(r.GemmClasses[2].Mix.FlopsPerSecond / 1e9),
            ["gemm_gflops_lm_head"] = Number(r.GemmClasses[3].Mix.FlopsPerSecond / 1e9),
            ["cpu"] = Rlvr.Kernels.GemmPath.CpuModel(),
            ["efficiency"] = Number(r.Efficiency),
            ["cpu_efficiency"] = Number(r.CpuEfficiency),
            ["cpu_s"] = m.CpuSeconds,
            ["peak_rss_mb"] = r.PeakRssMb,
            ["rss_before_mb"] = r.RssBeforeMb,
            ["forward_s"] = m.Forward,
            ["backward_s"] = m.Backward,
            ["optimizer_s"] = m.Optimizer,
            ["step_s"] = m.Total,
            ["lm_head_forward_s"] = r.LmHeadForwardSeconds,
            ["lm_head_backward_s"] = r.LmHeadBackwardSeconds,
            ["counted_flop"] = r.CountedFlops,
            ["decoder_flop"] = r.DecoderFlops,
            ["lm_head_flop"] = r.LmHeadFlops,
            ["tokens"] = r.Tokens,
            ["response_tokens"] = r.ResponseTokens,
            ["padded_tokens"] = r.PaddedTokens,
            ["micro_batches"] = r.MicroBatches.Count,
            ["largest_micro_batch_tokens"] = (long)largest.Rows * largest.Length,
            ["parameters"] = r.Parameters,
            ["non_embedding_parameters"] = r.NonEmbeddingParameters,
            ["rollouts"] = o.Rollouts,
            ["prompt_tokens"] = o.PromptTokens,
            ["max_response_tokens"] = o.ResponseTokens,
            ["min_response_tokens"] = o.MinResponseTokens ?? o.ResponseTokens,
            ["micro_batch_tokens"] = o.MicroBatchTokens,
            ["grad_accum"] = o.GradAccum,
            ["gradient_checkpointing"] = o.GradientCheckpointing,
            ["optimizer_states"] = o.OptimizerStates.ToString(),
            ["lora_rank"] = o.Lora?.Rank ?? 0,
            ["trained_parameters"] = r.TrainedParameters,
            ["weights_dtype"] = loaded.Model.DType.ToString(),
            ["steps"] = r.Steps.Count,
            ["threads"] = r.Threads,
            ["model"] = loaded.Directory,
            ["load_average"] = Bench.LoadAverage(),
        };
        Console.WriteLine(obj.ToJsonString());
    }
}
