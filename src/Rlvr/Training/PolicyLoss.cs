using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>What happens to the samples an objective does not use (e.g. incorrect samples under PSR).</summary>
public enum UnusedSamples
{
    /// <summary>Removed from the loss batch (the small reference).</summary>
    Drop,
    /// <summary>Kept with advantage 0: no gradient, but their tokens count in token-mean's denominator (the paper's verl code).</summary>
    Mask,
}

/// <summary>How per-token losses [N, T] become one scalar.</summary>
public enum LossAggregation
{
    /// <summary>Sum over every response token of the optimizer batch / number of those tokens (verl's default, the paper).</summary>
    TokenMean,
    /// <summary>Mean over sequences of each sequence's mean token loss (the small reference).</summary>
    SeqMeanTokenMean,
    /// <summary>Sum of token losses / (sequences x a constant max response length) (Dr. GRPO).</summary>
    SeqMeanTokenSumNorm,
}

/// <summary>
/// The denominators of <see cref="PolicyLoss.Aggregate"/>, counted over the whole optimizer batch. With
/// gradient accumulation every micro-batch is aggregated with the same normalization, so the micro-batch
/// losses add up to (and their gradients accumulate to) the loss of one big batch.
/// </summary>
/// <param name="Tokens">Response tokens (mask ones) in the optimizer batch: token-mean's denominator.</param>
/// <param name="Sequences">Sequences (rows) in the optimizer batch.</param>
/// <param name="MaxResponseLength">The constant length of seq-mean-token-sum-norm (max new tokens).</param>
public sealed record LossNormalization(long Tokens, long Sequences, long MaxResponseLength)
{
    /// <summary>Counts the tokens and rows of the masks of all micro-batches of one optimizer batch.</summary>
    public static LossNormalization Of(IEnumerable<Tensor> masks, long maxResponseLength)
    {
        long tokens = 0, sequences = 0;
        foreach (var mask in masks)
        {
            PolicyLoss.RequireRank(mask, 2, "mask");
            using var count = mask.to_type(ScalarType.Int64).sum();
            tokens += count.item<long>();
            sequences += mask.shape[0];
        }
        return new(tokens, sequences, maxResponseLength);
    }
}

/// <summary>Options of the policy-gradient loss.</summary>
/// <param name="Clip">PPO's epsilon: the importance ratio is clipped to [1 - Clip, 1 + Clip].</param>
/// <param name="KlCoef">Weight of the k3 KL estimate to a frozen reference policy (0: off).</param>
/// <param name="EntropyCoef">Weight of the entropy bonus (0: off); the loss subtracts coef x entropy.</param>
/// <param name="Aggregation">How token losses become the scalar loss.</param>
/// <param name="Temperature">The policy optimised is softmax(logits / Temperature), the one the rollouts were sampled
/// from (as in verl); its log-probs, entropy and the reference's log-probs are all taken at this temperature.</param>
/// <param name="TisCap">Truncated importance sampling (0: off): each token's policy-gradient loss is weighted by
/// min(pi_trainer / pi_sampler, TisCap), correcting for a sampler whose policy differs from the trainer's (a bf16 server).</param>
public sealed record PolicyLossOptions(
    double Clip = 0.2,
    double KlCoef = 0.0,
    double EntropyCoef = 0.0,
    LossAggregation Aggregation = LossAggregation.SeqMeanTokenMean,
    double Temperature = 1.0,
    double TisCap = 0.0);

/// <summary>Diagnostics of one loss computation, as means over its masked (response) tokens.</summary>
/// <param name="ClipRatio">Fraction of tokens where the clipped term won the PPO min (their gradient is 0).</param>
/// <param name="KlMean">Mean k3 KL to the reference; null when no reference log-probs were given.</param>
/// <param name="EntropyMean">Mean token entropy; null when no entropy was given.</param>
/// <param name="Tokens">Number of masked tokens the means are over (to combine micro-batches).</param>
/// <param name="MaxAbsLogRatio">Largest |log p - old log p| over the masked tokens: 0 up to rounding while the policy
/// is still the one that sampled.</param>
public sealed record PolicyLossStats(double ClipRatio, double? KlMean, double? EntropyMean, long Tokens, double MaxAbsLogRatio = 0);

/// <summary>The scalar loss (with gradient) and its diagnostics.</summary>
public sealed record PolicyLossResult(Tensor Loss, PolicyLossStats Stats);

/// <summary>Policy-gradient loss: PPO-clipped importance-weighted advantages, optional KL and entropy terms, aggregation.</summary>
public static class PolicyLoss
{
    static readonly Dictionary<string, UnusedSamples> UnusedByName = new(StringComparer.Ordinal)
    {
        ["drop"] = UnusedSamples.Drop,
        ["mask"] = UnusedSamples.Mask,
    };

