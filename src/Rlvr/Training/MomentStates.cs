using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>How AdamW stores its two moments between updates.</summary>
public enum MomentPrecision
{
    /// <summary>fp32, as torch.optim.AdamW: 8 bytes per parameter.</summary>
    Float32,
    /// <summary>bf16 (rounded to nearest after every update): 4 bytes per parameter.</summary>
    BFloat16,
    /// <summary>bitsandbytes' 8-bit blockwise dynamic quantization: about 2 bytes per parameter.</summary>
    EightBit,
}

public static class MomentPrecisions
{
    public static readonly string[] Names = ["fp32", "bf16", "8bit"];

    public static MomentPrecision Parse(string name) => name switch
    {
        "fp32" => MomentPrecision.Float32,
        "bf16" => MomentPrecision.BFloat16,
        "8bit" => MomentPrecision.EightBit,
        _ => throw new ArgumentException($"optimizer_states: '{name}' is not one of {string.Join(", ", Names)}"),
    };

    /// <summary>Bytes the two moments take per parameter (8-bit: codes plus one fp32 scale per block).</summary>
    public static double BytesPerParameter(MomentPrecision precision) => precision switch
    {
        MomentPrecision.Float32 => 8,
        MomentPrecision.BFloat16 => 4,
        _ => 2 + 2 * 4.0 / BlockwiseQuantization.BlockSize,
    };
}

/// <summary>
/// AdamW's first and second moments of one parameter, stored in some precision. <see cref="Update"/> hands
/// the moments to the update as fp32 tensors a chunk at a time (views of the storage for fp32; dequantized
/// copies otherwise, stored back afterwards), so no full-size fp32 copy of a large tensor is ever made.
/// </summary>
public abstract class MomentState : IDisposable
{
    /// <summary>Elements per chunk: a multiple of the quantization block, 16 MiB of fp32.</summary>
    public const long ChunkElements = 2048L * 2048;

    public long Numel { get; }

    protected MomentState(long numel) => Numel = numel;

    /// <summary>The precision a tensor of <paramref name="numel"/> elements really gets: bitsandbytes keeps fp32 states below 4096 elements.</summary>
    public static MomentPrecision Effective(MomentPrecision requested, long numel) =>
        requested == MomentPrecision.EightBit && numel < BlockwiseQuantization.MinElements ? MomentPrecision.Float32 : requested;

    public static MomentState Zeros(MomentPrecision precision, long numel, Device device) => Effective(precision, numel) switch
    {
        MomentPrecision.Float32 => new Float32Moments(zeros(numel, device: device), zeros(numel, device: device)),
        MomentPrecision.BFloat16 => new BFloat16Moments(zeros(numel, ScalarType.BFloat16, device), zeros(numel, ScalarType.BFloat16, device)),
        _ => new EightBitMoments(numel, device),
    };

    /// <summary>Runs <paramref name="step"/>(start, length, m, v) over consecutive chunks; m and v are fp32 [length] and what the step leaves in them is stored.</summary>
    public abstract void Update(Action<long, long, Tensor, Tensor> step, bool store = true);

    /// <summary>The stored tensors by name suffix (appended to the parameter's name in a checkpoint).</summary>
    public abstract IEnumerable<(string Suffix, Tensor Tensor)> Tensors();

    /// <summary>How the moments are stored, for the fused kernel (<see cref="Kernels.AdamWStep"/>).</summary>
    internal abstract Kernels.MomentLayout Layout { get; }

    /// <summary>The stored moments and, for 8 bits, their block scales (null otherwise), for the fused kernel.</summary>
    internal abstract (Tensor M, Tensor V, Tensor? MScale, Tensor? VScale) Storage { get; }

    /// <summary>
    /// The state of a parameter of <paramref name="numel"/> elements from checkpoint tensors (by suffix, as
    /// <see cref="Tensors"/> names them); null when none are there (the parameter was never updated). The
    /// stored form must be the one this precision gives such a tensor: the error names the parameter.
    /// </summary>
    public static MomentState? FromTensors(string name, long numel, MomentPrecision precision, Func<string, Tensor?> find, Device device)
    {
        var expected = Effective(precision, numel);
        var m = find(".exp_avg");
        var v = find(".exp_avg_sq");
        if (m is null && v is null) return null;
        if (m is null || v is null) throw new InvalidDataException($"optimizer state for '{name}' is incomplete (needs exp_avg and exp_avg_sq)");
        var stored = m.dtype switch
        {
            ScalarType.Float32 => MomentPrecision.Float32,
            ScalarType.BFloat16 => MomentPrecision.BFloat16,
            ScalarType.Byte => MomentPrecision.EightBit,
            var other => throw new InvalidDataException($"optimizer state for '{name}' has dtype {other}"),
        };
        if (stored != expected || v.dtype != m.dtype)
            throw new InvalidDataException($"optimizer state for '{name}' is stored as {m.dtype}/{v.dtype}, but this run keeps it as {expected} (optimizer_states)");
        if (m.numel() != numel || v.numel() != numel)
            throw new InvalidDataException($"optimizer state for '{name}' has {m.numel()}/{v.numel()} elements, the parameter {numel}");
        Tensor Own(Tensor t) => t.reshape(-1).to(device).DetachFromDisposeScope();
        switch (expected)
        {
            case MomentPrecision.Float32: return new Float32Moments(Own(m), Own(v));
            case MomentPrecision.BFloat16: return new BFloat16Moments(Own(m), Own(v));
        }
        var blocks = BlockwiseQuantization.Blocks(numel);
        var mScale = find(".exp_avg.absmax");
        var vScale = find(".exp_avg_sq.absmax");
        if (mScale is null || vScale is null || mScale.numel() != blocks || vScale.numel() != blocks || mScale.dtype != ScalarType.Float32 || vScale.dtype != ScalarType.Float32)
            throw new InvalidDataException($"optimizer state for '{name}' lacks its fp32 absmax scales ({blocks} per moment)");
        return new EightBitMoments(Own(m), Own(mScale), Own(v), Own(vScale));
    }

