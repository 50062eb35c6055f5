using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>AdamW (decoupled weight decay), the same update as torch.optim.AdamW, with its state
/// (moments and step count) exposed by parameter name so checkpoints can save and restore it exactly.
/// The moments are kept in fp32, bf16 or 8 bits (<see cref="MomentPrecision"/>); the update itself is fp32 in every case.</summary>
public sealed class AdamW(IReadOnlyList<(string Name, Tensor Param)> parameters, double beta1, double beta2, double eps, double weightDecay,
    MomentPrecision precision = MomentPrecision.Float32)
{
    readonly Dictionary<string, MomentState> moments = new();

    public MomentPrecision Precision => precision;

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
            if (!moments.TryGetValue(name, out var state))
                moments[name] = state = MomentState.Zeros(precision, p.numel(), p.device);
            p.mul_(1 - lr * weightDecay);
            using var flat = p.view(-1);
            using var flatGrad = g.view(-1);
            state.Update((start, length, m, v) =>
            {
                using var pc = flat.narrow(0, start, length);
                using var gc = flatGrad.narrow(0, start, length);
                m.mul_(beta1).add_(gc, alpha: 1 - beta1);
                v.mul_(beta2).addcmul_(gc, gc, value: 1 - beta2);
                using var denom = v.sqrt().div_(System.Math.Sqrt(bc2)).add_(eps);
                pc.addcdiv_(m, denom, value: -lr / bc1);
            });
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
            using var flat = p.view(-1);
            using var flatGrad = g.view(-1);
            bool finite = true;
            void Check(long start, long length, Tensor m0, Tensor v0)
            {
                if (!finite) return;
                using var inner = NewDisposeScope();
                var gc = flatGrad.narrow(0, start, length);
                var m = m0.mul(beta1).add_(gc, alpha: 1 - beta1);
                var v = v0.mul(beta2).addcmul_(gc, gc, value: 1 - beta2);
                var next = flat.narrow(0, start, length).mul(1 - lr * weightDecay).addcdiv_(m, v.sqrt().div_(System.Math.Sqrt(bc2)).add_(eps), value: -lr / bc1);
                finite = next.isfinite().all().item<bool>() && v.isfinite().all().item<bool>() && m.isfinite().all().item<bool>();
            }
            if (moments.TryGetValue(name, out var state)) state.Update(Check, store: false);   // reads the moments, changes nothing
            else Check(0, flat.numel(), zeros_like(flat), zeros_like(flat));
            if (!finite) return false;
        }
        return true;
    }

    /// <summary>The state as named tensors for a checkpoint: <c>NAME.exp_avg</c> and <c>NAME.exp_avg_sq</c>, flat, in the stored
    /// dtype (fp32, bf16, or uint8 codes with <c>NAME.exp_avg.absmax</c> and <c>NAME.exp_avg_sq.absmax</c> scales per block of 2048).</summary>
    public Dictionary<string, Tensor> StateTensors()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, moment) in moments)
            foreach (var (suffix, tensor) in moment.Tensors())
                state[name + suffix] = tensor;
        return state;
    }

    /// <summary>Restores the state saved by <see cref="StateTensors"/> (the tensors become the moments: do not dispose them);
    /// a parameter with a missing, mis-sized or differently stored moment is an error naming it.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, long step)
    {
        Step = step;
        foreach (var moment in moments.Values) moment.Dispose();
        moments.Clear();
        foreach (var (name, p) in parameters)
            if (MomentState.FromTensors(name, p.numel(), precision, suffix => state.GetValueOrDefault(name + suffix), p.device) is { } moment)
                moments[name] = moment;
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
