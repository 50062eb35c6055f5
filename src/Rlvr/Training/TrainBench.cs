using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>
/// <c>rlvr bench train</c>: the policy update the trainer runs (<see cref="PolicyUpdate.Run"/>: decoder forward,
/// chunked LM-head log-probs, PPO loss, backward over token-budgeted micro-batches, clipping, AdamW) on random
/// rollouts of fixed lengths, with the time split, the peak resident set, and in the same run the fp32 GEMM
/// throughput of this machine on the model's own matrix shapes, which gives the efficiency.
/// </summary>
/// <remarks>
/// What is counted as work (<see cref="Result.CountedFlops"/>): 6 x non-embedding parameters per token
/// (forward 2, backward 4; biases and norms included, they are 0.03 % of them) plus 6 x hidden x vocab per
/// response token for the LM head, which runs only where a response token is predicted. Not counted:
/// attention scores (QK^T and AV, about 4 % more at 700 tokens for Qwen2.5-0.5B), the LM head's recomputed
/// logits in backward (the fused log-probs keep no logits), and the recomputed layers of gradient
/// checkpointing: that work is overhead and shows as lower efficiency.
/// </remarks>
public static class TrainBench
{
    public sealed record Options
    {
        public int Rollouts { get; init; } = 64;
        public int PromptTokens { get; init; } = 200;
        /// <summary>The longest response (the max-new-tokens limit); by default every response has this length, the worst case.</summary>
        public int ResponseTokens { get; init; } = 512;
        /// <summary>When set, response lengths are drawn uniformly from [this, <see cref="ResponseTokens"/>], so micro-batches hold padding.</summary>
        public int? MinResponseTokens { get; init; }
        public int MicroBatchTokens { get; init; } = 16384;
        public int GradAccum { get; init; } = 2;
        public bool GradientCheckpointing { get; init; }
        public int Steps { get; init; } = 1;
        public int Seed { get; init; }
        /// <summary>How AdamW keeps its moments.</summary>
        public MomentPrecision OptimizerStates { get; init; } = MomentPrecision.Float32;
        /// <summary>LoRA adapters to add and train (the base frozen); null = full fine-tuning.</summary>
        public LoraOptions? Lora { get; init; }
        /// <summary>Most rows of the decoder GEMMs timed for the reference (fp32 GEMM throughput is flat above a few thousand rows).</summary>
        public int GemmRows { get; init; } = 4096;
    }

    /// <summary>Seconds of one policy update, as <see cref="PolicyUpdate"/> splits them.</summary>
    /// <param name="Forward">Micro-batch tensors, decoder forward, LM-head log-probs and loss.</param>
    /// <param name="Backward">Backward through all of it (checkpointed layers recomputed here).</param>
    /// <param name="Optimizer">Gradient norm, clipping and the AdamW update.</param>
    /// <param name="CpuSeconds">Process CPU seconds (all threads) of the whole update.</param>
    public sealed record StepTiming(double Forward, double Backward, double Optimizer, double CpuSeconds, double Loss, double GradNorm)
    {
        public double ForwardBackward => Forward + Backward;
        public double Total => Forward + Backward + Optimizer;
        /// <summary>CPU seconds of forward and backward, taking the optimizer's share of the CPU time to be its share of the wall-clock time.</summary>
        public double ForwardBackwardCpuSeconds => CpuSeconds * ForwardBackward / Total;
    }

    public sealed record Result
    {
        public required Options Options { get; init; }
        public required int Threads { get; init; }
        public required long Parameters { get; init; }
        /// <summary>Parameters the optimizer updates (the adapters' with LoRA).</summary>
        public required long TrainedParameters { get; init; }
        /// <summary>All parameters but the embedding table and the LM head.</summary>
        public required long NonEmbeddingParameters { get; init; }
        /// <summary>Prompt + response tokens of one update.</summary>
        public required long Tokens { get; init; }
        public required long ResponseTokens { get; init; }
        /// <summary>(rows, padded length) of each forward/backward micro-batch of one update, in order.</summary>
        public required IReadOnlyList<(int Rows, int Length)> MicroBatches { get; init; }
        /// <summary>6 x non-embedding parameters x tokens.</summary>
        public required double DecoderFlops { get; init; }
        /// <summary>6 x hidden x vocab x response tokens.</summary>
        public required double LmHeadFlops { get; init; }
        public required IReadOnlyList<StepTiming> Steps { get; init; }
        /// <summary>The step's GEMMs at GEMM speed, timed before the steps and after them.</summary>
        public required GemmMix GemmBefore { get; init; }
        public required GemmMix GemmAfter { get; init; }
        /// <summary>The "before" timing by shape class (<see cref="GemmClassNames"/>).</summary>
        public required IReadOnlyList<(string Name, GemmMix Mix)> GemmClasses { get; init; }
        public required long GemmRows { get; init; }
        public required long LmHeadRows { get; init; }
        /// <summary>The LM head's share of a step (forward, backward) estimated from timing one chunk of rows.</summary>
        public required double LmHeadForwardSeconds { get; init; }
        public required double LmHeadBackwardSeconds { get; init; }
        /// <summary>Resident set right before the steps (weights, gradients, AdamW moments), and the peak during them.</summary>
        public required double RssBeforeMb { get; init; }
        public required double PeakRssMb { get; init; }
        /// <summary>False when the peak could not be reset before the steps: it then covers the whole process.</summary>
        public required bool PeakCoversStepsOnly { get; init; }

