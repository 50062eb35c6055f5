using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>
/// Teacher-forced token log-probabilities of whole sequences, batched: <c>result[i][t-1] = log p(ids[t] | ids[&lt;t])</c>.
/// Sequences are sorted by length so a batch holds similar lengths, right-padded (causal attention
/// means padding after a sequence cannot change its real positions), and logits are computed only
/// at real positions, a chunk at a time.
/// </summary>
public static class SequenceLogProbs
{
    public static float[][] Compute(Qwen2ForCausalLM model, IReadOnlyList<int[]> sequences, int batchSize = 8,
        Action<int>? onBatchDone = null)
    {
        if (batchSize <= 0) throw new ArgumentException("batch size must be positive");
        var results = new float[sequences.Count][];
        // Longest first: the biggest batch (peak memory) comes at once, not after minutes of work.
        var order = Enumerable.Range(0, sequences.Count).OrderByDescending(i => sequences[i].Length).ToArray();
        using var noGrad = torch.no_grad();
        for (var start = 0; start < order.Length; start += batchSize)
        {
            var batch = order.Skip(start).Take(batchSize).ToArray();
            var scored = ScoreBatch(model, batch.Select(i => sequences[i]).ToArray());
            for (var j = 0; j < batch.Length; j++) results[batch[j]] = scored[j];
            onBatchDone?.Invoke(start + batch.Length);
        }
        return results;
    }

    static float[][] ScoreBatch(Qwen2ForCausalLM model, int[][] rows)
    {
        using var scope = torch.NewDisposeScope();
        var width = rows.Max(r => r.Length);
        var ids = new long[rows.Length * width];
        var rowsAt = new List<long>();      // flat [row * width + t] of every position that predicts a real token
        var targets = new List<long>();
        for (var r = 0; r < rows.Length; r++)
        {
            for (var t = 0; t < rows[r].Length; t++) ids[r * width + t] = rows[r][t];
            for (var t = 0; t + 1 < rows[r].Length; t++) { rowsAt.Add(r * width + t); targets.Add(rows[r][t + 1]); }
        }
        var device = model.Device;
        var inputIds = torch.tensor(ids, device: device).view(rows.Length, width);
        var positions = torch.arange(width, ScalarType.Int64, device).unsqueeze(0).expand(rows.Length, width);
        var hidden = model.Hidden(inputIds, positions).view(-1, model.Config.HiddenSize);
        var picked = hidden.index_select(0, torch.tensor(rowsAt.ToArray(), device: device));
        var logProbs = TokenLogProbs.LogProbsOnly(picked, model.LmHeadWeight, torch.tensor(targets.ToArray(), device: device))
            .cpu().data<float>().ToArray();

        var result = new float[rows.Length][];
        var offset = 0;
        for (var r = 0; r < rows.Length; r++)
        {
            var n = System.Math.Max(0, rows[r].Length - 1);
            result[r] = logProbs[offset..(offset + n)];
            offset += n;
        }
        return result;
    }
}
