using System.Diagnostics;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Generation;

/// <summary>
/// <c>rlvr bench generate</c>: the sampler's prefill and decode throughput on a batch of random prompts
/// (every sequence runs the full length: no stop tokens), and, in the same run, fp32 GEMM throughput on
/// the model's own weight matrices at the same row counts, which gives the efficiency: achieved model
/// FLOP/s over what the GEMMs alone reach. Random weights time like trained ones, except that top-p would
/// see flat distributions (the bench samples at temperature 1 without top-k/top-p, as RL does).
/// </summary>
public static class GenerationBench
{
    public sealed record Options
    {
        public int Batch { get; init; } = 64;
        public int PromptTokens { get; init; } = 128;
        public int NewTokens { get; init; } = 128;
        public ulong Seed { get; init; }
        /// <summary>Decode with bf16 copies of the weights (<see cref="SamplingParams.Bf16Weights"/>).</summary>
        public bool Bf16Weights { get; init; }
        /// <summary>Decode-shaped GEMM passes after the run, besides the ones in between decode steps.</summary>
        public int GemmPasses { get; init; } = 2;
    }

    public sealed record Result
    {
        public required Options Options { get; init; }
        public required GenerationStats Stats { get; init; }
        public required int Threads { get; init; }
        /// <summary>Model FLOPs per generated token: 2 x linear weights (LM head included) + attention at the mean decode context.</summary>
        public required double DecodeFlopsPerToken { get; init; }
        /// <summary>Model FLOPs per prefilled token: 2 x decoder linear weights (no LM head in the prefill) + attention at the mean prompt context.</summary>
        public required double PrefillFlopsPerToken { get; init; }
        /// <summary>
        /// fp32 GEMM FLOP/s on every weight matrix of the model with <see cref="Options.Batch"/> rows (one decode
        /// step's GEMMs), over passes timed in between decode steps (total FLOPs / total time).
        /// </summary>
        public required double DecodeGemmFlopsPerSecond { get; init; }
        /// <summary>The fastest of those passes: closest to what the machine does unloaded.</summary>
        public required double BestDecodeGemmFlopsPerSecond { get; init; }
        public required int DecodeGemmPasses { get; init; }
        /// <summary>The same with the prefill's rows per forward pass, on two layers' matrices, timed after each prefill chunk.</summary>
        public required double PrefillGemmFlopsPerSecond { get; init; }
        public required long PrefillGemmRows { get; init; }
        /// <summary>The kernel and MKL timed on one decode-shaped product (<see cref="Kernels.GemmPath.Compare"/>): FLOP/s each,
        /// and their results' largest difference relative to the largest output; zeros where the kernel cannot run.</summary>
        public required (double KernelFlops, double MklFlops, double RelativeDifference) DecodePaths { get; init; }
        /// <summary>Rows of that product: the batch, at most <see cref="Kernels.Gemm.MaxRows"/>.</summary>
        public required long DecodePathRows { get; init; }
        /// <summary>The sampler's log-probs of its tokens against the fp32 model's teacher-forced scoring: the mean and largest
        /// absolute difference per token over the first few sequences.</summary>
        public required (double Mean, double Max) LogProbDifference { get; init; }
        public required double PeakRssMb { get; init; }
        /// <summary>Resident set when the bench started (the model loaded, nothing generated yet).</summary>
        public required double RssBeforeMb { get; init; }

        public double DecodeTokensPerSecond => Stats.DecodeTokensPerSecond;
        public double PrefillTokensPerSecond => Stats.PrefillTokensPerSecond;
        public double DecodeEfficiency => DecodeTokensPerSecond * DecodeFlopsPerToken / DecodeGemmFlopsPerSecond;
        /// <summary>
        /// The fastest decode step's model FLOP/s over the fastest GEMM pass: the least disturbed moments of
        /// each, an estimate of the efficiency on an unloaded machine (on a shared one the mean-based
        /// <see cref="DecodeEfficiency"/> mostly measures the neighbours).
        /// </summary>
        public required double BestStepEfficiency { get; init; }
        public double PrefillEfficiency => PrefillTokensPerSecond * PrefillFlopsPerToken / PrefillGemmFlopsPerSecond;
    }

