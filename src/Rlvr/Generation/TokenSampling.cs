using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Generation;

/// <summary>
/// Draws one token per row of a [B, vocab] logits tensor, batched on the tensor: the only values that
/// cross from C# are B uniforms, and B tokens and 2B log-probs come back. Sampling is by inverse CDF:
/// the token is the first whose running sum of weights reaches u x total, so a sequence's draw depends
/// only on its own uniform (see <see cref="SequenceRandom"/>), never on the other rows.
///
/// A pass over [64, 151936] fp32 logits costs milliseconds, and so does every fresh [64, 151936]
/// tensor (39 MB of new pages to fault in and zero), so the logits live in a buffer the caller reuses
/// (<see cref="PaddedWidth"/> columns, the vocabulary first, zeros after) and are turned in place into
/// weights exp((logit - max) / T). The common RL case (temperature 1, no top-k/top-p) then takes four
/// passes (max, subtract, exp, block sums) and allocates nothing of vocabulary size: the running sum is
/// two-level, over blocks of <see cref="BlockSize"/> tokens and then inside the chosen block.
/// </summary>
internal static class TokenSampling
{
    /// <summary>Tokens per block of the two-level running sum.</summary>
    public const long BlockSize = 512;

    /// <summary>First width tried for a top-p nucleus without top-k; it grows 8x, only in the rows that need it.</summary>
    const long FirstNucleusWidth = 64;

    /// <summary>Columns of the logits buffer for a vocabulary: a whole number of blocks.</summary>
    public static long PaddedWidth(long vocab) => (vocab + BlockSize - 1) / BlockSize * BlockSize;

    /// <summary>All [B]: the drawn tokens (int64), their log-probs under the model at temperature 1, under the sampling
    /// distribution, and under softmax(logits / T) over the whole vocabulary (the tempered policy the trainer
    /// optimises; equal to the sampling log-probs without top-k/top-p).</summary>
    public sealed record Drawn(Tensor Tokens, Tensor LogProbs, Tensor SamplingLogProbs, Tensor TemperedLogProbs);

    /// <summary>
    /// <paramref name="padded"/> [B, PaddedWidth(vocab)]: logits in the first <paramref name="vocab"/> columns,
    /// zeros in the rest (which must stay zero); overwritten. <paramref name="uniforms"/> [B] in (0, 1), unused
    /// when greedy. <paramref name="bannedTokens"/> [k] are excluded in the rows where <paramref name="bannedRows"/>
    /// [B] is true (stop tokens before min_new_tokens).
    /// </summary>
    public static Drawn Draw(Tensor padded, long vocab, SamplingParams p, Tensor uniforms, Tensor? bannedTokens = null, Tensor? bannedRows = null)
    {
        var banning = bannedTokens is not null && bannedRows is not null;
        if (!banning && !p.IsGreedy && p.TopK == 0 && p.TopP >= 1 && Kernels.GemmPath.UseKernel && padded.device_type == DeviceType.CPU)
        {
            // The plain case in two passes per row (Kernels.InverseCdfSampling): the same draw rule, block by block.
            var (tokens, model, sampling) = Kernels.InverseCdfSampling.Draw(padded, (int)vocab, p.Temperature, uniforms.to(ScalarType.Float64).data<double>().ToArray());
            var samplingTensor = torch.tensor(sampling);
            return new Drawn(torch.tensor(tokens), torch.tensor(model), samplingTensor, samplingTensor);
        }
        var logits = padded.narrow(1, 0, vocab);
        // NaN logits would reach the inverse-CDF search as an index out of range: say what is wrong instead.
        if (!logits.isfinite().all().item<bool>())
            throw new InvalidDataException(Kernels.InverseCdfSampling.NonFiniteLogits);
        // With a ban the model's normaliser (temperature 1, nothing banned) must be taken first.
        Tensor? logZ = null;
        if (banning)
        {
            logZ = logits.logsumexp(1, keepdim: true);
            Ban(logits, bannedTokens!, bannedRows!);
        }
        if (p.IsGreedy)
        {
            var best = logits.argmax(1, keepdim: true);
            logZ ??= logits.logsumexp(1, keepdim: true);
            var none = torch.zeros(logits.shape[0], ScalarType.Float32, logits.device);
            return new Drawn(best.squeeze(1), (logits.gather(1, best) - logZ).squeeze(1), none, none);
        }

        var t = p.Temperature;
        var max = logits.amax([1], keepdim: true);
        var weights = logits.sub_(max).exp_();                  // exp(logit - max): in [0, 1], 1 at the max
        // log of the model's normaliser relative to max; null until known.
        var logModelTotal = logZ?.sub(max);
        if (t != 1)
        {
            logModelTotal ??= weights.sum(1, keepdim: true).log_();
            weights.pow_(1 / t);                                // exp((logit - max) / T)
        }
        // log p(token) at T = 1 = log(weight at T) x T - log of the model's normaliser.
        Tensor ModelLogProb(Tensor logWeight, Tensor logTotal) => logWeight.mul(t).sub_(logTotal);

        var topK = p.TopK > 0 && p.TopK < vocab;
        if (!topK && p.TopP >= 1)
        {
            var (index, logWeight, logTotal) = BlockInverseCdf(padded, uniforms);
            var sampling = (logWeight - logTotal).squeeze(1);
            return new Drawn(index.squeeze(1), ModelLogProb(logWeight, logModelTotal ?? logTotal).squeeze(1), sampling, sampling);
        }

        // Top-k / top-p: the candidates in order of probability (weights order tokens as logits do).
        var total = weights.sum(1, keepdim: true);
        logModelTotal ??= total.log();
        var (candidates, candidateIds) = topK ? weights.topk(p.TopK, 1) : NucleusCandidates(weights, total, p.TopP);
        var probs = candidates / (topK ? candidates.sum(1, keepdim: true) : total);   // top-k renormalises before top-p
        if (p.TopP < 1)
        {
            // A token stays when the mass before it is below top_p.
            var massBefore = probs.cumsum(1).sub_(probs);
            probs.masked_fill_(massBefore.ge(p.TopP), 0);
        }
        var (at, logProb, logSum) = InverseCdf(probs, uniforms);
        var logWeightAt = candidates.gather(1, at).log_();
        var tempered = logWeightAt - total.log();
        var modelLogProb = ModelLogProb(logWeightAt, logModelTotal);
        return new Drawn(candidateIds.gather(1, at).squeeze(1), modelLogProb.squeeze(1), (logProb - logSum).squeeze(1), tempered.squeeze(1));
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
        var index = torch.searchsorted(cdf, Target(uniforms, total)).clamp_max(width - 1);
        return (index, weights.gather(1, index).log_(), total.log());
    }