    public abstract void Dispose();

    sealed class Float32Moments(Tensor m, Tensor v) : MomentState(m.numel())
    {
        public override void Update(Action<long, long, Tensor, Tensor> step, bool store = true)
        {
            for (long start = 0; start < Numel; start += ChunkElements)
            {
                var length = System.Math.Min(ChunkElements, Numel - start);
                using var mc = m.narrow(0, start, length);
                using var vc = v.narrow(0, start, length);
                step(start, length, mc, vc);
            }
        }

        public override IEnumerable<(string, Tensor)> Tensors() => [(".exp_avg", m), (".exp_avg_sq", v)];
        internal override Kernels.MomentLayout Layout => Kernels.MomentLayout.Float32;
        internal override (Tensor, Tensor, Tensor?, Tensor?) Storage => (m, v, null, null);
        public override void Dispose() { m.Dispose(); v.Dispose(); }
    }

    sealed class BFloat16Moments(Tensor m, Tensor v) : MomentState(m.numel())
    {
        public override void Update(Action<long, long, Tensor, Tensor> step, bool store = true)
        {
            for (long start = 0; start < Numel; start += ChunkElements)
            {
                var length = System.Math.Min(ChunkElements, Numel - start);
                using var scope = NewDisposeScope();
                var mc = m.narrow(0, start, length);
                var vc = v.narrow(0, start, length);
                var m32 = mc.to(ScalarType.Float32);
                var v32 = vc.to(ScalarType.Float32);
                step(start, length, m32, v32);
                if (!store) continue;
                mc.copy_(m32);
                vc.copy_(v32);
            }
        }

        public override IEnumerable<(string, Tensor)> Tensors() => [(".exp_avg", m), (".exp_avg_sq", v)];
        internal override Kernels.MomentLayout Layout => Kernels.MomentLayout.BFloat16;
        internal override (Tensor, Tensor, Tensor?, Tensor?) Storage => (m, v, null, null);
        public override void Dispose() { m.Dispose(); v.Dispose(); }
    }

    /// <summary>bitsandbytes' 8-bit state: the first moment on the signed dynamic code, the second on the unsigned one.</summary>
    sealed class EightBitMoments : MomentState
    {
        readonly Tensor m, mScale, v, vScale;

        public EightBitMoments(long numel, Device device) : base(numel)
        {
            // Code index of 0 in each table, so that a fresh state dequantizes to zeros.
            m = full(numel, BlockwiseQuantization.ZeroIndex(signed: true), ScalarType.Byte, device);
            v = full(numel, BlockwiseQuantization.ZeroIndex(signed: false), ScalarType.Byte, device);
            mScale = zeros(BlockwiseQuantization.Blocks(numel), device: device);
            vScale = zeros(BlockwiseQuantization.Blocks(numel), device: device);
        }

        public EightBitMoments(Tensor m, Tensor mScale, Tensor v, Tensor vScale) : base(m.numel()) =>
            (this.m, this.mScale, this.v, this.vScale) = (m, mScale, v, vScale);

        public override void Update(Action<long, long, Tensor, Tensor> step, bool store = true)
        {
            const long bs = BlockwiseQuantization.BlockSize;
            for (long start = 0; start < Numel; start += ChunkElements)
            {
                var length = System.Math.Min(ChunkElements, Numel - start);
                long firstBlock = start / bs, blocks = BlockwiseQuantization.Blocks(length);
                using var scope = NewDisposeScope();
                var (mc, ms) = (m.narrow(0, start, length), mScale.narrow(0, firstBlock, blocks));
                var (vc, vs) = (v.narrow(0, start, length), vScale.narrow(0, firstBlock, blocks));
                var m32 = BlockwiseQuantization.Dequantize(mc, ms, signed: true);
                var v32 = BlockwiseQuantization.Dequantize(vc, vs, signed: false);
                step(start, length, m32, v32);
                if (!store) continue;
                var (mq, mAbs) = BlockwiseQuantization.Quantize(m32, signed: true);
                var (vq, vAbs) = BlockwiseQuantization.Quantize(v32, signed: false);
                mc.copy_(mq); ms.copy_(mAbs);
                vc.copy_(vq); vs.copy_(vAbs);
            }
        }

        public override IEnumerable<(string, Tensor)> Tensors() =>
            [(".exp_avg", m), (".exp_avg.absmax", mScale), (".exp_avg_sq", v), (".exp_avg_sq.absmax", vScale)];

        internal override Kernels.MomentLayout Layout => Kernels.MomentLayout.EightBit;
        internal override (Tensor, Tensor, Tensor?, Tensor?) Storage => (m, v, mScale, vScale);

        public override void Dispose() { m.Dispose(); mScale.Dispose(); v.Dispose(); vScale.Dispose(); }
    }
}
