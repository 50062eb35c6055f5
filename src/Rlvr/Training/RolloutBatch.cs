using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>One rollout as the loss sees it: the sampler's own prompt and completion ids (never
/// re-tokenised), its advantage and the log-probs of the policy that sampled it (with truncated importance
/// sampling: the trainer's own before the update, and <paramref name="TokenWeights"/> = the capped ratio to the sampler's).</summary>
public sealed record Rollout(int[] PromptIds, int[] CompletionIds, float[] SamplerLogProbs, float Advantage, float[]? TokenWeights = null);

/// <summary>Padded tensors of a micro-batch of rollouts for one forward/backward.</summary>
public sealed class RolloutBatch : IDisposable
{
    /// <summary>[B, L] prompt ++ completion ids, right-padded (causal attention keeps padding out of real positions).</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>[B, L] positions 0..L-1.</summary>
    public required Tensor Positions { get; init; }
    /// <summary>[B, T] for each completion token, the position whose hidden state predicts it (prompt length - 1 + t); 0 on padding.</summary>
    public required Tensor PredictorPositions { get; init; }
    /// <summary>[B, T] completion ids, 0 on padding.</summary>
    public required Tensor Targets { get; init; }
    /// <summary>[B, T] 1 on completion tokens.</summary>
    public required Tensor Mask { get; init; }
    /// <summary>[B, T] the sampler's log-probs (old policy), 0 on padding.</summary>
    public required Tensor OldLogProbs { get; init; }
    /// <summary>[B] advantages.</summary>
    public required Tensor Advantages { get; init; }
    /// <summary>[B, T] per-token loss weights (truncated importance sampling); null when no rollout has any.</summary>
    public Tensor? TokenWeights { get; init; }

    public static RolloutBatch Create(IReadOnlyList<Rollout> rollouts, Device device)
    {
        int b = rollouts.Count;
        int l = rollouts.Max(r => r.PromptIds.Length + r.CompletionIds.Length);
        int t = System.Math.Max(1, rollouts.Max(r => r.CompletionIds.Length));
        var ids = new long[b * l];
        var predictors = new long[b * t];
        var targets = new long[b * t];
        var mask = new float[b * t];
        var old = new float[b * t];
        var weights = rollouts.Any(r => r.TokenWeights is not null) ? new float[b * t] : null;
        for (int i = 0; i < b; i++)
        {
            var r = rollouts[i];
            for (int j = 0; j < r.PromptIds.Length; j++) ids[i * l + j] = r.PromptIds[j];
            for (int j = 0; j < r.CompletionIds.Length; j++)
            {
                ids[i * l + r.PromptIds.Length + j] = r.CompletionIds[j];
                predictors[i * t + j] = r.PromptIds.Length - 1 + j;
                targets[i * t + j] = r.CompletionIds[j];
                mask[i * t + j] = 1;
                old[i * t + j] = r.SamplerLogProbs[j];
                if (weights is not null) weights[i * t + j] = r.TokenWeights?[j] ?? 1;
            }
        }
        return new RolloutBatch
        {
            InputIds = tensor(ids, [b, l], device: device),
            Positions = arange(l, ScalarType.Int64, device).unsqueeze(0).expand(b, l).contiguous(),
            PredictorPositions = tensor(predictors, [b, t], device: device),
            Targets = tensor(targets, [b, t], device: device),
            Mask = tensor(mask, [b, t], device: device),
            OldLogProbs = tensor(old, [b, t], device: device),
            Advantages = tensor(rollouts.Select(r => r.Advantage).ToArray(), device: device),
            TokenWeights = weights is null ? null : tensor(weights, [b, t], device: device),
        };
    }

    /// <summary>Hidden states [B, L, H] at the predictor positions: [B, T, H].</summary>
    public Tensor PredictorHidden(Tensor hidden) =>
        hidden.gather(1, PredictorPositions.unsqueeze(-1).expand(-1, -1, hidden.shape[2]));

    /// <summary>Splits rollouts into consecutive groups whose padded size (rows x longest row) stays within
    /// <paramref name="maxTokens"/> (0 = no limit); a single longer rollout still gets a group of its own.</summary>
    public static List<List<Rollout>> SplitByTokens(IReadOnlyList<Rollout> rollouts, int maxTokens)
    {
        var groups = new List<List<Rollout>>();
        var current = new List<Rollout>();
        int longest = 0;
        foreach (var r in rollouts)
        {
            int len = r.PromptIds.Length + r.CompletionIds.Length;
            int newLongest = System.Math.Max(longest, len);
            if (current.Count > 0 && maxTokens > 0 && (long)newLongest * (current.Count + 1) > maxTokens)
            {
                groups.Add(current);
                current = [];
                newLongest = len;
            }
            current.Add(r);
            longest = newLongest;
        }
        if (current.Count > 0) groups.Add(current);
        return groups;
    }

    public void Dispose()
    {
        foreach (var t in new[] { InputIds, Positions, PredictorPositions, Targets, Mask, OldLogProbs, Advantages }) t.Dispose();
        TokenWeights?.Dispose();
    }
}
