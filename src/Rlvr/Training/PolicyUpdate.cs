using System.Diagnostics;
using Rlvr.Model;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>What one policy update did: mean loss and gradient norm over its optimizer steps, token-weighted
/// diagnostics, seconds spent, and how many optimizer steps were skipped for non-finite values.</summary>
/// <param name="SamplerMismatch">Largest |log p - sampler's log p| over the tokens of the first optimizer step, before any
/// weight changed: 0 up to float rounding when the policy optimised is the one that sampled.</param>
/// <param name="OffPolicy">Mean |log p - sampler's log p| and a KL estimate over the same tokens: how far a remote sampler is.</param>
/// <param name="ForwardSeconds">Policy (and reference) forward passes and the loss.</param>
/// <param name="BackwardSeconds">Backward passes.</param>
/// <param name="OptimizerSeconds">Gradient norm, clipping and AdamW.</param>
public sealed record UpdateResult(int OptimizerSteps, int NonFinite, double Loss, double GradNorm,
    double ClipRatio, double Entropy, double? Kl, long Tokens, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds,
    double SamplerMismatch = 0, OffPolicy? OffPolicy = null);

/// <summary>Sampler vs trainer on the sampled tokens, before the update: mean |log pi_trainer - log pi_sampler|, and the k3
/// estimate of KL(sampler || trainer) (exp(d) - 1 - d with d = log pi_trainer - log pi_sampler; 0 when they agree).</summary>
public sealed record OffPolicy(double MeanAbsLogProbDiff, double Kl)
{
    /// <summary>Running sums over micro-batches.</summary>
    internal sealed class Sums
    {
        double abs, kl;
        long tokens;
        public bool Any => tokens > 0;

        public void Add(Tensor trainer, Tensor sampler, Tensor mask)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var d = (trainer.detach() - sampler) * mask;
            abs += d.abs().sum().item<float>();
            kl += ((d.exp() - 1 - d) * mask).sum().item<float>();
            tokens += mask.sum().to_type(ScalarType.Int64).item<long>();
        }

        public OffPolicy? Result => tokens == 0 ? null : new(abs / tokens, kl / tokens);
    }
}

/// <summary>How rollouts become optimizer steps: epochs over the batch, mini-batches (one optimizer step each),
/// gradient-accumulation micro-batches, and a token budget per forward/backward.</summary>
public sealed record UpdateSchedule(int Epochs = 1, int MiniBatches = 1, int GradAccum = 1, int MicroBatchTokens = 0,
    double GradClip = 1.0, int MaxResponseLength = 512);

/// <summary>
/// The policy-gradient update on a batch of rollouts: for each optimizer step, the policy's token
/// log-probs (chunked over the vocabulary, at the sampling temperature) on the sampler's own ids, the
/// PPO-clipped loss against the sampler's log-probs, backward over micro-batches, global-norm clipping and AdamW.
/// A non-finite loss, gradient norm or updated weight skips that optimizer step, so the weights are never corrupted.
/// </summary>
public sealed class PolicyUpdate(LoadedModel policy, AdamW optimizer, PolicyLossOptions loss, UpdateSchedule schedule, LoadedModel? reference = null)
{
    public UpdateResult Run(IReadOnlyList<Rollout> rollouts, double lr)
    {
        var model = policy.Model;
        var offPolicy = new OffPolicy.Sums();
        if (loss.TisCap > 0) rollouts = WithImportanceWeights(rollouts, offPolicy);
        model.train();
        double lossSum = 0, normSum = 0, clipTokens = 0, entropyTokens = 0, klTokens = 0, forward = 0, backward = 0, step = 0, mismatch = 0;
        long tokens = 0;
        int updates = 0, nonFinite = 0;
        var miniBatches = Split(rollouts, schedule.MiniBatches);
        for (int epoch = 0; epoch < schedule.Epochs; epoch++)
            foreach (var miniBatch in miniBatches)
            {
                var sw = Stopwatch.StartNew();
                optimizer.ZeroGrad();
                var normalization = new LossNormalization(miniBatch.Sum(r => (long)r.CompletionIds.Length), miniBatch.Count, schedule.MaxResponseLength);
                double batchLoss = 0;
                foreach (var micro in MicroBatches(miniBatch, schedule))
                {
                    // Before the first optimizer step the policy is the one the trainer had when the rollouts were sampled.
                    var (microLoss, stats, seconds) = MicroBatch(micro, normalization, updates + nonFinite == 0 && loss.TisCap == 0 ? offPolicy : null);
                    forward += seconds;
                    batchLoss += microLoss;
                    clipTokens += stats.ClipRatio * stats.Tokens;
                    entropyTokens += (stats.EntropyMean ?? 0) * stats.Tokens;
                    klTokens += (stats.KlMean ?? 0) * stats.Tokens;
                    tokens += stats.Tokens;
                    if (updates + nonFinite == 0) mismatch = System.Math.Max(mismatch, stats.MaxAbsLogRatio);
                }
                backward += sw.Elapsed.TotalSeconds;
                sw.Restart();
                double norm = optimizer.GradNorm();
                bool finite = double.IsFinite(norm) && double.IsFinite(batchLoss);
                if (finite) optimizer.ClipGradients(norm, schedule.GradClip);
                if (finite && optimizer.Update(lr))
                {
                    updates++;
                    lossSum += batchLoss;
                    normSum += norm;
                }
                else
                {
                    nonFinite++;
                    optimizer.ZeroGrad();
                }
                step += sw.Elapsed.TotalSeconds;
            }
        model.eval();
        double PerToken(double sum) => tokens == 0 ? 0 : sum / tokens;
        return new UpdateResult(updates, nonFinite, updates == 0 ? double.NaN : lossSum / updates, updates == 0 ? double.NaN : normSum / updates,
            PerToken(clipTokens), PerToken(entropyTokens), reference is null ? null : PerToken(klTokens), tokens, forward, backward - forward, step,
            mismatch, offPolicy.Result);
    }