    /// <summary>
    /// <see cref="InverseCdf"/> over [B, blocks x BlockSize] weights in two levels: the block whose running sum
    /// reaches u x total, then the entry inside it that reaches the rest. Same draw, but the running sums are
    /// [B, blocks] and [B, BlockSize] instead of [B, vocab].
    /// </summary>
    static (Tensor Index, Tensor LogWeight, Tensor LogTotal) BlockInverseCdf(Tensor padded, Tensor uniforms)
    {
        var rows = padded.shape[0];
        var blocks = padded.view(rows, -1, BlockSize);
        var count = blocks.shape[1];
        var blockSums = blocks.sum(2);
        var cumulative = blockSums.cumsum(1);
        var total = cumulative.narrow(1, count - 1, 1);
        var target = Target(uniforms, total);
        var block = torch.searchsorted(cumulative, target).clamp_max(count - 1);          // [B, 1]
        var before = (cumulative - blockSums).gather(1, block);
        var inside = blocks.gather(1, block.unsqueeze(2).expand(rows, 1, BlockSize)).squeeze(1);
        var insideCdf = inside.cumsum(1);
        var insideTotal = insideCdf.narrow(1, BlockSize - 1, 1);
        // The rest lies in (0, block sum] up to rounding; kept inside, and away from 0 so a zero weight never qualifies.
        var rest = torch.minimum(torch.maximum(target - before, insideTotal * 1e-9), insideTotal);
        var offset = torch.searchsorted(insideCdf, rest).clamp_max(BlockSize - 1);
        return (block * BlockSize + offset, inside.gather(1, offset).log_(), total.log());
    }

    static Tensor Target(Tensor uniforms, Tensor total) => uniforms.to(total.dtype).unsqueeze(1) * total;

    /// <summary>
    /// The top tokens of each row by weight, sorted, enough of them to contain the top-p nucleus: the top k of a
    /// row suffice once their mass reaches top_p (token k+1 would be dropped anyway). Every row starts with the
    /// top <paramref name="k"/>; only the rows whose nucleus is wider go on, with 8 times as many, so one
    /// uncertain row does not make the whole batch sort its vocabulary. Rows end up padded with zero weights.
    /// </summary>
    static (Tensor Values, Tensor Ids) NucleusCandidates(Tensor weights, Tensor total, double topP, long k = FirstNucleusWidth)
    {
        var vocab = weights.shape[1];
        k = System.Math.Min(k, vocab);
        var (values, ids) = weights.topk((int)k, 1);
        if (k == vocab) return (values, ids);
        using var mass = values.sum(1, keepdim: true).div_(total).squeeze(1);
        using var wide = mass.lt(topP).nonzero().squeeze(1);      // rows whose top k hold less than top_p
        if (wide.shape[0] == 0) return (values, ids);

        var (wideValues, wideIds) = NucleusCandidates(weights.index_select(0, wide), total.index_select(0, wide), topP, k * 8);
        var width = wideValues.shape[1];
        var rows = weights.shape[0];
        var allValues = torch.cat([values, torch.zeros(rows, width - k, values.dtype, values.device)], 1);
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
