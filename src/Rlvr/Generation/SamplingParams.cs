namespace Rlvr.Generation;

/// <summary>
/// How completions are sampled. Processing order (HuggingFace's and vLLM's): stop tokens are banned
/// until <see cref="MinNewTokens"/>, logits are divided by <see cref="Temperature"/>, the
/// <see cref="TopK"/> most likely tokens are kept, then the smallest set of the most likely of those
/// whose probability (renormalised over the top-k) reaches <see cref="TopP"/>; one token is drawn
/// from what is left.
/// </summary>
public sealed record SamplingParams
{
    /// <summary>Divides the logits; 0 = greedy (argmax; top-k/top-p are then irrelevant).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose mass reaches this; 1 = off.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens; 0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>A completion ends with finish reason <see cref="FinishReason.Length"/> after this many tokens.</summary>
    public int MaxNewTokens { get; init; } = 512;
    /// <summary>Stop tokens (and stop strings) cannot end a completion before it has this many tokens.</summary>
    public int MinNewTokens { get; init; }
    /// <summary>Tokens that end a completion (and are kept as its last id); null = the model's generation_config eos ids.</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }
    /// <summary>Strings that end a completion once its decoded text contains them (needs a decode function).</summary>
    public IReadOnlyList<string>? StopStrings { get; init; }
    /// <summary>With the prompt and sample index, determines every random draw of a completion.</summary>
    public ulong Seed { get; init; }
    /// <summary>One seed per prompt, replacing <see cref="Seed"/>: prompt i's samples draw as prompt 0 under PromptSeeds[i]
    /// would (so requests with their own seeds can share one batch, as in <c>rlvr serve</c>); null = <see cref="Seed"/>.</summary>
    public IReadOnlyList<ulong>? PromptSeeds { get; init; }

    /// <summary>
    /// Decode with a bf16 copy of the weights (made when the call starts, fp32 accumulation) where rlvr's kernel runs the
    /// products (<see cref="Kernels.GemmPath"/>): half the bytes per token, which is what limits small batches on a CPU.
    /// The prefill keeps fp32. Sampling log-probs then differ slightly from the fp32 model's (bench generate measures it).
    /// </summary>
    public bool Bf16Weights { get; init; }

    public bool IsGreedy => Temperature == 0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad parameter.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be a finite number >= 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1], got {TopP}");
        if (TopK < 0) throw new ArgumentException($"top_k must be >= 0 (0 = off), got {TopK}");
        if (MaxNewTokens < 1) throw new ArgumentException($"max_new_tokens must be at least 1, got {MaxNewTokens}");
        if (MinNewTokens < 0 || MinNewTokens > MaxNewTokens)
            throw new ArgumentException($"min_new_tokens must be in [0, max_new_tokens = {MaxNewTokens}], got {MinNewTokens}");
        if (StopStrings?.Any(string.IsNullOrEmpty) == true) throw new ArgumentException("stop strings must not be empty");
    }
}

public enum FinishReason
{
    /// <summary>A stop token was sampled (it is the last id) or a stop string appeared.</summary>
    Stop,
    /// <summary>MaxNewTokens reached.</summary>
    Length,
}

public static class FinishReasons
{
    /// <summary>The name in JSON outputs (generate, samples files): "stop" or "length".</summary>
    public static string JsonName(this FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";
}

/// <summary>
/// One sampled completion of prompt <paramref name="PromptIndex"/> (sample <paramref name="SampleIndex"/> of n).
/// <paramref name="TokenIds"/> are exactly the sampled ids, a stop token included.
/// <paramref name="LogProbs"/>[i] = log p(TokenIds[i]) under the model at temperature 1 (what <c>rlvr logprobs</c>
/// computes; the trainer uses <see cref="PolicyLogProbs"/>); <paramref name="SamplingLogProbs"/>[i] = its log-probability under the distribution it
/// was drawn from (after min-tokens, temperature, top-k, top-p; 0 when greedy).
/// <paramref name="Text"/>: the decoded ids without a final stop token, cut before a stop string; empty without a decoder.
/// </summary>
public sealed record Completion(int PromptIndex, int SampleIndex, int[] TokenIds, float[] LogProbs, float[] SamplingLogProbs,
    string Text, FinishReason FinishReason)
{
    /// <summary>[i] = log p(TokenIds[i]) under softmax(logits / temperature) over the whole vocabulary, before top-k/top-p
    /// (and min-tokens): the policy the trainer optimises (docs/objectives.md). Equal to <see cref="SamplingLogProbs"/>
    /// without top-k/top-p; null from a source that does not report it, where the trainer uses <see cref="SamplingLogProbs"/>.</summary>
    public float[]? TemperedLogProbs { get; init; }

    /// <summary>The log-probs the trainer's ratio compares with: <see cref="TemperedLogProbs"/>, else <see cref="SamplingLogProbs"/>.</summary>
    public float[] PolicyLogProbs => TemperedLogProbs ?? SamplingLogProbs;
}
