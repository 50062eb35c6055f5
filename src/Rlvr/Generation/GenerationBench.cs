using System.Diagnostics;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Generation;

/// <summary>
/// <c>rlvr bench generate</c>: the sampler's prefill and decode throughput on a batch of random prompts
/// (every sequence runs the full length: no stop tokens), and, in the same process, fp32 GEMM throughput
/// on the model's own weight matrices at the same row counts, which gives the efficiency: achieved model
/// FLOP/s over what the GEMMs alone reach. Random weights give the same timings as trained ones.
/// </summary>
public static class GenerationBench
{
    public sealed record Options
    {
        public int Batch { get; init; } = 64;
        public int PromptTokens { get; init; } = 128;
        public int NewTokens { get; init; } = 128;
        public ulong Seed { get; init; }
        /// <summary>Timed passes over all weight matrices for the GEMM reference (the fastest counts).</summary>
        public int GemmPasses { get; init; } = 3;
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
        /// <summary>fp32 GEMM FLOP/s on every weight matrix of the model with <see cref="Options.Batch"/> rows (one decode step's GEMMs).</summary>
        public required double DecodeGemmFlopsPerSecond { get; init; }
        /// <summary>The same with the prefill's rows per forward pass, decoder weights only.</summary>
        public required double PrefillGemmFlopsPerSecond { get; init; }
        public required long PrefillGemmRows { get; init; }
        public required double PeakRssMb { get; init; }

        public double DecodeTokensPerSecond => Stats.DecodeTokensPerSecond;
        public double PrefillTokensPerSecond => Stats.PrefillTokensPerSecond;
        public double DecodeEfficiency => DecodeTokensPerSecond * DecodeFlopsPerToken / DecodeGemmFlopsPerSecond;
        public double PrefillEfficiency => PrefillTokensPerSecond * PrefillFlopsPerToken / PrefillGemmFlopsPerSecond;
    }

    public static Result Run(LoadedModel model, Options o, IProgress<GenerationProgress>? progress = null)
    {
        if (o.Batch < 1 || o.PromptTokens < 1 || o.NewTokens < 1) throw new ArgumentException("batch, prompt tokens and new tokens must be positive");
        var config = model.Config;
        var random = new Random((int)o.Seed);
        var prompts = Enumerable.Range(0, o.Batch)
            .Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, o.PromptTokens).Select(_ => random.Next(config.VocabSize)).ToArray()).ToList();
        var sampler = new Sampler(model, maxBatch: o.Batch);
        var p = new SamplingParams { Temperature = 1.0, MaxNewTokens = o.NewTokens, StopTokenIds = [], Seed = o.Seed };
        sampler.Generate(prompts, 1, p, progress);
        var stats = sampler.LastStats!;

        // The prefill runs in chunks of whole prompts within the sampler's token budget.
        var prefix = o.PromptTokens - 1;
        var promptsPerChunk = prefix == 0 ? 1 : System.Math.Clamp(sampler.PrefillTokens / prefix, 1, o.Batch);
        var prefillRows = (long)promptsPerChunk * System.Math.Max(prefix, 1);
        var weights = LinearWeights(model.Model);
        var decoderWeights = weights.Where(w => !ReferenceEquals(w, model.Model.LmHeadWeight)).ToList();
        var decodeGemm = GemmFlopsPerSecond(weights, o.Batch, o.GemmPasses);
        var prefillGemm = GemmFlopsPerSecond(decoderWeights, prefillRows, o.GemmPasses);

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
            DecodeGemmFlopsPerSecond = decodeGemm,
            PrefillGemmFlopsPerSecond = prefillGemm,
            PrefillGemmRows = prefillRows,
            PeakRssMb = PeakRssMb(),
        };
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

    /// <summary>
    /// FLOP/s of y = x W^T (what nn.Linear runs) over all <paramref name="weights"/> in turn with
    /// <paramref name="rows"/> rows of input: the weights stream from memory as in the model's forward.
    /// </summary>
    static double GemmFlopsPerSecond(List<Tensor> weights, long rows, int passes)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var inputs = weights.Select(w => w.shape[1]).Distinct().ToDictionary(d => d, d => torch.randn(rows, d));
        var flops = weights.Sum(w => 2.0 * rows * w.shape[0] * w.shape[1]);
        var best = double.MaxValue;
        var clock = new Stopwatch();
        for (var pass = 0; pass <= passes; pass++)     // pass 0 warms up
        {
            clock.Restart();
            foreach (var w in weights)
                using (nn.functional.linear(inputs[w.shape[1]], w)) { }
            if (pass > 0) best = System.Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return flops / best;
    }

    /// <summary>Peak resident set of this process (VmHWM), in MB; 0 where /proc is missing.</summary>
    public static double PeakRssMb()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:"));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
    }
}