        public double CountedFlops => DecoderFlops + LmHeadFlops;
        /// <summary>Tokens the decoder runs on, padding included.</summary>
        public long PaddedTokens => MicroBatches.Sum(m => (long)m.Rows * m.Length);
        /// <summary>Mean over the measured steps.</summary>
        public StepTiming Mean => new(Steps.Average(s => s.Forward), Steps.Average(s => s.Backward), Steps.Average(s => s.Optimizer),
            Steps.Average(s => s.CpuSeconds), Steps.Average(s => s.Loss), Steps.Average(s => s.GradNorm));
        public double TokensPerSecond => Tokens / Mean.ForwardBackward;
        public double AchievedFlopsPerSecond => CountedFlops / Mean.ForwardBackward;
        public double GemmFlopsPerSecond => (GemmBefore.Flops + GemmAfter.Flops) / (GemmBefore.Seconds + GemmAfter.Seconds);
        /// <summary>Achieved forward+backward FLOP/s over the GEMM FLOP/s of the same work.</summary>
        public double Efficiency => AchievedFlopsPerSecond / GemmFlopsPerSecond;
        /// <summary>The same ratio in FLOPs per CPU second: on a loaded machine it depends less on what the other processes did
        /// during the steps and during the GEMM timings (threads spinning while they wait for each other still count).</summary>
        public double CpuEfficiency => CountedFlops / Mean.ForwardBackwardCpuSeconds
            / ((GemmBefore.Flops + GemmAfter.Flops) / (GemmBefore.CpuSeconds + GemmAfter.CpuSeconds));
    }

