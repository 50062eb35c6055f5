using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlvr.Kernels;

/// <summary>How the kernel finds one parameter's moments.</summary>
internal enum MomentLayout
{
    /// <summary>fp32 [n].</summary>
    Float32,
    /// <summary>bf16 [n] (the upper 16 bits of an fp32), rounded to nearest even when stored, as torch's <c>.to(bfloat16)</c>.</summary>
    BFloat16,
    /// <summary>uint8 codes [n] with one fp32 absmax per block of 2048, bitsandbytes' dynamic code (signed for m, unsigned for v).</summary>
    EightBit,
}

/// <summary>
/// One parameter for <see cref="AdamWStep"/>: pointers into contiguous CPU storage, which the caller keeps alive
/// (GC.KeepAlive of the tensors) until the kernel returns. M and V null mean moments that do not exist yet: zeros
/// (only <see cref="AdamWStep.StaysFinite"/> accepts that).
/// </summary>
internal readonly unsafe struct AdamWTensor(float* p, float* g, void* m, void* v, float* mScale, float* vScale, long length, MomentLayout layout)
{
    public readonly float* P = p, G = g;
    public readonly void* M = m, V = v;
    public readonly float* MScale = mScale, VScale = vScale;
    public readonly long Length = length;
    public readonly MomentLayout Layout = layout;
}

/// <summary>
/// The step's scalars as fp32, rounded from the double hyper-parameters exactly as torch rounds a Scalar for an fp32
/// tensor, so that the kernel's arithmetic is the same as that of the torch ops in <c>AdamW</c>'s reference path.
/// </summary>
internal readonly struct AdamWScalars
{
    public readonly float Decay, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, SqrtBc2, Eps, StepSize;

    /// <param name="step">The step being taken (1 for the first update): the bias corrections depend on it.</param>
    public AdamWScalars(double lr, double beta1, double beta2, double eps, double weightDecay, long step)
    {
        double bc1 = 1 - System.Math.Pow(beta1, step), bc2 = 1 - System.Math.Pow(beta2, step);
        Decay = (float)(1 - lr * weightDecay);
        Beta1 = (float)beta1;
        OneMinusBeta1 = (float)(1 - beta1);
        Beta2 = (float)beta2;
        OneMinusBeta2 = (float)(1 - beta2);
        SqrtBc2 = (float)System.Math.Sqrt(bc2);
        Eps = (float)eps;
        StepSize = (float)(-lr / bc1);
    }
}

/// <summary>
/// AdamW's update fused into one pass over each parameter, in place, on all parameters at once (work split in chunks of
/// <see cref="ChunkElements"/> over the threads), with no temporaries. Per element, in fp32, with the operations (and
/// roundings) of the torch ops it replaces, as ATen's vectorized CPU kernels do them (add with alpha and addcmul are FMAs):
/// <code>
/// m' = fma(g, 1-b1, m*b1)                             m.mul_(b1).add_(g, alpha: 1-b1)
/// v' = fma((1-b2)*g, g, v*b2)                         v.mul_(b2).addcmul_(g, g, value: 1-b2)
/// p' = p*(1-lr*wd) + ((-lr/bc1)*m') / (sqrt(v')/sqrt(bc2) + eps)    p.mul_(1-lr*wd); p.addcdiv_(m', v'.sqrt().div_(sqrt(bc2)).add_(eps), value: -lr/bc1)
/// </code>
/// The moments come out bit for bit as torch's; the weights within an ulp or so, because the square root here is
/// correctly rounded and libtorch's is not always. bf16 moments are widened (a 16-bit shift) before and rounded to
/// nearest even after, as torch's <c>.to(bfloat16)</c>; 8-bit ones are dequantized a block of 2048 at a time into a
/// buffer on the stack, updated there, and requantized with the absmax, division and nearest-code rule (with
/// bitsandbytes' sign rule) of <c>BlockwiseQuantization.Quantize</c>, to the same codes.
/// <para>
/// The finiteness contract (nothing changes when the step would make a weight or a moment NaN or infinite) is kept by
/// two passes over everything: <see cref="StaysFinite"/> reads and writes nothing, then <see cref="Apply"/> writes.
/// The check first tries a cheap bound per chunk (<see cref="Bound"/>: no square root or division; an 8-bit chunk
/// reads only the weights, gradients and block scales), which is sufficient for finiteness and holds by many orders
/// of magnitude in any real training step. Where it does not hold, the chunk is checked exactly: every new value is
/// computed in registers by the same inlined <see cref="Coefficients.Update"/> that <see cref="Apply"/> runs, and each
/// new weight and moment is checked as it will be stored (a bf16 moment is finite after rounding iff its fp32
/// magnitude is below 0x7F7F8000; an 8-bit moment iff all fp32 values of its block are, as codes are in [-1, 1] times
/// the block's absmax, one of those values). The arithmetic is deterministic and elementwise, so the values
/// <see cref="Apply"/> writes are bit for bit the ones checked.
/// </para>
/// </summary>
internal static unsafe class AdamWStep
{
    /// <summary>Elements per unit of work: a multiple of the 8-bit block (2048) and of the vector width.</summary>
    public const int ChunkElements = 1 << 16;

