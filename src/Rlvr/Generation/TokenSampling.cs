using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Generation;

/// <summary>
/// Draws one token per row of a [B, vocab] logits tensor, batched on the tensor: the only values that
/// cross from C# are B uniforms, and B tokens and 2B log-probs come back. Sampling is by inverse CDF:
/// the token is the first whose cumulative probability reaches u * total, so a sequence's draw depends
/// only on its own uniform (see <see cref="SequenceRandom"/>), never on the other rows.
///
/// A pass over [64, 151936] fp32 logits costs several milliseconds here, so the common case
/// (temperature 1, no top-k/top-p) takes four: row max, subtract, exp, cumsum; the normaliser is the
/// last cumulative sum. The logits tensor is consumed (modified in place).
/// </summary>
internal static class TokenSampling
{
    /// <summary>First width tried for a top-p nucleus without top-k; it grows 8x until the top tokens hold the nucleus.</summary>
    const long FirstNucleusWidth = 64;

    /// <summary>All [B]: the drawn tokens (int64), their log-probs under the model at temperature 1, and under the sampling distribution.</summary>
    public sealed record Drawn(Tensor Tokens, Tensor LogProbs, Tensor SamplingLogProbs);

    /// <summary>
    /// <paramref name="logits"/> [B, V] fp32, overwritten; <paramref name="uniforms"/> [B] in (0, 1), unused when
    /// greedy; <paramref name="bannedTokens"/> [k] are excluded in the rows where <paramref name="bannedRows"/> [B]
    /// is true (stop tokens before min_new_tokens).
    /// </summary>
    public static Drawn Draw(Tensor logits, SamplingParams p, Tensor uniforms, Tensor? bannedTokens = null, Tensor? bannedRows = null)
    {
        // log Z of the model at temperature 1 (in logits units), needed separately once tokens are banned.
        Tensor? logZ = null;
        var banning = bannedTokens is not null && bannedRows is not null;
        if (banning)
        {
            logZ = logits.logsumexp(1, keepdim: true);
            Ban(logits, bannedTokens!, bannedRows!);
        }
        if (p.IsGreedy)
        {
            var best = logits.argmax(1, keepdim: true);
            logZ ??= logits.logsumexp(1, keepdim: true);
            return new Drawn(best.squeeze(1), (logits.gather(1, best) - logZ).squeeze(1), torch.zeros(logits.shape[0], ScalarType.Float32, logits.device));
        }

        var max = logits.amax([1], keepdim: true);
        var shifted = logits.sub_(max);                        // <= 0: exp cannot overflow
        var t = p.Temperature;
        var topK = p.TopK > 0 && p.TopK < logits.shape[1];
        if (!topK && p.TopP >= 1)
        {
            // The whole vocabulary: weights exp(shifted / T), drawn by their running sum.
            if (t != 1) logZ ??= shifted.exp().sum(1, keepdim: true).log_().add_(max);
            var weights = (t == 1 ? shifted : shifted.mul_(1 / t)).exp_();
            var (index, logWeight, logTotal) = InverseCdf(weights, uniforms);
            var sampling = logWeight - logTotal;
            // log p at T = 1: shifted = log weight x T; without a ban and at T = 1 it is the sampling log-prob.
            var model = logZ is null ? sampling : logWeight.mul(t).add_(max).sub_(logZ);
            return new Drawn(index.squeeze(1), model.squeeze(1), sampling.squeeze(1));
        }

        logZ ??= shifted.exp().sum(1, keepdim: true).log_().add_(max);
        var scaled = t == 1 ? shifted : shifted.mul_(1 / t);
        Tensor candidates, candidateIds, logNormaliser;
        if (topK)
        {
            (candidates, candidateIds) = scaled.topk(p.TopK, 1);
            logNormaliser = candidates.logsumexp(1, keepdim: true);    // top-k renormalises before top-p
        }
        else
        {
            // Without a ban, at T = 1 the sampling normaliser is the model's.
            logNormaliser = t == 1 && !banning ? logZ - max : scaled.logsumexp(1, keepdim: true);
            (candidates, candidateIds) = NucleusCandidates(scaled, logNormaliser, p.TopP);
        }
        var probs = (candidates - logNormaliser).exp_();
        if (p.TopP < 1)
        {
            // Candidates are sorted by probability: a token stays when the mass before it is below top_p.
            var massBefore = probs.cumsum(1).sub_(probs);
            probs.masked_fill_(massBefore.ge(p.TopP), 0);
        }
        var (at, logProb, logSum) = InverseCdf(probs, uniforms);
        var modelLogProb = candidates.gather(1, at).mul_(t).add_(max).sub_(logZ);
        return new Drawn(candidateIds.gather(1, at).squeeze(1), modelLogProb.squeeze(1), (logProb - logSum).squeeze(1));
    }

    /// <summary>
    /// For nonnegative weights [B, K]: the index [B, 1] of the first entry whose running sum reaches u x total
    /// (zero weights never qualify), the log of its weight and the log of the total, both [B, 1].
    /// </summary>
    static (Tensor Index, Tensor LogWeight, Tensor LogTotal) InverseCdf(Tensor weights, Tensor uniforms)
    {
        var cdf = weights.cumsum(1);
        var width = cdf.shape[1];
        var total = cdf.narrow(1, width - 1, 1);
        var index = torch.searchsorted(cdf, uniforms.to(ScalarType.Float32).unsqueeze(1) * total).clamp_max(width - 1);
        return (index, weights.gather(1, index).log_(), total.log());
    }

    /// <summary>
    /// The top tokens of each row, sorted, enough of them to contain the top-p nucleus: the top k of a row
    /// suffice once their mass reaches top_p (token k+1 would be dropped anyway). Every row starts with the
    /// top <paramref name="k"/>; only the rows whose nucleus is wider go on, with 8 times as many, so one
    /// uncertain row does not make the whole batch sort its vocabulary. Rows end up padded with -inf.
    /// </summary>
    static (Tensor Values, Tensor Ids) NucleusCandidates(Tensor scaled, Tensor logNormaliser, double topP, long k = FirstNucleusWidth)
    {
        var vocab = scaled.shape[1];
        k = System.Math.Min(k, vocab);
        var (values, ids) = scaled.topk((int)k, 1);
        if (k == vocab) return (values, ids);
        using var mass = (values - logNormaliser).exp_().sum(1);
        using var wide = mass.lt(topP).nonzero().squeeze(1);      // rows whose top k hold less than top_p
        if (wide.shape[0] == 0) return (values, ids);

        var (wideValues, wideIds) = NucleusCandidates(scaled.index_select(0, wide), logNormaliser.index_select(0, wide), topP, k * 8);
        var width = wideValues.shape[1];
        var rows = scaled.shape[0];
        var allValues = torch.cat([values, torch.full(rows, width - k, float.NegativeInfinity, values.dtype, values.device)], 1);
        var allIds = torch.cat([ids, torch.zeros(rows, width - k, ids.dtype, ids.device)], 1);
        allValues.index_copy_(0, wide, wideValues);
        allIds.index_copy_(0, wide, wideIds);
        return (allValues, allIds);
    }

    static void Ban(Tensor logits, Tensor bannedTokens, Tensor bannedRows)
    {
        using var columns = logits.index_select(1, bannedTokens);
        columns.masked_fill_(bannedRows.unsqueeze(1), float.NegativeInfinity);
        logits.index_copy_(1, bannedTokens, columns);
    }
}