    public static Result Run(LoadedModel policy, Options o, Action<string>? log = null)
    {
        if (o.Rollouts < 1 || o.PromptTokens < 1 || o.ResponseTokens < 1 || o.GradAccum < 1 || o.Steps < 1 || o.GemmRows < 1)
            throw new ArgumentException("rollouts, prompt tokens, response tokens, grad-accum, steps and GEMM rows must be positive");
        if (o.MicroBatchTokens < 0) throw new ArgumentException("micro-batch tokens must be 0 (no limit) or positive");
        if (o.MinResponseTokens is { } min && (min < 1 || min > o.ResponseTokens))
            throw new ArgumentException("the shortest response must be between 1 and the longest");
        var model = policy.Model;
        var config = policy.Config;
        model.GradientCheckpointing = o.GradientCheckpointing;
        var rollouts = RandomRollouts(o.Rollouts, o.PromptTokens, o.MinResponseTokens ?? o.ResponseTokens, o.ResponseTokens, config.VocabSize, o.Seed);
        var schedule = new UpdateSchedule(GradAccum: o.GradAccum, MicroBatchTokens: o.MicroBatchTokens, MaxResponseLength: o.ResponseTokens);
        if (o.Lora is { } lora) model.AddAdapters(lora, o.Seed);
        var optimizer = new AdamW(model.TrainedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(), 0.9, 0.95, 1e-8, 0.01, o.OptimizerStates);
        var update = new PolicyUpdate(policy, optimizer, new PolicyLossOptions(), schedule);
        const double lr = 1e-6;

        var microBatches = PolicyUpdate.MicroBatches(rollouts, schedule).ToList();
        var micro = microBatches.Select(m => (Rows: m.Count, Length: m.Max(r => r.PromptIds.Length + r.CompletionIds.Length))).ToList();
        long tokens = rollouts.Sum(r => (long)r.PromptIds.Length + r.CompletionIds.Length);
        long responseTokens = rollouts.Sum(r => (long)r.CompletionIds.Length);
        long gemmRows = System.Math.Min(o.GemmRows, micro.Max(m => (long)m.Rows * m.Length));
        long lmHeadRows = System.Math.Min(TokenLogProbs.DefaultChunkRows, microBatches.Max(m => (long)m.Count * m.Max(r => r.CompletionIds.Length)));
        var mix = StepGemms(model, tokens, responseTokens, gemmRows, lmHeadRows);

        log?.Invoke($"timing the step's GEMMs ({gemmRows} decoder rows, {lmHeadRows} LM-head rows)");
        // By shape class, so that a slow kind of product shows: the decoder's three products of each linear layer, the LM head's.
        var classes = GemmClassNames.Select((name, i) => (name, Bench.TimeGemms(mix.Where((_, j) => GemmClass(j, mix.Count) == i)))).ToList();
        var gemmBefore = new GemmMix(classes.Sum(c => c.Item2.Flops), classes.Sum(c => c.Item2.Seconds), classes.Sum(c => c.Item2.CpuSeconds));
        log?.Invoke("timing one chunk of the LM head's log-probs");
        var (lmForward, lmBackward) = TimeLmHead(model, lmHeadRows, config.VocabSize);
        // Two updates first, as in every update after a run's first: one on a short rollout makes the gradients and the
        // AdamW moments, then one on the largest micro-batch leaves the allocator with the free memory the step reuses
        // (NativeRuntime; the first has its activations' memory taken by the moments).
        log?.Invoke("warm-up updates on one short rollout and on the largest micro-batch");
        var shortest = System.Math.Min(8, o.ResponseTokens);
        update.Run(RandomRollouts(1, System.Math.Min(8, o.PromptTokens), shortest, shortest, config.VocabSize, o.Seed + 1), lr);
        var largest = microBatches[micro.IndexOf(micro.MaxBy(m => m.Rows * m.Length))];
        new PolicyUpdate(policy, optimizer, new PolicyLossOptions(), schedule with { GradAccum = 1 }).Run(largest, lr);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        bool reset = Bench.ResetPeakRss();
        double rssBefore = Bench.RssMb();
        var steps = new List<StepTiming>();
        for (int s = 1; s <= o.Steps; s++)
        {
            log?.Invoke($"update {s}/{o.Steps}: {micro.Count} micro-batches");
            var cpu = Bench.CpuSeconds();
            var kernel = Bench.KernelCounters();
            var r = update.Run(rollouts, lr);
            cpu = Bench.CpuSeconds() - cpu;
            var kernelAfter = Bench.KernelCounters();
            if (r.OptimizerSteps != 1) throw new InvalidOperationException($"update {s} skipped its optimizer step (non-finite loss or gradient norm)");
            steps.Add(new StepTiming(r.ForwardSeconds, r.BackwardSeconds, r.OptimizerSeconds, cpu, r.Loss, r.GradNorm));
            log?.Invoke($"update {s}/{o.Steps}: forward {r.ForwardSeconds:F1} s, backward {r.BackwardSeconds:F1} s, optimizer {r.OptimizerSeconds:F1} s; {cpu:F1} CPU s, "
                + $"{kernelAfter.SystemSeconds - kernel.SystemSeconds:F1} of them in the kernel; {kernelAfter.PageFaults - kernel.PageFaults:N0} page faults");
        }
        double peak = Bench.PeakRssMb();
        log?.Invoke("timing the step's GEMMs again");
        var gemmAfter = Bench.TimeGemms(mix);

        double perResponseRow = responseTokens / (double)lmHeadRows;
        return new Result
        {
            Options = o,
            Threads = get_num_threads(),
            Parameters = model.NamedParameters().Sum(p => p.Parameter.numel()),
            TrainedParameters = model.TrainedParameters().Sum(p => p.Parameter.numel()),
            NonEmbeddingParameters = NonEmbeddingParameters(model),
            Tokens = tokens,
            ResponseTokens = responseTokens,
            MicroBatches = micro,
            DecoderFlops = 6.0 * NonEmbeddingParameters(model) * tokens,
            LmHeadFlops = 6.0 * config.HiddenSize * config.VocabSize * responseTokens,
            Steps = steps,
            GemmBefore = gemmBefore,
            GemmClasses = classes,
            GemmAfter = gemmAfter,
            GemmRows = gemmRows,
            LmHeadRows = lmHeadRows,
            LmHeadForwardSeconds = lmForward * perResponseRow,
            LmHeadBackwardSeconds = lmBackward * perResponseRow,
            RssBeforeMb = rssBefore,
            PeakRssMb = peak,
            PeakCoversStepsOnly = reset,
        };
    }

