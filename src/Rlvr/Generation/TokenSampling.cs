using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Generation;

/// <summary>
/// Draws one token per row of a [B, vocab] logits tensor, batched on the tensor: the only values that
/// cross from C# are B uniforms, and B tokens and 2B log-probs come back. Sampling is by inverse CDF:
/// the token is the first whose cumulative probability reaches u * total, so a sequence's draw depends
/// only on its own uniform (see <see cref="SequenceRandom"/>), never on the other rows.
/// </summary>
internal static class TokenSampling
{
    /// <summary>First width tried for a top-p nucleus without top-k; it grows 8x until the top tokens hold the nucleus.</summary>
    const long FirstNucleusWidth = 64;

    /// <summary>All [B]: the drawn tokens (int64), their log-probs under the model at temperature 1, and under the sampling distribution.</summary>
    public sealed record Drawn(Tensor Tokens, Tensor LogProbs, Tensor SamplingLogProbs);

    /// <summary>
    /// <paramref name="logits"/> [B, V] fp32 (modified in place: banned tokens become -inf);
    /// <paramref name="uniforms"/> [B] in (0, 1), unused when greedy; <paramref name="bannedTokens"/> [k] are
    /// excluded in the rows where <paramref name="bannedRows"/> [B] is true (stop tokens before min_new_tokens).
    /// </summary>
    public static Drawn Draw(Tensor logits, SamplingParams p, Tensor uniforms, Tensor? bannedTokens = null, Tensor? bannedRows = null)
    {
        var rawLogNormaliser = logits.logsumexp(1, keepdim: true);
        if (bannedTokens is not null && bannedRows is not null) Ban(logits, bannedTokens, bannedRows);
        Tensor tokens, samplingLogProbs;
        if (p.IsGreedy)
        {
            tokens = logits.argmax(1, keepdim: true);
            samplingLogProbs = torch.zeros(logits.shape[0], ScalarType.Float32, logits.device);
        }
        else (tokens, samplingLogProbs) = Sample(logits, p, uniforms);
        // A drawn token is never a banned one, so the in-place ban does not touch the logit read here.
        var logProbs = (logits.gather(1, tokens) - rawLogNormaliser).squeeze(1);
        return new Drawn(tokens.squeeze(1), logProbs, samplingLogProbs);
    }

    /// <summary>Tokens [B, 1] and their log-probs [B] under softmax(logits / T) restricted to top-k, then to the top-p nucleus.</summary>
    static (Tensor Tokens, Tensor LogProbs) Sample(Tensor logits, SamplingParams p, Tensor uniforms)
    {
        var scaled = p.Temperature == 1 ? logits : logits / p.Temperature;
        var vocab = logits.shape[1];
        Tensor candidates, logNormaliser;
        Tensor? candidateIds = null;    // vocabulary ids of the candidates; null = the whole vocabulary in order
        if (p.TopK > 0 && p.TopK < vocab)
        {
            (candidates, candidateIds) = scaled.topk(p.TopK, 1);
            logNormaliser = candidates.logsumexp(1, keepdim: true);    // top-k renormalises before top-p
        }
        else
        {
            logNormaliser = scaled.logsumexp(1, keepdim: true);
            if (p.TopP < 1) (candidates, candidateIds) = NucleusCandidates(scaled, logNormaliser, p.TopP);
            else candidates = scaled;
        }

        var probs = (candidates - logNormaliser).exp_();
        if (p.TopP < 1)
        {
            // Candidates are sorted by probability: a token stays when the mass before it is below top_p.
            var massBefore = probs.cumsum(1).sub_(probs);
            probs.masked_fill_(massBefore.ge(p.TopP), 0);
        }
        var cdf = probs.cumsum(1);
        var width = cdf.shape[1];
        var total = cdf.narrow(1, width - 1, 1);
        var target = uniforms.to(ScalarType.Float32).unsqueeze(1) * total;
        // The first index whose cumulative mass reaches the target; zero-probability tokens never qualify.
        var index = torch.searchsorted(cdf, target).clamp_max(width - 1);
        var logProb = (probs.gather(1, index).log() - total.log()).squeeze(1);
        return (candidateIds is null ? index : candidateIds.gather(1, index), logProb);
    }

    /// <summary>
    /// The top tokens of each row, sorted, enough of them to contain the top-p nucleus: the mass of the top k
    /// must reach top_p in every row (then token k+1 would be dropped anyway). Starts small and grows, so a
    /// peaked distribution costs a top-64 selection instead of sorting the whole vocabulary.
    /// </summary>
    static (Tensor Values, Tensor Ids) NucleusCandidates(Tensor scaled, Tensor logNormaliser, double topP)
    {
        var vocab = scaled.shape[1];
        for (var k = System.Math.Min(FirstNucleusWidth, vocab); ; k = System.Math.Min(vocab, k * 8))
        {
            var (values, ids) = scaled.topk((int)k, 1);
            if (k == vocab) return (values, ids);
            using var mass = (values - logNormaliser).exp_().sum(1);
            if (mass.min().item<float>() >= topP) return (values, ids);
            values.Dispose();
            ids.Dispose();
        }
    }

    static void Ban(Tensor logits, Tensor bannedTokens, Tensor bannedRows)
    {
        using var columns = logits.index_select(1, bannedTokens);
        columns.masked_fill_(bannedRows.unsqueeze(1), float.NegativeInfinity);
        logits.index_copy_(1, bannedTokens, columns);
    }
}