    public static Result Run(LoadedModel model, Options o, IProgress<GenerationProgress>? progress = null)
    {
        if (o.Batch < 1 || o.PromptTokens < 1 || o.NewTokens < 1) throw new ArgumentException("batch, prompt tokens and new tokens must be positive");
        var rssBefore = Bench.RssMb();
        var config = model.Config;
        var random = new Random((int)o.Seed);
        var prompts = Enumerable.Range(0, o.Batch)
            .Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, o.PromptTokens).Select(_ => random.Next(config.VocabSize)).ToArray()).ToList();
        var sampler = new Sampler(model, maxBatch: o.Batch);

        // The prefill runs in chunks of whole prompts within the sampler's token budget.
        var prefix = o.PromptTokens - 1;
        var promptsPerChunk = prefix == 0 ? 1 : System.Math.Clamp(sampler.PrefillTokens / prefix, 1, o.Batch);
        var prefillRows = (long)promptsPerChunk * System.Math.Max(prefix, 1);
        var weights = LinearWeights(model.Model);
        var decoderWeights = weights.Where(w => !ReferenceEquals(w, model.Model.LmHeadWeight)).ToList();
        // The prefill reference needs only the shapes (it is compute-bound): the matrices of two layers.
        var perLayer = decoderWeights.Count / config.NumHiddenLayers;
        var probe = new GemmProbe(weights, o.Batch, decoderWeights.Take(System.Math.Min(2, config.NumHiddenLayers) * perLayer).ToList(), prefillRows, progress);
        probe.Warm();

        var p = new SamplingParams { Temperature = 1.0, MaxNewTokens = o.NewTokens, StopTokenIds = [], Seed = o.Seed, Bf16Weights = o.Bf16Weights };
        var completions = sampler.Generate(prompts, 1, p, probe);
        var stats = sampler.LastStats!;
        var logProbDifference = AgainstFp32Scoring(model.Model, prompts, completions);
        for (var pass = 0; pass < o.GemmPasses; pass++) probe.Measure(decode: true);

        long decodePathRows = System.Math.Min(o.Batch, Kernels.Gemm.MaxRows);
        double linear = weights.Sum(w => (double)w.numel()), decoderLinear = decoderWeights.Sum(w => (double)w.numel());
        double attentionPerKey = 4.0 * config.NumHiddenLayers * config.NumAttentionHeads * config.HeadDim;   // QK^T and AV
        var decodeContext = o.PromptTokens + (o.NewTokens - 1) / 2.0;
        var prefillContext = (prefix + 1) / 2.0;
        return new Result
        {
            Options = o,
            Stats = stats,
            Threads = torch.get_num_threads(),
            DecodeFlopsPerToken = 2 * linear + attentionPerKey * decodeContext,
            PrefillFlopsPerToken = 2 * decoderLinear + attentionPerKey * prefillContext,
            DecodeGemmFlopsPerSecond = probe.Decode.FlopsPerSecond,
            PrefillGemmFlopsPerSecond = probe.Prefill.FlopsPerSecond,
            BestDecodeGemmFlopsPerSecond = probe.Decode.BestFlopsPerSecond,
            DecodeGemmPasses = probe.Decode.Passes,
            PrefillGemmRows = prefillRows,
            BestStepEfficiency = BestStepFlopsPerSecond(stats, o, 2 * linear, attentionPerKey) / probe.Decode.BestFlopsPerSecond,
            LogProbDifference = logProbDifference,
            DecodePaths = Kernels.GemmPath.Compare(decodePathRows, config.HiddenSize, config.IntermediateSize),
            DecodePathRows = decodePathRows,
            PeakRssMb = Bench.PeakRssMb(),
            RssBeforeMb = rssBefore,
        };
    }

    /// <summary>How far the sampler's log-probs of its tokens are from the fp32 model's, scored teacher-forced by libtorch
    /// as the trainer does (on the first few sequences): mean and largest absolute difference per token.</summary>
    static (double Mean, double Max) AgainstFp32Scoring(Qwen2ForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<Completion> completions)
    {
        var scored = completions.Take(ScoredSequences).ToList();
        var sequences = scored.Select(c => prompts[c.PromptIndex].Concat(c.TokenIds).ToArray()).ToList();
        var reference = SequenceLogProbs.Compute(model, sequences);
        var differences = scored.SelectMany((c, i) => c.LogProbs.Select((lp, t) => System.Math.Abs(lp - reference[i][reference[i].Length - c.LogProbs.Length + t])))
            .Select(d => (double)d).ToList();
        return (differences.Average(), differences.Max());
    }

    /// <summary>Sequences scored by <see cref="AgainstFp32Scoring"/>.</summary>
    public const int ScoredSequences = 4;

    /// <summary>Model FLOP/s of the fastest decode step: step k has every row attend to prompt + k keys.</summary>
    static double BestStepFlopsPerSecond(GenerationStats stats, Options o, double linearFlops, double attentionPerKey) =>
        stats.StepSeconds.Select((seconds, k) => o.Batch * (linearFlops + attentionPerKey * (o.PromptTokens + k)) / seconds).Max();

    /// <summary>
    /// Times GEMM passes in between the sampler's work (it is the progress callback, called outside the
    /// sampler's timed phases): one prefill-shaped pass after each prefill chunk, one decode-shaped pass every
    /// few decode steps. On a shared machine the load then weighs on both sides of the efficiency alike.
    /// </summary>
    sealed class GemmProbe(List<Tensor> decodeWeights, long decodeRows, List<Tensor> prefillWeights, long prefillRows,
        IProgress<GenerationProgress>? inner) : IProgress<GenerationProgress>
    {
        const int DecodeStepsPerPass = 4;
        long lastPrefilled, lastGenerated;
        int steps;

        public GemmTimer Decode { get; } = new(decodeWeights, decodeRows);
        public GemmTimer Prefill { get; } = new(prefillWeights, prefillRows);

        /// <summary>One untimed pass of each shape (first-call allocations, page faults).</summary>
        public void Warm()
        {
            Decode.Run();
            Prefill.Run();
        }

        public void Measure(bool decode) => (decode ? Decode : Prefill).Measure();

        public void Report(GenerationProgress value)
        {
            inner?.Report(value);
            if (value.PrefilledTokens > lastPrefilled) Prefill.Measure();
            else if (value.GeneratedTokens > lastGenerated && ++steps % DecodeStepsPerPass == 0) Decode.Measure();
            (lastPrefilled, lastGenerated) = (value.PrefilledTokens, value.GeneratedTokens);
        }
    }

    /// <summary>
    /// y = x W^T (what nn.Linear runs) over all the weights in turn with a fixed number of input rows: the
    /// weights stream from memory as in the model's forward. Accumulates FLOPs and seconds over passes.
    /// </summary>
    sealed class GemmTimer(List<Tensor> weights, long rows)
    {
        readonly double flopsPerPass = weights.Sum(w => 2.0 * rows * w.shape[0] * w.shape[1]);
        double seconds, best = double.MaxValue;

        public int Passes { get; private set; }
        public double FlopsPerSecond => Passes * flopsPerPass / seconds;
        public double BestFlopsPerSecond => flopsPerPass / best;

        public void Measure()
        {
            var clock = Stopwatch.StartNew();
            Run();
            var elapsed = clock.Elapsed.TotalSeconds;
            seconds += elapsed;
            best = System.Math.Min(best, elapsed);
            Passes++;
        }

        public void Run()
        {
            using var noGrad = torch.no_grad();
            using var sampling = Kernels.Gemm.ForSampling();
            using var scope = torch.NewDisposeScope();
            var inputs = new Dictionary<long, Tensor>();
            foreach (var w in weights)
            {
                var width = w.shape[1];
                if (!inputs.TryGetValue(width, out var x)) inputs[width] = x = torch.randn(rows, width, w.dtype, w.device);
                Kernels.Gemm.Forward(x, w).Dispose();   // the path the model's products take
            }
        }
    }

    /// <summary>Every weight matrix a forward pass multiplies by, in layer order, the LM head last (the embedding when tied).</summary>
    static List<Tensor> LinearWeights(Qwen2ForCausalLM model)
    {
        var list = model.NamedParameters()
            .Where(x => x.Parameter.dim() == 2 && x.Name.StartsWith("model.layers."))
            .Select(x => (Tensor)x.Parameter).ToList();
        list.Add(model.LmHeadWeight);
        return list;
    }

}