    const int Block = 2048;

    /// <summary>Whether applying the step to all <paramref name="tensors"/> leaves every weight and stored moment finite. Reads only.</summary>
    public static bool StaysFinite(AdamWTensor[] tensors, AdamWScalars s, int threads)
    {
        int bad = 0;
        ForEachChunk(tensors, threads, (t, start, length) =>
        {
            if (Volatile.Read(ref bad) != 0) return;
            if (!CheckChunk(t, start, length, s)) Volatile.Write(ref bad, 1);
        });
        return bad == 0;
    }

    /// <summary>Applies the step in place: weights, moments and (8-bit) block scales. Every moment must exist.</summary>
    public static void Apply(AdamWTensor[] tensors, AdamWScalars s, int threads)
    {
        foreach (var t in tensors)
            if (t.M == null || t.V == null || (t.Layout == MomentLayout.EightBit && (t.MScale == null || t.VScale == null)))
                throw new ArgumentException("AdamWStep.Apply: every moment must exist");
        ForEachChunk(tensors, threads, (t, start, length) => ApplyChunk(t, start, length, s));
    }

    /// <summary>
    /// For each fp32 array (pointer and length), the sum of the squares of its elements, accumulated in double over
    /// chunks of <see cref="ChunkElements"/> added in order (so the same for any number of threads). For the gradient norm.
    /// </summary>
    public static double[] SumsOfSquares((IntPtr Data, long Length)[] arrays, int threads)
    {
        var work = new List<(int Array, long Start)>();
        for (int i = 0; i < arrays.Length; i++)
            for (long start = 0; start < arrays[i].Length; start += ChunkElements)
                work.Add((i, start));
        var partial = new double[work.Count];
        void Run(int k)
        {
            var (i, start) = work[k];
            partial[k] = SumOfSquares((float*)arrays[i].Data + start, System.Math.Min(ChunkElements, arrays[i].Length - start));
        }
        if (threads <= 1 || work.Count <= 1)
            for (int k = 0; k < work.Count; k++) Run(k);
        else
            Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, Run);
        var sums = new double[arrays.Length];
        for (int k = 0; k < work.Count; k++) sums[work[k].Array] += partial[k];
        return sums;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double SumOfSquares(float* x, long n)
    {
        Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
        long i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var (l0, h0) = Vector256.Widen(Vector256.Load(x + i));
            var (l1, h1) = Vector256.Widen(Vector256.Load(x + i + 8));
            a0 = Vector256.FusedMultiplyAdd(l0, l0, a0);
            a1 = Vector256.FusedMultiplyAdd(h0, h0, a1);
            a2 = Vector256.FusedMultiplyAdd(l1, l1, a2);
            a3 = Vector256.FusedMultiplyAdd(h1, h1, a3);
        }
        double sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += (double)x[i] * x[i];
        return sum;
    }

    static void ForEachChunk(AdamWTensor[] tensors, int threads, Action<AdamWTensor, long, long> body)
    {
        var work = new List<(int Tensor, long Start)>();
        for (int i = 0; i < tensors.Length; i++)
            for (long start = 0; start < tensors[i].Length; start += ChunkElements)
                work.Add((i, start));
        void Run(int k)
        {
            var (i, start) = work[k];
            body(tensors[i], start, System.Math.Min(ChunkElements, tensors[i].Length - start));
        }
        if (threads <= 1 || work.Count <= 1)
            for (int k = 0; k < work.Count; k++) Run(k);
        else
            Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, Run);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Chunks

    /// <summary>Magnitudes at or above this are not finite once stored: infinity for fp32 (and 8-bit, which requantizes
    /// finite fp32 values), and for bf16 the smallest fp32 that rounds to bf16 infinity.</summary>
    static float MomentLimit(MomentLayout layout) =>
        layout == MomentLayout.BFloat16 ? BitConverter.UInt32BitsToSingle(0x7F7F8000) : float.PositiveInfinity;

    static bool CheckChunk(AdamWTensor t, long start, long n, AdamWScalars s)
    {
        float* p = t.P + start, g = t.G + start;
        float limit = MomentLimit(t.Layout);
        var bound = new Bound(s, limit);
        if (bound.Usable && BoundChunk(t, start, n, bound)) return true;
        // The bound is not met (or cannot be used): compute the step itself.
        var c = new Coefficients(s);
        if (t.M == null || t.V == null)
        {
            // No state yet: both moments are zeros.
            float* zeros = stackalloc float[Block];
            new Span<float>(zeros, Block).Clear();
            for (long b = 0; b < n; b += Block)
            {
                int len = (int)System.Math.Min(Block, n - b);
                if (!CheckF32(p + b, g + b, zeros, zeros, len, c, limit)) return false;
            }
            return true;
        }
        switch (t.Layout)
        {
            case MomentLayout.Float32:
                return CheckF32(p, g, (float*)t.M + start, (float*)t.V + start, n, c, limit);
            case MomentLayout.BFloat16:
                return CheckBf16(p, g, (ushort*)t.M + start, (ushort*)t.V + start, n, c, limit);
            default:
            {
                float* m = stackalloc float[Block];
                float* v = stackalloc float[Block];
                for (long b = 0; b < n; b += Block)
                {
                    int len = (int)System.Math.Min(Block, n - b);
                    long block = (start + b) / Block;
                    Dequantize((byte*)t.M + start + b, t.MScale[block], SignedCode, m, len);
                    Dequantize((byte*)t.V + start + b, t.VScale[block], UnsignedCode, v, len);
                    if (!CheckF32(p + b, g + b, m, v, len, c, limit)) return false;
                }
                return true;
            }
        }
    }

    static bool BoundChunk(AdamWTensor t, long start, long n, in Bound bound)
    {
        float* p = t.P + start, g = t.G + start;
        if (t.M == null || t.V == null) return BoundScaled(p, g, n, 0, 0, bound);
        switch (t.Layout)
        {
            case MomentLayout.Float32:
                return BoundF32(p, g, (float*)t.M + start, (float*)t.V + start, n, bound);
            case MomentLayout.BFloat16:
                return BoundBf16(p, g, (ushort*)t.M + start, (ushort*)t.V + start, n, bound);
            default:
                for (long b = 0; b < n; b += Block)
                {
                    long block = (start + b) / Block;
                    // Every dequantized value is code x absmax with |code| <= 1 (and code >= 0 for v): |m| <= |absmax m|, 0 <= v <= absmax v.
                    float mMax = System.Math.Abs(t.MScale[block]), vMax = t.VScale[block];
                    if (!(vMax >= 0) || !BoundScaled(p + b, g + b, System.Math.Min(Block, n - b), mMax, vMax, bound)) return false;
                }
                return true;
        }
    }

    static void ApplyChunk(AdamWTensor t, long start, long n, AdamWScalars s)
    {
        var c = new Coefficients(s);
        float* p = t.P + start, g = t.G + start;
        switch (t.Layout)
        {
            case MomentLayout.Float32:
                ApplyF32(p, g, (float*)t.M + start, (float*)t.V + start, n, c);
                break;
            case MomentLayout.BFloat16:
                ApplyBf16(p, g, (ushort*)t.M + start, (ushort*)t.V + start, n, c);
                break;
            default:
            {
                float* m = stackalloc float[Block];
                float* v = stackalloc float[Block];
                for (long b = 0; b < n; b += Block)
                {
                    int len = (int)System.Math.Min(Block, n - b);
                    long block = (start + b) / Block;
                    byte* mCodes = (byte*)t.M + start + b, vCodes = (byte*)t.V + start + b;
                    Dequantize(mCodes, t.MScale[block], SignedCode, m, len);
                    Dequantize(vCodes, t.VScale[block], UnsignedCode, v, len);
                    ApplyF32(p + b, g + b, m, v, len, c);
                    t.MScale[block] = Quantize(m, len, mCodes, SignedCode);
                    t.VScale[block] = Quantize(v, len, vCodes, UnsignedCode);
                }
                break;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The update on 8 lanes

    /// <summary>The step's scalars broadcast to vectors, and the update itself (inlined into every loop).</summary>
    readonly struct Coefficients(AdamWScalars s)
    {
        readonly Vector256<float> decay = Vector256.Create(s.Decay), b1 = Vector256.Create(s.Beta1), a1 = Vector256.Create(s.OneMinusBeta1),
            b2 = Vector256.Create(s.Beta2), a2 = Vector256.Create(s.OneMinusBeta2), sqrtBc2 = Vector256.Create(s.SqrtBc2),
            eps = Vector256.Create(s.Eps), stepSize = Vector256.Create(s.StepSize);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Update(Vector256<float> p, Vector256<float> g, ref Vector256<float> m, ref Vector256<float> v)
        {
            m = Vector256.FusedMultiplyAdd(g, a1, m * b1);
            v = Vector256.FusedMultiplyAdd(a2 * g, g, v * b2);
            var denom = Vector256.Sqrt(v) / sqrtBc2 + eps;
            return p * decay + stepSize * m / denom;
        }
    }

    /// <summary>All lanes set where |x| &lt; limit (false for NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Below(Vector256<float> x, Vector256<float> limit) => Vector256.LessThan(Vector256.Abs(x), limit);

    /// <summary>Lanes [0, count) set.</summary>
    static Vector256<float> FirstLanes(int count) =>
        Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(count)).AsSingle();

    static bool AllSet(Vector256<float> mask) => Vector256.EqualsAll(mask.AsInt32(), Vector256<int>.AllBitsSet);

    // The bound: a sufficient condition for a finite step, without the square root and the divisions -----------------

    /// <summary>
    /// Magnitudes that bound the new values from the old ones, per element:
    /// <code>
    /// |m'| &lt;= Mb = |b1| |m| + |1-b1| |g|          |v'| &lt;= Vb = |b2| v + |1-b2| g g   (v &gt;= 0)
    /// |p'| &lt;= Pb = |p| |1-lr wd| + |lr/bc1| max(1/eps, 1) Mb
    /// </code>
    /// The last because the denominator sqrt(v')/sqrt(bc2) + eps is at least eps when v' &gt;= 0 (v &gt;= 0, 1-b2 &gt;= 0,
    /// b2 &gt;= 0), eps &gt; 0 and sqrt(bc2) &gt; 0, and is then never NaN (at worst +inf, which makes the quotient 0). Each
    /// computed value is within a few fp32 roundings (relative 2^-24 each) of the exact one, and so is the computed bound,
    /// so Mb, Vb below (1 - 2^-10) of the moments' limit and Pb below (1 - 2^-10) of the largest float make every new value
    /// finite: when all lanes pass, the step is finite; NaN or infinity anywhere fails a comparison. When a chunk fails,
    /// the exact check decides (a failure only means "not proven finite").
    /// </summary>
    readonly struct Bound
    {
        public readonly bool Usable;
        readonly Vector256<float> b1, a1, b2, a2, decay, k, momentLimit, weightLimit;

        public Bound(AdamWScalars s, float limit)
        {
            Usable = s.Eps > 0 && s.SqrtBc2 > 0 && s.Beta2 >= 0 && s.OneMinusBeta2 >= 0
                && float.IsFinite(s.Beta1) && float.IsFinite(s.OneMinusBeta1) && float.IsFinite(s.Beta2) && float.IsFinite(s.OneMinusBeta2)
                && float.IsFinite(s.Decay) && float.IsFinite(s.StepSize);
            const float margin = 1 - 1f / 1024;
            b1 = Vector256.Create(System.Math.Abs(s.Beta1));
            a1 = Vector256.Create(System.Math.Abs(s.OneMinusBeta1));
            b2 = Vector256.Create(s.Beta2);
            a2 = Vector256.Create(s.OneMinusBeta2);
            decay = Vector256.Create(System.Math.Abs(s.Decay));
            k = Vector256.Create((float)(System.Math.Abs((double)s.StepSize) * System.Math.Max(1 / (double)s.Eps, 1)));
            momentLimit = Vector256.Create(System.Math.Min(limit, float.MaxValue) * margin);
            weightLimit = Vector256.Create(float.MaxValue * margin);
            Usable &= float.IsFinite(k[0]);
        }

        /// <summary>All lanes set where the bound holds, from |m| and v (already known to be &gt;= 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Holds(Vector256<float> p, Vector256<float> g, Vector256<float> mAbs, Vector256<float> v)
        {
            var gAbs = Vector256.Abs(g);
            var mb = b1 * mAbs + a1 * gAbs;
            var vb = b2 * v + a2 * gAbs * gAbs;
            var pb = Vector256.Abs(p) * decay + k * mb;
            return Vector256.LessThan(mb, momentLimit) & Vector256.LessThan(vb, momentLimit) & Vector256.LessThan(pb, weightLimit);
        }
    }

    // Loops ------------------------------------------------------------------------------------------------------------
    //
    // Each loop runs over whole vectors only and calls nothing, so that the JIT keeps its vectors in registers; the
    // last elements (fewer than a vector's) go through zero-padded buffers on the stack and the same loop, so they are
    // computed exactly as the others. Zero padding passes the bound, and the exact checks mask the padded lanes.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static Vector256<float> BoundF32Loop(float* p, float* g, float* m, float* v, long n, in Bound bound)
    {
        var ok = Vector256<float>.AllBitsSet;
        var zero = Vector256<float>.Zero;
        for (long i = 0; i + 8 <= n; i += 8)
        {
            var vv = Vector256.Load(v + i);
            ok &= bound.Holds(Vector256.Load(p + i), Vector256.Load(g + i), Vector256.Abs(Vector256.Load(m + i)), vv) & Vector256.GreaterThanOrEqual(vv, zero);
        }
        return ok;
    }

    static bool BoundF32(float* p, float* g, float* m, float* v, long n, in Bound bound)
    {
        long i = n & ~7L;
        var ok = BoundF32Loop(p, g, m, v, i, bound);
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[8], tg = stackalloc float[8], tm = stackalloc float[8], tv = stackalloc float[8];
            CopyIn(p + i, tp, r, 8); CopyIn(g + i, tg, r, 8); CopyIn(m + i, tm, r, 8); CopyIn(v + i, tv, r, 8);
            ok &= BoundF32Loop(tp, tg, tm, tv, 8, bound);
        }
        return AllSet(ok);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static Vector256<float> BoundBf16Loop(float* p, float* g, ushort* m, ushort* v, long n, in Bound bound)
    {
        var ok = Vector256<float>.AllBitsSet;
        var zero = Vector256<float>.Zero;
        for (long i = 0; i + 16 <= n; i += 16)
        {
            var (mLo, mHi) = Vector256.Widen(Vector256.Load(m + i));
            var (vLo, vHi) = Vector256.Widen(Vector256.Load(v + i));
            var v0 = (vLo << 16).AsSingle();
            var v1 = (vHi << 16).AsSingle();
            ok &= bound.Holds(Vector256.Load(p + i), Vector256.Load(g + i), Vector256.Abs((mLo << 16).AsSingle()), v0) & Vector256.GreaterThanOrEqual(v0, zero)
                & bound.Holds(Vector256.Load(p + i + 8), Vector256.Load(g + i + 8), Vector256.Abs((mHi << 16).AsSingle()), v1) & Vector256.GreaterThanOrEqual(v1, zero);
        }
        return ok;
    }

    static bool BoundBf16(float* p, float* g, ushort* m, ushort* v, long n, in Bound bound)
    {
        long i = n & ~15L;
        var ok = BoundBf16Loop(p, g, m, v, i, bound);
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[16], tg = stackalloc float[16];
            ushort* tm = stackalloc ushort[16], tv = stackalloc ushort[16];
            CopyIn(p + i, tp, r, 16); CopyIn(g + i, tg, r, 16); CopyIn(m + i, tm, r, 16); CopyIn(v + i, tv, r, 16);
            ok &= BoundBf16Loop(tp, tg, tm, tv, 16, bound);
        }
        return AllSet(ok);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static Vector256<float> BoundScaledLoop(float* p, float* g, long n, Vector256<float> mMax, Vector256<float> vMax, in Bound bound)
    {
        var ok = Vector256<float>.AllBitsSet;
        for (long i = 0; i + 8 <= n; i += 8)
            ok &= bound.Holds(Vector256.Load(p + i), Vector256.Load(g + i), mMax, vMax);
        return ok;
    }

    /// <summary>The bound where every |m| is at most <paramref name="mMax"/> and every v in [0, <paramref name="vMax"/>]
    /// (an 8-bit block; zeros for moments that do not exist yet): only the weights and gradients are read.</summary>
    static bool BoundScaled(float* p, float* g, long n, float mMax, float vMax, in Bound bound)
    {
        var (mv, vv) = (Vector256.Create(mMax), Vector256.Create(vMax));
        long i = n & ~7L;
        var ok = BoundScaledLoop(p, g, i, mv, vv, bound);
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[8], tg = stackalloc float[8];
            CopyIn(p + i, tp, r, 8); CopyIn(g + i, tg, r, 8);
            ok &= BoundScaledLoop(tp, tg, 8, mv, vv, bound);
        }
        return AllSet(ok);
    }

    // fp32 moments: the exact check and the update

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static Vector256<float> CheckF32Loop(float* p, float* g, float* m, float* v, long n, in Coefficients c, float momentLimit)
    {
        var inf = Vector256.Create(float.PositiveInfinity);
        var limit = Vector256.Create(momentLimit);
        var ok = Vector256<float>.AllBitsSet;
        for (long i = 0; i + 8 <= n; i += 8)
        {
            var mn = Vector256.Load(m + i);
            var vn = Vector256.Load(v + i);
            var pn = c.Update(Vector256.Load(p + i), Vector256.Load(g + i), ref mn, ref vn);
            ok &= Below(pn, inf) & Below(mn, limit) & Below(vn, limit);
        }
        return ok;
    }

    static bool CheckF32(float* p, float* g, float* m, float* v, long n, in Coefficients c, float momentLimit)
    {
        long i = n & ~7L;
        var ok = CheckF32Loop(p, g, m, v, i, c, momentLimit);
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[8], tg = stackalloc float[8], tm = stackalloc float[8], tv = stackalloc float[8];
            CopyIn(p + i, tp, r, 8); CopyIn(g + i, tg, r, 8); CopyIn(m + i, tm, r, 8); CopyIn(v + i, tv, r, 8);
            ok &= CheckF32Loop(tp, tg, tm, tv, 8, c, momentLimit) | ~FirstLanes(r);
        }
        return AllSet(ok);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ApplyF32Loop(float* p, float* g, float* m, float* v, long n, in Coefficients c)
    {
        for (long i = 0; i + 8 <= n; i += 8)
        {
            var mn = Vector256.Load(m + i);
            var vn = Vector256.Load(v + i);
            var pn = c.Update(Vector256.Load(p + i), Vector256.Load(g + i), ref mn, ref vn);
            pn.Store(p + i);
            mn.Store(m + i);
            vn.Store(v + i);
        }
    }

    static void ApplyF32(float* p, float* g, float* m, float* v, long n, in Coefficients c)
    {
        long i = n & ~7L;
        ApplyF32Loop(p, g, m, v, i, c);
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[8], tg = stackalloc float[8], tm = stackalloc float[8], tv = stackalloc float[8];
            CopyIn(p + i, tp, r, 8); CopyIn(g + i, tg, r, 8); CopyIn(m + i, tm, r, 8); CopyIn(v + i, tv, r, 8);
            ApplyF32Loop(tp, tg, tm, tv, 8, c);
            CopyOut(tp, p + i, r); CopyOut(tm, m + i, r); CopyOut(tv, v + i, r);
        }
    }

    // bf16 moments: 16 lanes (one vector of bf16, two of fp32)

    /// <summary>fp32 bits rounded to bf16 (in the low 16 bits) as torch rounds: to nearest, ties to even (NaN is never stored).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<uint> RoundToBf16(Vector256<float> x)
    {
        var u = x.AsUInt32();
        return (u + ((u >> 16) & Vector256<uint>.One) + Vector256.Create(0x7FFFu)) >> 16;
    }

    /// <summary>The exact check of 16 lanes: the low 8 in the result, the high 8 in <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static Vector256<float> CheckBf16Loop(float* p, float* g, ushort* m, ushort* v, long n, in Coefficients c, float momentLimit, out Vector256<float> high)
    {
        var inf = Vector256.Create(float.PositiveInfinity);
        var limit = Vector256.Create(momentLimit);
        var ok = Vector256<float>.AllBitsSet;
        var ok1 = Vector256<float>.AllBitsSet;
        for (long i = 0; i + 16 <= n; i += 16)
        {
            var (mLo, mHi) = Vector256.Widen(Vector256.Load(m + i));
            var (vLo, vHi) = Vector256.Widen(Vector256.Load(v + i));
            var m0 = (mLo << 16).AsSingle(); var m1 = (mHi << 16).AsSingle();
            var v0 = (vLo << 16).AsSingle(); var v1 = (vHi << 16).AsSingle();
            var p0 = c.Update(Vector256.Load(p + i), Vector256.Load(g + i), ref m0, ref v0);
            var p1 = c.Update(Vector256.Load(p + i + 8), Vector256.Load(g + i + 8), ref m1, ref v1);
            ok &= Below(p0, inf) & Below(m0, limit) & Below(v0, limit);
            ok1 &= Below(p1, inf) & Below(m1, limit) & Below(v1, limit);
        }
        high = ok1;
        return ok;
    }

    static bool CheckBf16(float* p, float* g, ushort* m, ushort* v, long n, in Coefficients c, float momentLimit)
    {
        long i = n & ~15L;
        var ok = CheckBf16Loop(p, g, m, v, i, c, momentLimit, out var high);
        ok &= high;
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[16], tg = stackalloc float[16];
            ushort* tm = stackalloc ushort[16], tv = stackalloc ushort[16];
            CopyIn(p + i, tp, r, 16); CopyIn(g + i, tg, r, 16); CopyIn(m + i, tm, r, 16); CopyIn(v + i, tv, r, 16);
            ok &= CheckBf16Loop(tp, tg, tm, tv, 16, c, momentLimit, out high) | ~FirstLanes(r);
            ok &= high | ~FirstLanes(r - 8);
        }
        return AllSet(ok);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ApplyBf16Loop(float* p, float* g, ushort* m, ushort* v, long n, in Coefficients c)
    {
        for (long i = 0; i + 16 <= n; i += 16)
        {
            var (mLo, mHi) = Vector256.Widen(Vector256.Load(m + i));
            var (vLo, vHi) = Vector256.Widen(Vector256.Load(v + i));
            var m0 = (mLo << 16).AsSingle(); var m1 = (mHi << 16).AsSingle();
            var v0 = (vLo << 16).AsSingle(); var v1 = (vHi << 16).AsSingle();
            c.Update(Vector256.Load(p + i), Vector256.Load(g + i), ref m0, ref v0).Store(p + i);
            c.Update(Vector256.Load(p + i + 8), Vector256.Load(g + i + 8), ref m1, ref v1).Store(p + i + 8);
            Vector256.Narrow(RoundToBf16(m0), RoundToBf16(m1)).Store(m + i);
            Vector256.Narrow(RoundToBf16(v0), RoundToBf16(v1)).Store(v + i);
        }
    }

    static void ApplyBf16(float* p, float* g, ushort* m, ushort* v, long n, in Coefficients c)
    {
        long i = n & ~15L;
        ApplyBf16Loop(p, g, m, v, i, c);
        if (i < n)
        {
            int r = (int)(n - i);
            float* tp = stackalloc float[16], tg = stackalloc float[16];
            ushort* tm = stackalloc ushort[16], tv = stackalloc ushort[16];
            CopyIn(p + i, tp, r, 16); CopyIn(g + i, tg, r, 16); CopyIn(m + i, tm, r, 16); CopyIn(v + i, tv, r, 16);
            ApplyBf16Loop(tp, tg, tm, tv, 16, c);
            CopyOut(tp, p + i, r); CopyOut(tm, m + i, r); CopyOut(tv, v + i, r);
        }
    }

    /// <summary>The first <paramref name="count"/> of a buffer of <paramref name="size"/> from <paramref name="from"/>, the rest zeros.</summary>
    static void CopyIn<T>(T* from, T* to, int count, int size) where T : unmanaged
    {
        new Span<T>(to, size).Clear();
        new ReadOnlySpan<T>(from, count).CopyTo(new Span<T>(to, count));
    }

    static void CopyOut<T>(T* from, T* to, int count) where T : unmanaged => new ReadOnlySpan<T>(from, count).CopyTo(new Span<T>(to, count));

    // ---------------------------------------------------------------------------------------------------------------
    // 8-bit blocks: bitsandbytes' dynamic code, as BlockwiseQuantization computes it with torch ops

    /// <summary>
    /// A dynamic code's values (256, ascending) and midpoints between neighbours (255, then +inf as a sentinel), and a
    /// table for finding the nearest code of an fp32 x from the top 16 bits of x (its "key"): the number of midpoints below
    /// every float with that key (Start), and the midpoint among those floats, if any. The midpoint has the key's top bits,
    /// so its low 16 bits are stored: Entries[key] = Start &lt;&lt; 16 | low bits of the midpoint, or of the key's largest
    /// float when none, so that x &gt; (x's top bits | those low bits) is the one comparison left. That at most one midpoint
    /// lies among the floats of a key (checked here: <see cref="OneStep"/>) holds because the code's values are at least
    /// 2^-7 apart relative to their size and a key spans at most 2^-7 of its binade.
    /// </summary>
    sealed class DynamicCode
    {
        public readonly float* Values, Midpoints;
        public readonly uint* Entries;
        public readonly int ZeroIndex;
        public readonly bool OneStep;

        public DynamicCode(bool signed)
        {
            var code = Training.BlockwiseQuantization.DynamicCode(signed);
            var mid = Training.BlockwiseQuantization.Midpoints(code);
            ZeroIndex = Array.IndexOf(code, 0f);
            Values = (float*)NativeMemory.Alloc(256, sizeof(float));
            Midpoints = (float*)NativeMemory.Alloc(256, sizeof(float));
            Entries = (uint*)NativeMemory.Alloc(1 << 16, sizeof(uint));
            for (int i = 0; i < 256; i++) Values[i] = code[i];
            for (int i = 0; i < 255; i++) Midpoints[i] = mid[i];
            Midpoints[255] = float.PositiveInfinity;
            static int Below(float[] mid, float x)
            {
                int below = 0;
                while (below < mid.Length && mid[below] < x) below++;
                return below;
            }
            OneStep = true;
            for (int key = 0; key < 1 << 16; key++)
            {
                // The smallest and largest floats with these top bits (sign and magnitude: reversed when negative).
                uint lowBits = ((uint)key << 16) | (key >= 0x8000 ? 0xFFFFu : 0), highBits = ((uint)key << 16) | (key >= 0x8000 ? 0 : 0xFFFFu);
                float low = BitConverter.UInt32BitsToSingle(lowBits), high = BitConverter.UInt32BitsToSingle(highBits);
                int start = Below(mid, low), inside = Below(mid, high) - start;
                if (float.IsFinite(low) && float.IsFinite(high) && inside > 1) OneStep = false;
                uint threshold = inside == 1 ? BitConverter.SingleToUInt32Bits(mid[start]) : highBits;
                Entries[key] = (uint)start << 16 | (threshold & 0xFFFF);
            }
        }
    }

    static readonly DynamicCode SignedCode = new(signed: true), UnsignedCode = new(signed: false);

    /// <summary>One block's values of its codes: code value x absmax (BlockwiseQuantization.Dequantize).</summary>
    internal static void DequantizeBlock(ReadOnlySpan<byte> codes, float absmax, bool signed, Span<float> values)
    {
        if (codes.Length > Block || values.Length != codes.Length) throw new ArgumentException("one block of codes and as many values");
        fixed (byte* c = codes)
        fixed (float* v = values)
            Dequantize(c, absmax, signed ? SignedCode : UnsignedCode, v, codes.Length);
    }

    /// <summary>One block's codes (see <see cref="Quantize"/>); returns its absmax. <paramref name="gathers"/> false: the loop
    /// without AVX2, as on machines that lack it (for tests).</summary>
    internal static float QuantizeBlock(ReadOnlySpan<float> values, Span<byte> codes, bool signed, bool gathers = true)
    {
        if (values.Length > Block || codes.Length != values.Length) throw new ArgumentException("one block of values and as many codes");
        float* work = stackalloc float[Block];
        values.CopyTo(new Span<float>(work, values.Length));
        fixed (byte* c = codes)
            return Quantize(work, values.Length, c, signed ? SignedCode : UnsignedCode, gathers);
    }

    /// <summary>Whether quantization uses AVX2 gathers (otherwise one element at a time, with the same results).</summary>
    internal static bool GathersUsed => Avx2.IsSupported && SignedCode.OneStep && UnsignedCode.OneStep;

    /// <summary>Values of codes: code value x absmax (a table lookup per element; AVX2 gathers measured slower here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dequantize(byte* codes, float absmax, DynamicCode code, float* values, int n)
    {
        float* table = code.Values;
        for (int i = 0; i < n; i++) values[i] = table[codes[i]] * absmax;
    }

    /// <summary>Codes of <paramref name="values"/> on their absmax (returned): the nearest code value of x / absmax
    /// (torch.bucketize on the midpoints: the number of midpoints strictly below it), and, when signed, one step back
    /// toward the value's sign where the nearest code value has the other sign (BlockwiseQuantization.Quantize).
    /// The values are overwritten with x / absmax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Quantize(float* values, int n, byte* codes, DynamicCode code, bool gathers = true)
    {
        var max = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8) max = Vector256.MaxNative(max, Vector256.Abs(Vector256.Load(values + i)));
        float absmax = MaxLane(max);
        for (; i < n; i++) absmax = System.Math.Max(absmax, System.Math.Abs(values[i]));

        // x / absmax as torch divides (correctly rounded in both loops); absmax 0 (all zeros) divides by the smallest float.
        float scale = System.Math.Max(absmax, float.Epsilon);
        var scales = Vector256.Create(scale);
        for (i = 0; i <= n - 8; i += 8) (Vector256.Load(values + i) / scales).Store(values + i);
        for (; i < n; i++) values[i] /= scale;

        uint* entries = code.Entries;
        int zero = code.ZeroIndex;
        bool signed = zero > 0;
        i = 0;
        if (code.OneStep)
        {
            if (gathers && Avx2.IsSupported)
            {
                var lowBits = Vector256.Create(0xFFFF);
                var highBits = Vector256.Create(unchecked((int)0xFFFF0000));
                var one = Vector256<int>.One;
                var zeros = Vector256.Create(zero);
                for (; i <= n - 8; i += 8)
                {
                    var x = Vector256.Load(values + i);
                    var bits = x.AsInt32();
                    var entry = Avx2.GatherVector256((int*)entries, Vector256.ShiftRightLogical(bits, 16), 4);
                    var threshold = ((bits & highBits) | (entry & lowBits)).AsSingle();
                    var index = Vector256.ShiftRightLogical(entry, 16) - Vector256.GreaterThan(x, threshold).AsInt32();
                    if (signed)
                    {
                        var negative = Vector256.ShiftRightArithmetic(bits, 31);                     // -1 where x has its sign bit set
                        index += (negative ^ Vector256.LessThan(index, zeros)) & (negative | one);   // -1 or +1 where the code's sign differs
                    }
                    var words = Sse41.PackUnsignedSaturate(index.GetLower(), index.GetUpper());
                    *(long*)(codes + i) = Sse2.PackUnsignedSaturate(words.AsInt16(), words.AsInt16()).AsInt64().ToScalar();
                }
            }
            for (; i < n; i++)
            {
                float x = values[i];
                uint bits = BitConverter.SingleToUInt32Bits(x);
                uint entry = entries[bits >> 16];
                int index = (int)(entry >> 16) + (x > BitConverter.UInt32BitsToSingle((bits & 0xFFFF0000) | (entry & 0xFFFF)) ? 1 : 0);
                if (signed)
                {
                    int negative = (int)bits >> 31, codeNegative = (index - zero) >> 31;   // -1 or 0, without branches
                    index += (negative ^ codeNegative) & (negative | 1);
                }
                codes[i] = (byte)index;
            }
        }
        else
        {
            float* mid = code.Midpoints;
            for (; i < n; i++)
            {
                float x = values[i];
                uint bits = BitConverter.SingleToUInt32Bits(x);
                int index = (int)(entries[bits >> 16] >> 16);
                while (mid[index] < x) index++;
                if (signed)
                {
                    bool negative = (int)bits < 0;
                    if (negative != index < zero) index += negative ? -1 : 1;
                }
                codes[i] = (byte)index;
            }
        }
        return absmax;
    }

    static float MaxLane(Vector256<float> v)
    {
        float m = v[0];
        for (int k = 1; k < 8; k++) m = System.Math.Max(m, v[k]);
        return m;
    }
}