    /// <summary>
    /// Rollouts of random token ids (timings do not depend on the ids) with response lengths uniform in
    /// [<paramref name="minResponseTokens"/>, <paramref name="maxResponseTokens"/>], advantages alternating +1 / -1, and
    /// sampler log-probs of a uniform policy (-ln vocab): about what a random model gives.
    /// </summary>
    public static List<Rollout> RandomRollouts(int count, int promptTokens, int minResponseTokens, int maxResponseTokens, int vocab, int seed)
    {
        var random = new Random(seed);
        int[] Ids(int n) => Enumerable.Range(0, n).Select(_ => random.Next(vocab)).ToArray();
        var uniform = (float)-System.Math.Log(vocab);
        return Enumerable.Range(0, count).Select(i =>
        {
            int length = random.Next(minResponseTokens, maxResponseTokens + 1);
            return new Rollout(Ids(promptTokens), Ids(length), Enumerable.Repeat(uniform, length).ToArray(), i % 2 == 0 ? 1f : -1f);
        }).ToList();
    }

    /// <summary>All parameters except the token embedding and the LM head (the same matrix when tied).</summary>
    public static long NonEmbeddingParameters(Qwen2ForCausalLM model) =>
        model.NamedParameters().Where(p => p.Name is not ("model.embed_tokens.weight" or "lm_head.weight")).Sum(p => p.Parameter.numel());

    /// <summary>The shape classes of <see cref="StepGemms"/>'s products, as bench train prints them.</summary>
    public static readonly string[] GemmClassNames = ["forward x W^T", "input gradient dY W", "weight gradient dY^T x", "LM head (all three)"];

    /// <summary>The class of the j-th product of <see cref="StepGemms"/>: the last three are the LM head's, the others
    /// cycle through a linear layer's forward, input gradient and weight gradient.</summary>
    static int GemmClass(int j, int count) => j >= count - 3 ? 3 : j % 3;

    /// <summary>
    /// The GEMMs of one update's counted work: the three products (forward, input and weight gradient) of every
    /// decoder matrix over <paramref name="tokens"/> rows, timed at <paramref name="gemmRows"/> rows and weighted to
    /// the step, and the LM head's three over the response tokens, timed at one chunk of <paramref name="lmHeadRows"/>.
    /// </summary>
    static List<(GemmShape, double)> StepGemms(Qwen2ForCausalLM model, long tokens, long responseTokens, long gemmRows, long lmHeadRows)
    {
        // Every layer has the same shapes: time one layer's and count them once per layer.
        var layerWeights = model.NamedParameters().Where(p => p.Name.StartsWith("model.layers.0.") && p.Parameter.dim() == 2).ToList();
        double layerCount = model.Config.NumHiddenLayers * (double)tokens / gemmRows;
        var mix = layerWeights
            .SelectMany(w => GemmShape.LinearTraining(gemmRows, w.Parameter.shape[1], w.Parameter.shape[0]))
            .Select(s => (s, layerCount)).ToList();
        var head = model.LmHeadWeight;
        mix.AddRange(GemmShape.LinearTraining(lmHeadRows, head.shape[1], head.shape[0]).Select(s => (s, responseTokens / (double)lmHeadRows)));
        return mix;
    }

    /// <summary>Seconds of the fused log-probs' forward and backward on one chunk of rows, with the model's LM-head weight
    /// (detached, so the model's gradients are untouched).</summary>
    static (double Forward, double Backward) TimeLmHead(Qwen2ForCausalLM model, long rows, int vocab)
    {
        using var scope = NewDisposeScope();
        var weight = model.LmHeadWeight.detach().requires_grad_();
        var hidden = randn(rows, weight.shape[1], weight.dtype, weight.device).requires_grad_();
        var targets = randint(0, vocab, [rows], device: weight.device);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var logProbs = TokenLogProbs.Compute(hidden, weight, targets).LogProbs;
        double forward = clock.Elapsed.TotalSeconds;
        clock.Restart();
        logProbs.sum().backward();
        return (forward, clock.Elapsed.TotalSeconds);
    }
}
