using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>Log-prob of each target token and the entropy of each position's next-token distribution.</summary>
/// <param name="LogProbs">log softmax(h W^T / temperature)[target], shaped like the targets, float32.</param>
/// <param name="Entropy">-sum p log p of the same distribution, shaped like the targets, float32.</param>
public sealed record TokenLogProbsResult(Tensor LogProbs, Tensor Entropy);

/// <summary>
/// Fused, chunked "lm head + log-softmax + gather (+ entropy)": the token log-probs of a batch without keeping
/// [rows, vocab] logits alive. 64 rollouts x 700 tokens x 151,936 vocab as float32 logits would be 27 GB;
/// this keeps one chunk of rows' logits at a time (two [chunk, vocab] buffers) in forward and backward.
/// </summary>
/// <remarks>
/// Forward keeps only per-row numbers (logsumexp, entropy). Backward recomputes each chunk's logits z and,
/// with p = softmax(z), g = grad of the log-probs and e = grad of the entropies, forms
/// dz = g (onehot(target) - p) - e p (log p + H), then grad_h = dz W / temperature and
/// grad_W += dz^T h / temperature. Both outputs therefore have exact gradients (the entropy bonus works).
/// Matmuls run in the inputs' dtype; the softmax runs in float32.
/// Without autograd (under no_grad, or when neither hidden nor weight requires a gradient) the chunks run
/// directly: no autograd node, nothing saved for a backward; <see cref="LogProbsOnly"/> also skips the entropy
/// (its passes over each chunk's [rows, V] logits), which is how sequences are scored (<c>rlvr logprobs</c>).
/// </remarks>
public static class TokenLogProbs
{
    /// <summary>
    /// Rows per chunk by default. 256 rather than 1024: two [256, 151936] float32 buffers are 0.3 GB instead of
    /// 1.2 GB (measured peak 0.66 GiB lower), and a [256, H] x [H, V] matmul is already big enough to run at
    /// full speed: in the runs of docs/model.md neither size was consistently faster.
    /// </summary>
    public const int DefaultChunkRows = 256;

    /// <summary>Log-probs and entropies of <paramref name="targets"/> under softmax(hidden W^T / temperature).</summary>
    /// <param name="hidden">[..., H] final hidden states (the positions predicting each target).</param>
    /// <param name="weight">[V, H] lm-head weight (possibly the tied embedding matrix).</param>
    /// <param name="targets">[...] int64 token ids in [0, V), shaped like hidden without its last dimension.</param>
    /// <param name="chunkRows">Rows whose [rows, V] logits exist at one time.</param>
    /// <param name="temperature">Logits are divided by it (use the sampling temperature to match the sampler's log-probs).</param>
    public static TokenLogProbsResult Compute(Tensor hidden, Tensor weight, Tensor targets, int chunkRows = DefaultChunkRows, double temperature = 1.0)
    {
        Validate(hidden, weight, targets, chunkRows, temperature);
        var (rows, rowTargets) = (hidden.reshape(-1, hidden.shape[^1]), targets.reshape(-1));
        if (NeedsGradient(hidden, weight))
        {
            var outputs = FusedLinearLogSoftmax.apply(rows, weight, rowTargets, chunkRows, temperature);
            return new TokenLogProbsResult(outputs[0].view(targets.shape), outputs[1].view(targets.shape));
        }
        var (logProbs, logSumExp, entropy) = ForwardChunks(rows, weight, rowTargets, chunkRows, temperature, withEntropy: true);
        logSumExp.Dispose();
        return new TokenLogProbsResult(logProbs.view(targets.shape), entropy!.view(targets.shape));
    }

    /// <summary>
    /// The log-probs of <see cref="Compute"/> alone. Without autograd the entropy is not computed at all (scoring,
    /// reference log-probs); with autograd this is <c>Compute(...).LogProbs</c>, gradients included.
    /// </summary>
    public static Tensor LogProbsOnly(Tensor hidden, Tensor weight, Tensor targets, int chunkRows = DefaultChunkRows, double temperature = 1.0)
    {
        if (NeedsGradient(hidden, weight)) return Compute(hidden, weight, targets, chunkRows, temperature).LogProbs;
        Validate(hidden, weight, targets, chunkRows, temperature);
        var (logProbs, logSumExp, _) = ForwardChunks(
            hidden.reshape(-1, hidden.shape[^1]), weight, targets.reshape(-1), chunkRows, temperature, withEntropy: false);
        logSumExp.Dispose();
        return logProbs.view(targets.shape);
    }

    static bool NeedsGradient(Tensor hidden, Tensor weight) => is_grad_enabled() && (hidden.requires_grad || weight.requires_grad);

    /// <summary>
    /// Per-row target log-prob, logsumexp and (when <paramref name="withEntropy"/>) entropy of flattened rows
    /// (hidden [R, H], targets [R]), one chunk of logits at a time, without autograd.
    /// </summary>
    static (Tensor LogProbs, Tensor LogSumExp, Tensor? Entropy) ForwardChunks(
        Tensor hidden, Tensor weight, Tensor targets, int chunkRows, double temperature, bool withEntropy)
    {
        long rows = hidden.shape[0];
        var logProbs = empty(rows, dtype: ScalarType.Float32, device: hidden.device);
        var logSumExp = empty(rows, dtype: ScalarType.Float32, device: hidden.device);
        var entropy = withEntropy ? empty(rows, dtype: ScalarType.Float32, device: hidden.device) : null;
        using (no_grad())
            for (long start = 0; start < rows; start += chunkRows)
            {
                using var scope = NewDisposeScope();
                long n = System.Math.Min(chunkRows, rows - start);
                var logits = Logits(hidden.narrow(0, start, n), weight, temperature);
                var lse = logits.logsumexp(1);
                var target = logits.gather(1, targets.narrow(0, start, n).unsqueeze(1)).squeeze(1);
                logProbs.narrow(0, start, n).copy_(target - lse);
                logSumExp.narrow(0, start, n).copy_(lse);
                if (entropy is null) continue;
                var logP = logits.sub_(lse.unsqueeze(1));             // in place: logits are not needed any more
                entropy.narrow(0, start, n).copy_(-logP.exp().mul_(logP).sum(1));
            }
        return (logProbs, logSumExp, entropy);
    }

