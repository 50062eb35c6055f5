using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>AdamW (decoupled weight decay), the same update as torch.optim.AdamW, with its state
/// (moments and step count) exposed by parameter name so checkpoints can save and restore it exactly.</summary>
public sealed class AdamW(IReadOnlyList<(string Name, Tensor Param)> parameters, double beta1, double beta2, double eps, double weightDecay)
{
    readonly Dictionary<string, (Tensor M, Tensor V)> moments = new();

    /// <summary>Updates done so far (the bias corrections depend on it).</summary>
    public long Step { get; private set; }

    /// <summary>
    /// One update with the gradients in the parameters' .grad; parameters without a gradient are left alone.
    /// When the update would make any weight or moment NaN or infinite (a huge learning rate, a gradient that
    /// overflows when squared), nothing is changed and false is returned: the step is skipped, not applied.
    /// </summary>
    public bool Update(double lr)
    {
        if (!UpdateStaysFinite(lr)) return false;
        Step++;
        double bc1 = 1 - System.Math.Pow(beta1, Step), bc2 = 1 - System.Math.Pow(beta2, Step);
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            var g = p.grad;
            if (g is null) continue;
            if (!moments.TryGetValue(name, out var mv))
                moments[name] = mv = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
            p.mul_(1 - lr * weightDecay);
            mv.M.mul_(beta1).add_(g, alpha: 1 - beta1);
            mv.V.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
            using var denom = mv.V.sqrt().div_(System.Math.Sqrt(bc2)).add_(eps);
            p.addcdiv_(mv.M, denom, value: -lr / bc1);
        }
        return true;
    }

    /// <summary>The update of <see cref="Update"/> computed out of place, one parameter at a time, to check that
    /// it leaves every weight and moment finite before anything is changed (about as much work as the update).</summary>
    bool UpdateStaysFinite(double lr)
    {
        long step = Step + 1;
        double bc1 = 1 - System.Math.Pow(beta1, step), bc2 = 1 - System.Math.Pow(beta2, step);
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            if (p.grad is not { } g) continue;
            using var scope = NewDisposeScope();
            var (m0, v0) = moments.TryGetValue(name, out var mv) ? mv : (zeros_like(p), zeros_like(p));
            var m = m0.mul(beta1).add_(g, alpha: 1 - beta1);
            var v = v0.mul(beta2).addcmul_(g, g, value: 1 - beta2);
            var next = p.mul(1 - lr * weightDecay).addcdiv_(m, v.sqrt().div_(System.Math.Sqrt(bc2)).add_(eps), value: -lr / bc1);
            if (!(next.isfinite().all().item<bool>() && v.isfinite().all().item<bool>() && m.isfinite().all().item<bool>())) return false;
        }
        return true;
    }

    /// <summary>The state as named tensors (<c>NAME.exp_avg</c>, <c>NAME.exp_avg_sq</c>) for a checkpoint.</summary>
    public Dictionary<string, Tensor> StateTensors()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, (m, v)) in moments)
        {
            state[name + ".exp_avg"] = m;
            state[name + ".exp_avg_sq"] = v;
        }
        return state;
    }

    /// <summary>Restores the state saved by <see cref="StateTensors"/> (the tensors become the moments: do not dispose them);
    /// a parameter with a missing or mis-shaped moment is an error naming it.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, long step)
    {
        Step = step;
        moments.Clear();
        foreach (var (name, p) in parameters)
        {
            bool hasM = state.TryGetValue(name + ".exp_avg", out var m), hasV = state.TryGetValue(name + ".exp_avg_sq", out var v);
            if (!hasM && !hasV) continue;
            if (!hasM || !hasV || !m!.shape.SequenceEqual(p.shape) || !v!.shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"optimizer state for '{name}' is incomplete or has the wrong shape");
            moments[name] = (m.to(p.device).DetachFromDisposeScope(), v.to(p.device).DetachFromDisposeScope());
        }
    }

    /// <summary>Global L2 norm of all gradients (before clipping).</summary>
    public double GradNorm()
    {
        using var _ = NewDisposeScope();
        double sum = 0;
        foreach (var (_, p) in parameters)
            if (p.grad is { } g) sum += g.square().sum().item<float>();
        return System.Math.Sqrt(sum);
    }

    /// <summary>Scales gradients so their global norm is at most <paramref name="maxNorm"/> (as torch's clip_grad_norm_).</summary>
    public void ClipGradients(double norm, double maxNorm)
    {
        if (maxNorm <= 0) return;
        double coef = maxNorm / (norm + 1e-6);
        if (coef >= 1) return;
        using var _ = no_grad();
        foreach (var (_, p) in parameters) p.grad?.mul_(coef);
    }

    public void ZeroGrad()
    {
        foreach (var (_, p) in parameters) p.grad?.zero_();
    }
}
