using Rlvr.Kernels;
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
    /// Whether updates run through the fused kernel (<see cref="AdamWStep"/>) where they can: fp32 parameters, gradients and
    /// moments in contiguous CPU storage. Off, every parameter takes the torch ops (the reference the kernel is tested against).
    /// </summary>
    internal bool UseKernel { get; set; } = true;

    /// <summary>Threads for the fused kernel; 0 = torch's thread count.</summary>
    internal int KernelThreads { get; set; }

    /// <summary>Seconds the last <see cref="Update"/> spent in the fused kernel's check and in its update (0 when it did not run).</summary>
    internal (double Check, double Apply) LastKernelSeconds { get; private set; }

    /// <summary>
    /// One update with the gradients in the parameters' .grad; parameters without a gradient are left alone.
    /// When the update would make any weight or moment NaN or infinite (a huge learning rate, a gradient that
    /// overflows when squared), nothing is changed and false is returned: the step is skipped, not applied.
    /// </summary>
    public bool Update(double lr)
    {
        using var _ = no_grad();
        var fused = new List<(string Name, Tensor P, Tensor G)>();
        var other = new List<(string Name, Tensor P, Tensor G)>();
        foreach (var (name, p) in parameters)
        {
            if (p.grad is not { } g) continue;
            (UseKernel && KernelCanTake(p, g, moments.GetValueOrDefault(name)) ? fused : other).Add((name, p, g));
        }
        int threads = KernelThreads > 0 ? KernelThreads : System.Math.Max(1, get_num_threads());
        var next = new AdamWScalars(lr, beta1, beta2, eps, weightDecay, Step + 1);

        // First every check, changing nothing: the fused kernel's, then the torch ops' on the parameters it does not take.
        LastKernelSeconds = (0, 0);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (fused.Count > 0)
        {
            var (tensors, alive) = KernelTensors(fused, requireState: false);
            bool finite = AdamWStep.StaysFinite(tensors, next, threads);
            GC.KeepAlive(alive);
            LastKernelSeconds = (clock.Elapsed.TotalSeconds, 0);
            if (!finite) return false;
        }
        foreach (var (name, p, g) in other)
            if (!TorchStaysFinite(name, p, g, lr)) return false;

        Step++;
        foreach (var (name, p, _) in fused.Concat(other))
            if (!moments.ContainsKey(name))
                moments[name] = MomentState.Zeros(precision, p.numel(), p.device);
        if (fused.Count > 0)
        {
            var (tensors, alive) = KernelTensors(fused, requireState: true);
            clock.Restart();
            AdamWStep.Apply(tensors, next, threads);
            GC.KeepAlive(alive);
            LastKernelSeconds = LastKernelSeconds with { Apply = clock.Elapsed.TotalSeconds };
        }
        foreach (var (name, p, g) in other) TorchUpdate(name, p, g, lr);
        return true;
    }

    /// <summary>Whether the fused kernel can update this parameter: fp32 weight and gradient of the same size, contiguous on
    /// the CPU, and moments (if any yet) stored as the kernel reads them.</summary>
    static bool KernelCanTake(Tensor p, Tensor g, MomentState? state)
    {
        static bool Dense(Tensor t, ScalarType dtype) => t.device_type == DeviceType.CPU && t.dtype == dtype && t.is_contiguous();
        if (!Dense(p, ScalarType.Float32) || !Dense(g, ScalarType.Float32) || g.numel() != p.numel()) return false;
        if (state is null) return true;
        var (m, v, ms, vs) = state.Storage;
        var dtype = state.Layout switch { MomentLayout.Float32 => ScalarType.Float32, MomentLayout.BFloat16 => ScalarType.BFloat16, _ => ScalarType.Byte };
        return Dense(m, dtype) && Dense(v, dtype) && (ms is null || Dense(ms, ScalarType.Float32)) && (vs is null || Dense(vs, ScalarType.Float32));
    }

    /// <summary>The kernel's view of the parameters, and the tensors to keep alive while it runs.</summary>
    unsafe (AdamWTensor[] Tensors, List<Tensor> Alive) KernelTensors(List<(string Name, Tensor P, Tensor G)> entries, bool requireState)
    {
        var tensors = new AdamWTensor[entries.Count];
        var alive = new List<Tensor>();
        for (int i = 0; i < entries.Count; i++)
        {
            var (name, p, g) = entries[i];
            float* pp = TensorMemory.Float32(p, name), gp = TensorMemory.Float32(g, name + ".grad");
            alive.Add(p); alive.Add(g);
            if (!moments.TryGetValue(name, out var state))
            {
                if (requireState) throw new InvalidOperationException($"AdamW: no moments for '{name}'");
                tensors[i] = new AdamWTensor(pp, gp, null, null, null, null, p.numel(), LayoutOf(MomentState.Effective(precision, p.numel())));
                continue;
            }
            var (m, v, ms, vs) = state.Storage;
            var dtype = state.Layout switch { MomentLayout.Float32 => ScalarType.Float32, MomentLayout.BFloat16 => ScalarType.BFloat16, _ => ScalarType.Byte };
            alive.Add(m); alive.Add(v);
            float* msp = null, vsp = null;
            if (ms is not null && vs is not null)
            {
                msp = TensorMemory.Float32(ms, name + ".exp_avg.absmax");
                vsp = TensorMemory.Float32(vs, name + ".exp_avg_sq.absmax");
                alive.Add(ms); alive.Add(vs);
            }
            tensors[i] = new AdamWTensor(pp, gp, TensorMemory.Pointer(m, dtype, name + ".exp_avg"), TensorMemory.Pointer(v, dtype, name + ".exp_avg_sq"),
                msp, vsp, p.numel(), state.Layout);
        }
        return (tensors, alive);
    }

    static MomentLayout LayoutOf(MomentPrecision precision) => precision switch
    {
        MomentPrecision.Float32 => MomentLayout.Float32,
        MomentPrecision.BFloat16 => MomentLayout.BFloat16,
        _ => MomentLayout.EightBit,
    };

    /// <summary>The update of one parameter with torch ops, a chunk of the moments at a time (the reference path, and the
    /// one for parameters the kernel does not take: not on the CPU, not fp32, not contiguous).</summary>
    void TorchUpdate(string name, Tensor p, Tensor g, double lr)
    {
        double bc1 = 1 - System.Math.Pow(beta1, Step), bc2 = 1 - System.Math.Pow(beta2, Step);
        var state = moments[name];
        // A non-contiguous parameter is updated in a contiguous copy, then copied back.
        var work = p.is_contiguous() ? p : p.contiguous();
        work.mul_(1 - lr * weightDecay);
        using var flat = work.view(-1);
        using var flatGrad = g.reshape(-1);
        state.Update((start, length, m, v) =>
        {
            using var pc = flat.narrow(0, start, length);
            using var gc = flatGrad.narrow(0, start, length);
            m.mul_(beta1).add_(gc, alpha: 1 - beta1);
            v.mul_(beta2).addcmul_(gc, gc, value: 1 - beta2);
            using var denom = v.sqrt().div_(System.Math.Sqrt(bc2)).add_(eps);
            pc.addcdiv_(m, denom, value: -lr / bc1);
        });
        if (!ReferenceEquals(work, p))
        {
            p.copy_(work);
            work.Dispose();
        }
    }

    /// <summary>The update of <see cref="TorchUpdate"/> computed out of place, to check that it leaves every weight and
    /// moment of the parameter finite before anything is changed (about as much work as the update).</summary>
    bool TorchStaysFinite(string name, Tensor p, Tensor g, double lr)
    {
        long step = Step + 1;
        double bc1 = 1 - System.Math.Pow(beta1, step), bc2 = 1 - System.Math.Pow(beta2, step);
        using var scope = NewDisposeScope();
        var flat = p.reshape(-1);
        var flatGrad = g.reshape(-1);
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
        return finite;
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

    /// <summary>
    /// Global L2 norm of all gradients (before clipping). Each parameter's sum of squares is rounded to fp32 before the
    /// sums are added (in double), as when torch summed each gradient's squares in fp32: a gradient whose squares
    /// overflow fp32 gives an infinite norm, and the step is skipped. CPU fp32 contiguous gradients are summed by a
    /// kernel (in double, without the temporary of <c>g.square()</c>); others with torch ops.
    /// </summary>
    public unsafe double GradNorm()
    {
        using var _ = NewDisposeScope();
        var grads = parameters.Select(p => p.Param.grad).ToList();
        bool Dense(Tensor? g) => UseKernel && g is not null && g.device_type == DeviceType.CPU && g.dtype == ScalarType.Float32 && g.is_contiguous();
        var dense = grads.Where(Dense).Select(g => g!).ToList();
        var sums = AdamWStep.SumsOfSquares(dense.Select(g => ((IntPtr)TensorMemory.Float32(g, "gradient"), g.numel())).ToArray(),
            KernelThreads > 0 ? KernelThreads : System.Math.Max(1, get_num_threads()));
        GC.KeepAlive(dense);
        double sum = 0;
        int next = 0;
        foreach (var g in grads)
        {
            if (g is null) continue;
            sum += Dense(g) ? (float)sums[next++] : g.square().sum().item<float>();
        }
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