    /// <summary>[rows, V] float32 logits of a chunk (the matmul in the inputs' dtype).</summary>
    static Tensor Logits(Tensor hidden, Tensor weight, double temperature)
    {
        var logits = hidden.matmul(weight.t()).to_type(ScalarType.Float32);
        return temperature == 1.0 ? logits : logits.div_(temperature);
    }

    static void Validate(Tensor hidden, Tensor weight, Tensor targets, int chunkRows, double temperature)
    {
        if (weight.ndim != 2 || hidden.ndim < 1 || weight.shape[1] != hidden.shape[^1])
            throw new ArgumentException(
                $"weight has shape {SafeTensors.ShapeText(weight.shape)} and hidden {SafeTensors.ShapeText(hidden.shape)}; expected weight [V, H] with H = hidden's last dimension");
        if (!targets.shape.SequenceEqual(hidden.shape[..^1]))
            throw new ArgumentException(
                $"targets has shape {SafeTensors.ShapeText(targets.shape)}; expected {SafeTensors.ShapeText(hidden.shape[..^1])} (hidden without its last dimension)");
        if (targets.dtype != ScalarType.Int64)
            throw new ArgumentException($"targets has dtype {targets.dtype}; expected Int64 token ids");
        if (hidden.dtype != weight.dtype)
            throw new ArgumentException($"hidden has dtype {hidden.dtype} but weight {weight.dtype}; they must match");
        if (chunkRows < 1) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "must be at least 1");
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "must be positive");
        if (targets.numel() == 0) return;
        long vocab = weight.shape[0];
        long min = targets.min().item<long>(), max = targets.max().item<long>();
        if (min < 0 || max >= vocab)
            throw new ArgumentException($"targets holds token ids in [{min}, {max}]; the vocabulary (weight rows) is [0, {vocab})");
    }

    /// <summary>The autograd function over flattened rows: (hidden [R, H], weight [V, H], targets [R]) -> (logp [R], entropy [R]).</summary>
    sealed class FusedLinearLogSoftmax : autograd.MultiTensorFunction<FusedLinearLogSoftmax>
    {
        public override string Name => "FusedLinearLogSoftmax";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (hidden, weight, targets) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            var (chunkRows, temperature) = ((int)vars[3], (double)vars[4]);
            var (logProbs, logSumExp, entropy) = ForwardChunks(hidden, weight, targets, chunkRows, temperature, withEntropy: true);
            // entropy is an output: save a copy, so the saved tensors hold no reference back to this node.
            ctx.save_for_backward([hidden, weight, targets, logSumExp, entropy!.clone()]);
            ctx.save_data("chunkRows", chunkRows);
            ctx.save_data("temperature", temperature);
            return [logProbs, entropy];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var saved = ctx.get_saved_variables();
            var (hidden, weight, targets, logSumExp, entropy) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            var chunkRows = (int)ctx.get_data("chunkRows");
            var temperature = (double)ctx.get_data("temperature");
            var gradLogProbs = grads[0];
            Tensor? gradEntropy = IsZeroOrMissing(grads[1]) ? null : grads[1];
            long rows = hidden.shape[0];
            var gradHidden = hidden.requires_grad ? zeros_like(hidden) : null;
            var gradWeight = weight.requires_grad ? zeros_like(weight) : null;
            using (no_grad())
                for (long start = 0; start < rows; start += chunkRows)
                {
                    using var scope = NewDisposeScope();
                    long n = System.Math.Min(chunkRows, rows - start);
                    var h = hidden.narrow(0, start, n);
                    var g = gradLogProbs.narrow(0, start, n).unsqueeze(1);
                    var logP = Logits(h, weight, temperature).sub_(logSumExp.narrow(0, start, n).unsqueeze(1));
                    var p = logP.exp();
                    // dz = g (onehot - p) - e p (log p + H) = p * (-(g + e H) - e log p) + g onehot
                    var dLogits = gradEntropy is null
                        ? p.mul_(-g)
                        : p.mul_(logP.mul_(gradEntropy.narrow(0, start, n).unsqueeze(1))
                                     .add_(g + (gradEntropy.narrow(0, start, n) * entropy.narrow(0, start, n)).unsqueeze(1))
                                     .neg_());
                    dLogits.scatter_add_(1, targets.narrow(0, start, n).unsqueeze(1), g);
                    dLogits = dLogits.div_(temperature).to_type(hidden.dtype);
                    gradHidden?.narrow(0, start, n).copy_(dLogits.matmul(weight));
                    gradWeight?.addmm_(dLogits.t(), h);
                }
            // one entry per argument of apply: hidden, weight, targets, chunkRows, temperature
            return [gradHidden!, gradWeight!, null!, null!, null!];
        }

        /// <summary>The entropy output usually feeds only the logs: skip its term when its gradient is absent or all zeros.</summary>
        static bool IsZeroOrMissing(Tensor? grad) => grad is null || grad.IsInvalid || !grad.any().item<bool>();
    }
}