    static readonly Dictionary<string, LossAggregation> AggregationByName = new(StringComparer.Ordinal)
    {
        ["token-mean"] = LossAggregation.TokenMean,
        ["seq-mean-token-mean"] = LossAggregation.SeqMeanTokenMean,
        ["seq-mean-token-sum-norm"] = LossAggregation.SeqMeanTokenSumNorm,
    };

    public static IReadOnlyList<string> UnusedNames { get; } = [.. UnusedByName.Keys];
    public static IReadOnlyList<string> AggregationNames { get; } = [.. AggregationByName.Keys];

    /// <summary>Parses <c>--unused</c>: <c>drop|mask</c>.</summary>
    public static UnusedSamples ParseUnused(string name) => Lookup(UnusedByName, name, "--unused mode");

    /// <summary>Parses <c>--loss-agg</c>: <c>token-mean|seq-mean-token-mean|seq-mean-token-sum-norm</c>.</summary>
    public static LossAggregation ParseAggregation(string name) => Lookup(AggregationByName, name, "loss aggregation");

    /// <summary>The CLI name of an aggregation mode (inverse of <see cref="ParseAggregation"/>).</summary>
    public static string Name(LossAggregation mode) => AggregationByName.First(kv => kv.Value == mode).Key;

    /// <summary>The CLI name of an unused-samples mode (inverse of <see cref="ParseUnused"/>).</summary>
    public static string Name(UnusedSamples mode) => UnusedByName.First(kv => kv.Value == mode).Key;

    /// <summary>Which samples enter the loss batch: the used ones (drop), or all of them (mask; unused ones have advantage 0).</summary>
    public static bool[] EntersLossBatch(IReadOnlyList<bool> used, UnusedSamples mode) =>
        mode == UnusedSamples.Drop ? [.. used] : [.. used.Select(_ => true)];

