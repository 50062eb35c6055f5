using Rlvr.Model;
using TorchSharp;

namespace Rlvr.Generation;

/// <summary>
/// The rollout engine: samples n completions per prompt from a Qwen2 model with a KV cache, batched.
///
/// How a call runs (see docs/generation.md): prompts are prefilled a chunk at a time (left-padded,
/// all but their last token) into a small prefix cache, once per prompt whatever n is; each of the
/// n samples then copies the prompt's keys/values into a free row of the main cache, which holds up
/// to <c>maxBatch</c> rows decoding one token per step. A finished row is refilled with the next
/// pending sample at once; with nothing left to start, finished rows are compacted away every few
/// steps, so they stop costing compute. Every random draw comes from the sequence's own stream
/// (seed, prompt, sample, step), so results do not depend on the batch size or the order of work.
///
/// Not thread-safe: one <see cref="Generate"/> at a time per sampler.
/// </summary>
public sealed class Sampler : IRolloutSource
{
    internal LoadedModel Model { get; }
    internal Func<IReadOnlyList<int>, string>? Decode { get; }
    internal int MaxBatch { get; }

    /// <summary>
    /// Padded prompt tokens per prefill forward pass (bounds the prefill's activation memory:
    /// about tokens x intermediate_size x 4 bytes x 3 for the MLP, 240 MB for Qwen2.5-0.5B at 4096).
    /// </summary>
    public int PrefillTokens { get; init; } = 4096;

    /// <summary>Timings and counts of the last <see cref="Generate"/> call.</summary>
    public GenerationStats? LastStats { get; internal set; }

    /// <param name="model">The policy; it is used under no_grad and not modified.</param>
    /// <param name="decode">Token ids to text (the tokenizer's, skipping special tokens): used for <see cref="Completion.Text"/> and stop strings; null = empty texts.</param>
    /// <param name="maxBatch">Rows decoded together (the main KV cache's batch).</param>
    public Sampler(LoadedModel model, Func<IReadOnlyList<int>, string>? decode = null, int maxBatch = 64)
    {
        if (maxBatch < 1) throw new ArgumentException($"maxBatch must be at least 1, got {maxBatch}");
        Model = model;
        Decode = decode;
        MaxBatch = maxBatch;
    }

    /// <summary>Bytes of the main KV cache that <see cref="Generate"/> allocates for these prompts (the largest allocation besides the model).</summary>
    public long CacheBytes(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams p)
    {
        if (prompts.Count == 0) return 0;
        var (rows, positions) = GenerationRun.CacheShape(prompts, n, p.MaxNewTokens, MaxBatch);
        return KvCache.BytesFor(Model.Config, rows, positions, Model.Model.DType);
    }

    /// <summary>
    /// n completions for every prompt (token ids, rendered upstream), ordered by (prompt, sample).
    /// Throws <see cref="ArgumentException"/> for an empty prompt, an id outside the vocabulary or bad parameters.
    /// </summary>
    public IReadOnlyList<Completion> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams p,
        IProgress<GenerationProgress>? progress = null)
    {
        if (n < 1) throw new ArgumentException($"n (samples per prompt) must be at least 1, got {n}");
        p.Validate();
        var vocab = Model.Config.VocabSize;
        for (var i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Count == 0) throw new ArgumentException($"prompt {i} is empty (it needs at least one token)");
            foreach (var id in prompts[i])
                if (id < 0 || id >= vocab) throw new ArgumentException($"prompt {i}: token id {id} is outside the vocabulary (0..{vocab - 1})");
        }
        var stopIds = p.StopTokenIds ?? Model.Generation.EosTokenIds;
        foreach (var id in stopIds)
            if (id < 0 || id >= vocab) throw new ArgumentException($"stop token id {id} is outside the vocabulary (0..{vocab - 1})");
        if (p.PromptSeeds is { } seeds && seeds.Count != prompts.Count)
            throw new ArgumentException($"{seeds.Count} prompt seeds for {prompts.Count} prompts (one per prompt)");
        if (p.StopStrings is { Count: > 0 } && Decode is null) throw new ArgumentException("stop strings need a decode function (the tokenizer)");
        if (prompts.Count == 0) return [];

        using var noGrad = torch.no_grad();
        using var kernel = Kernels.Gemm.ForSampling();
        using var bf16 = p.Bf16Weights && Kernels.GemmPath.UseKernel ? Model.Model.UseSamplingWeights(torch.ScalarType.BFloat16) : null;
        using var run = new GenerationRun(this, prompts, n, p, stopIds, progress);
        var completions = run.Execute();
        LastStats = run.Stats();
        return completions;
    }

    /// <summary>The sampler shares the trainer's weights: it always samples from the current policy.</summary>
    public void PolicyChanged(LoadedModel policy, int version) { }
}

/// <summary>Counts and timings of one <see cref="Sampler.Generate"/> call (wall-clock seconds per phase).</summary>
public sealed record GenerationStats
{
    public int Sequences { get; init; }
    /// <summary>Prompts whose prefix went through a prefill (n samples share one).</summary>
    public int PrefilledPrompts { get; init; }
    /// <summary>Real prompt tokens prefilled (each prompt's all-but-last token; the last is the first decode input).</summary>
    public long PrefilledTokens { get; init; }
    /// <summary>Prefill positions including left padding.</summary>
    public long PaddedPrefillTokens { get; init; }
    public long GeneratedTokens { get; init; }
    public int DecodeSteps { get; init; }
    /// <summary>Wall time of each decode step (forward and sampling), in order.</summary>
    public IReadOnlyList<double> StepSeconds { get; init; } = [];
    /// <summary>Rows computed summed over decode steps (generated tokens plus finished rows not yet compacted).</summary>
    public long DecodeRows { get; init; }
    public double PrefillSeconds { get; init; }
    /// <summary>Decode forward passes (decoder layers and LM head).</summary>
    public double ForwardSeconds { get; init; }
    /// <summary>Token draws, log-probs, and the host side (stop checks).</summary>
    public double SamplingSeconds { get; init; }
    /// <summary>Cache bookkeeping: refills, shifts and compactions.</summary>
    public double CacheSeconds { get; init; }
    public double TotalSeconds { get; init; }
    /// <summary>The main KV cache as allocated (rows x positions).</summary>
    public long CacheBytes { get; init; }
    public long CacheRows { get; init; }
    public long CachePositions { get; init; }
    /// <summary>The largest prompt-prefix cache held at once.</summary>
    public long PeakPrefixCacheBytes { get; init; }
    public int Shifts { get; init; }
    public int Compactions { get; init; }

    public double DecodeSeconds => ForwardSeconds + SamplingSeconds;
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? GeneratedTokens / DecodeSeconds : 0;
    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PrefilledTokens / PrefillSeconds : 0;
}