    /// <summary>Truncated importance sampling: the trainer's own log-probs before the update become the PPO ratio's old
    /// log-probs, and each token's loss is weighted by min(pi_trainer / pi_sampler, cap) (one no-grad forward pass).</summary>
    List<Rollout> WithImportanceWeights(IReadOnlyList<Rollout> rollouts, OffPolicy.Sums offPolicy)
    {
        var result = new List<Rollout>(rollouts.Count);
        using var noGrad = no_grad();
        foreach (var part in RolloutBatch.SplitByTokens(rollouts, schedule.MicroBatchTokens))
        {
            using var scope = NewDisposeScope();
            using var batch = RolloutBatch.Create(part, policy.Model.Device);
            var logProbs = TokenLogProbs.LogProbsOnly(batch.PredictorHidden(policy.Model.Hidden(batch.InputIds, batch.Positions)),
                policy.Model.LmHeadWeight, batch.Targets, temperature: loss.Temperature);
            offPolicy.Add(logProbs, batch.OldLogProbs, batch.Mask);
            var host = logProbs.cpu().data<float>().ToArray();
            int width = (int)logProbs.shape[1];
            for (int i = 0; i < part.Count; i++)
            {
                var r = part[i];
                var mine = host.AsSpan(i * width, r.CompletionIds.Length).ToArray();
                var weights = mine.Select((lp, t) => (float)System.Math.Min(System.Math.Exp(lp - r.SamplerLogProbs[t]), loss.TisCap)).ToArray();
                result.Add(r with { SamplerLogProbs = mine, TokenWeights = weights });
            }
        }
        return result;
    }

    /// <summary>Forward (log-probs, loss) and backward of one micro-batch; returns the seconds the forward took.</summary>
    (double Loss, PolicyLossStats Stats, double ForwardSeconds) MicroBatch(IReadOnlyList<Rollout> micro, LossNormalization normalization,
        OffPolicy.Sums? offPolicy)
    {
        var sw = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        using var batch = RolloutBatch.Create(micro, policy.Model.Device);
        var hidden = batch.PredictorHidden(policy.Model.Hidden(batch.InputIds, batch.Positions));
        var (logProbs, entropy) = TokenLogProbs.Compute(hidden, policy.Model.LmHeadWeight, batch.Targets, temperature: loss.Temperature);
        Tensor? refLogProbs = null;
        if (reference is not null)
            using (no_grad())
            using (reference.Model.WithoutAdapters())   // a LoRA run's reference is the policy itself without its adapters
            {
                var refHidden = batch.PredictorHidden(reference.Model.Hidden(batch.InputIds, batch.Positions));
                refLogProbs = TokenLogProbs.LogProbsOnly(refHidden, reference.Model.LmHeadWeight, batch.Targets, temperature: loss.Temperature);
            }
        offPolicy?.Add(logProbs, batch.OldLogProbs, batch.Mask);
        var result = PolicyLoss.Compute(logProbs, batch.OldLogProbs, batch.Advantages, batch.Mask, loss, normalization, refLogProbs, entropy, batch.TokenWeights);
        double forward = sw.Elapsed.TotalSeconds;
        result.Loss.backward();
        return (result.Loss.item<float>(), result.Stats, forward);
    }

    /// <summary>The forward/backward micro-batches of one mini-batch (one optimizer step): its gradient-accumulation
    /// parts, each sorted by length (stable) and split to stay within the token budget. Sorting puts rollouts of
    /// similar length together, so less of each padded micro-batch is padding; the gradient is a sum over all
    /// micro-batches either way.</summary>
    public static IEnumerable<List<Rollout>> MicroBatches(IReadOnlyList<Rollout> miniBatch, UpdateSchedule schedule) =>
        Split(miniBatch, schedule.GradAccum).SelectMany(part =>
            RolloutBatch.SplitByTokens(part.OrderBy(r => r.PromptIds.Length + r.CompletionIds.Length).ToList(), schedule.MicroBatchTokens));

    /// <summary>Splits into <paramref name="parts"/> consecutive near-equal parts (fewer when there are fewer items).</summary>
    public static List<List<Rollout>> Split(IReadOnlyList<Rollout> items, int parts)
    {
        parts = System.Math.Max(1, System.Math.Min(parts, items.Count));
        var result = new List<List<Rollout>>();
        for (int p = 0, start = 0; p < parts; p++)
        {
            int size = items.Count / parts + (p < items.Count % parts ? 1 : 0);
            result.Add(items.Skip(start).Take(size).ToList());
            start += size;
        }
        return result;
    }
}