    /// <summary>
    /// Aggregates token losses [N, T] over the mask [N, T] (1 on response tokens) to a scalar, with the
    /// denominators of the whole optimizer batch (see <see cref="LossNormalization"/>). A sequence with no
    /// response token contributes 0 to seq-mean-token-mean.
    /// </summary>
    public static Tensor Aggregate(Tensor loss, Tensor mask, LossAggregation mode, LossNormalization normalization)
    {
        RequireRank(loss, 2, "loss");
        RequireSameShape(mask, "mask", loss, "loss");
        using var scope = NewDisposeScope();
        var m = mask.to_type(loss.dtype);
        var masked = loss * m;
        var result = mode switch
        {
            LossAggregation.TokenMean => masked.sum() / Positive(normalization.Tokens, "token count"),
            LossAggregation.SeqMeanTokenMean =>
                (masked.sum(1) / m.sum(1).clamp_min(1)).sum() / Positive(normalization.Sequences, "sequence count"),
            LossAggregation.SeqMeanTokenSumNorm =>
                masked.sum() / Positive(normalization.Sequences * normalization.MaxResponseLength, "sequences x max response length"),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown loss aggregation"),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Token loss -min(r A, clip(r, 1-eps, 1+eps) A) with r = exp(logp - old_logp), plus
    /// KlCoef x k3(ref, logp) minus EntropyCoef x entropy, aggregated to a scalar.
    /// On-policy (old_logp equal to logp, detached) r = 1 and the gradient is REINFORCE's -A grad(logp).
    /// </summary>
    /// <param name="logProbs">[N, T] log-probs of the response tokens under the policy being trained (with gradient).</param>
    /// <param name="oldLogProbs">[N, T] log-probs under the policy that sampled (no gradient).</param>
    /// <param name="advantages">[N] one advantage per sequence.</param>
    /// <param name="mask">[N, T] 1 on response tokens, 0 on padding.</param>
    /// <param name="refLogProbs">[N, T] log-probs under the frozen reference; required when KlCoef is not 0.</param>
    /// <param name="entropy">[N, T] token entropies (with gradient for the bonus); required when EntropyCoef is not 0.</param>
    /// <param name="tokenWeights">[N, T] weights of the policy-gradient term per token (truncated importance sampling; no gradient).</param>
    public static PolicyLossResult Compute(
        Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask,
        PolicyLossOptions options, LossNormalization normalization,
        Tensor? refLogProbs = null, Tensor? entropy = null, Tensor? tokenWeights = null)
    {
        RequireRank(logProbs, 2, "logProbs");
        RequireSameShape(oldLogProbs, "oldLogProbs", logProbs, "logProbs");
        RequireSameShape(mask, "mask", logProbs, "logProbs");
        if (advantages.ndim != 1 || advantages.shape[0] != logProbs.shape[0])
            throw new ArgumentException(
                $"advantages has shape [{string.Join(", ", advantages.shape)}]; expected [{logProbs.shape[0]}], one per row of logProbs");
        if (refLogProbs is not null) RequireSameShape(refLogProbs, "refLogProbs", logProbs, "logProbs");
        if (entropy is not null) RequireSameShape(entropy, "entropy", logProbs, "logProbs");
        if (tokenWeights is not null) RequireSameShape(tokenWeights, "tokenWeights", logProbs, "logProbs");
        if (options.KlCoef != 0 && refLogProbs is null)
            throw new ArgumentException($"KlCoef is {options.KlCoef} but no refLogProbs were given");
        if (options.EntropyCoef != 0 && entropy is null)
            throw new ArgumentException($"EntropyCoef is {options.EntropyCoef} but no entropy was given");

        using var scope = NewDisposeScope();
        var m = mask.to_type(logProbs.dtype);
        var (tokenLoss, clipped) = ClippedPolicyGradient(logProbs, oldLogProbs, advantages.to_type(logProbs.dtype).unsqueeze(1), options.Clip);
        if (tokenWeights is not null) tokenLoss = tokenLoss * tokenWeights.detach();
        Tensor? kl = refLogProbs is null ? null : KlK3(logProbs, refLogProbs);
        if (kl is not null && options.KlCoef != 0) tokenLoss = tokenLoss + options.KlCoef * kl;
        if (entropy is not null && options.EntropyCoef != 0) tokenLoss = tokenLoss - options.EntropyCoef * entropy;
        var loss = Aggregate(tokenLoss, m, options.Aggregation, normalization);

        long tokens = m.sum().to_type(ScalarType.Int64).item<long>();
        double MaskedMean(Tensor t)
        {
            using var _ = no_grad();
            return tokens == 0 ? 0.0 : (t.detach() * m).sum().item<float>() / (double)tokens;
        }
        var stats = new PolicyLossStats(
            ClipRatio: MaskedMean(clipped.to_type(logProbs.dtype)),
            KlMean: kl is null ? null : MaskedMean(kl),
            EntropyMean: entropy is null ? null : MaskedMean(entropy),
            Tokens: tokens,
            MaxAbsLogRatio: MaxAbs((logProbs.detach() - oldLogProbs) * m));
        return new PolicyLossResult(loss.MoveToOuterDisposeScope(), stats);
    }

    /// <summary>
    /// PPO's clipped surrogate per token, -min(r A, clip(r) A), and where clipping was active (the clipped term
    /// was strictly larger as a loss, so the token's gradient is 0).
    /// </summary>
    static (Tensor Loss, Tensor Clipped) ClippedPolicyGradient(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, double clip)
    {
        var ratio = (logProbs - oldLogProbs.detach()).exp();
        var unclipped = -advantages * ratio;
        var clippedLoss = -advantages * ratio.clamp(1 - clip, 1 + clip);
        return (maximum(unclipped, clippedLoss), clippedLoss.detach() > unclipped.detach());
    }

    /// <summary>k3 estimator of KL(policy || reference) per token: exp(ref - logp) - (ref - logp) - 1 (non-negative, unbiased).</summary>
    static Tensor KlK3(Tensor logProbs, Tensor refLogProbs)
    {
        var delta = refLogProbs.detach() - logProbs;
        return delta.exp() - delta - 1;
    }

    static double MaxAbs(Tensor t)
    {
        using var _ = no_grad();
        return t.numel() == 0 ? 0.0 : t.abs().max().item<float>();
    }

    static double Positive(long count, string what) =>
        count > 0 ? count : throw new ArgumentException($"loss normalization: {what} is {count}; it must be positive");

    internal static void RequireRank(Tensor t, int rank, string name)
    {
        if (t.ndim != rank)
            throw new ArgumentException($"{name} has shape [{string.Join(", ", t.shape)}]; expected {rank} dimensions");
    }

    static void RequireSameShape(Tensor t, string name, Tensor reference, string referenceName)
    {
        if (!t.shape.SequenceEqual(reference.shape))
            throw new ArgumentException(
                $"{name} has shape [{string.Join(", ", t.shape)}]; expected [{string.Join(", ", reference.shape)}] like {referenceName}");
    }

    static T Lookup<T>(Dictionary<string, T> byName, string name, string what) =>
        byName.TryGetValue(name, out var value)
            ? value
            : throw new ArgumentException($"unknown {what} '{name}'; expected one of: {string.Join(", ", byName.Keys)}", nameof(name));
}
