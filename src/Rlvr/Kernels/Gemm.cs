using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Kernels;

/// <summary>
/// The products x W^T of a linear layer at few rows (decoding: one row per sequence), in C#: every output is a dot
/// product of an input row with a weight row, both contiguous, so the weights stream from memory once per call,
/// unpacked, in the layout the model keeps them. On the AMD EPYC (Zen 3, AVX2) machine libtorch's bundled MKL ran
/// these shapes at 76-138 GFLOP/s on 2 threads, this kernel at 120-145 (docs/performance.md). MKL keeps the large
/// products (prefill, training), where its packed kernels win. <see cref="Serves"/> says which path a product takes;
/// the choice between this kernel and MKL is made once per process by <see cref="GemmPath"/>.
///
/// The micro-kernel computes a 3 x 4 tile (3 input rows, 4 weight rows) with 12 vector accumulators over a block of
/// <see cref="KBlock"/> columns, which with the 7 rows' blocks fits the 32 KB L1 cache; the input rows of a block of
/// <see cref="MBlock"/> rows stay in L2 while the weight rows stream past them. A partial tile reuses a valid row
/// and discards its results; a tile of one row has a 1 x 4 micro-kernel of its own that sums in the same order.
/// Weights may be fp32 or bf16 (widened to fp32 in registers: a 16-bit shift), with fp32 accumulation either way.
/// </summary>
public static unsafe class Gemm
{
    const int KBlock = 1024, MBlock = 96, MR = 3, NR = 4;

    /// <summary>Products with more rows than this go to MKL: one block of rows, the case measured to win (on the AMD EPYC a
    /// 127-row prefill ran at 60 GFLOP/s in the kernel, two row blocks, against MKL's 110).</summary>
    public const int MaxRows = MBlock;

    /// <summary>Work below this many multiply-adds runs on the calling thread: waking a second thread costs about 0.1 ms.</summary>
    const long ParallelMinimum = 4_000_000;

    [ThreadStatic] static int samplingDepth;

    /// <summary>Marks this thread's products as sampling until disposed: only those run here. Training computes its
    /// products with libtorch, no_grad passes included (gradient checkpointing's first pass, the reference model), so
    /// that they agree bit for bit with the passes that record gradients.</summary>
    public static IDisposable ForSampling()
    {
        samplingDepth++;
        return new SamplingScope();
    }

    sealed class SamplingScope : IDisposable
    {
        bool disposed;
        public void Dispose()
        {
            if (!disposed) samplingDepth--;
            disposed = true;
        }
    }

    /// <summary>Whether y = x W^T for these tensors runs here: the kernel path is chosen, the thread is sampling
    /// (<see cref="ForSampling"/>) and records no gradient, both are contiguous fp32 (weights also bf16) CPU tensors,
    /// and there are at most <see cref="MaxRows"/> rows.</summary>
    public static bool Serves(Tensor x, Tensor weight) =>
        GemmPath.UseKernel && samplingDepth > 0
        && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad))
        && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
        && x.dtype == ScalarType.Float32 && weight.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && weight.dim() == 2 && x.shape[^1] == weight.shape[1]
        && x.numel() / System.Math.Max(1, weight.shape[1]) <= MaxRows
        && x.is_contiguous() && weight.is_contiguous();

    /// <summary>What a linear layer computes, x W^T + bias, by the kernel where it <see cref="Serves"/>, else by libtorch.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias = null) =>
        Serves(x, weight) ? Linear(x, weight, bias) : nn.functional.linear(x, weight, bias);

    /// <summary>x W^T + bias for x [..., in], W [out, in], bias [out]: a new tensor [..., out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        long inFeatures = weight.shape[1], outFeatures = weight.shape[0], rows = x.numel() / inFeatures;
        var y = empty([.. x.shape[..^1], outFeatures], ScalarType.Float32);
        Multiply(x, weight, y, rows, outFeatures);
        if (bias is not null) y.add_(bias);
        return y;
    }

    /// <summary>Writes x W^T into the first columns of <paramref name="output"/> [rows, width >= out], whose rows may be
    /// longer than out (a padded buffer): x [rows, in], W [out, in]. <paramref name="threads"/>: torch's by default.</summary>
    public static void MultiplyInto(Tensor output, Tensor x, Tensor weight, int threads = 0)
    {
        if (output.dtype != ScalarType.Float32 || output.dim() != 2 || output.stride(1) != 1 || output.shape[0] != x.shape[0]
            || output.shape[1] < weight.shape[0])
            throw new ArgumentException($"output [{string.Join(", ", output.shape)}] cannot hold x W^T [{x.shape[0]}, {weight.shape[0]}]");
        Multiply(x, weight, output, x.shape[0], output.stride(0), threads);
    }

    static void Multiply(Tensor x, Tensor weight, Tensor output, long rows, long outputStride, int threads = 0)
    {
        int m = checked((int)rows), n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        var a = TensorMemory.Float32(x, "input");
        var c = (float*)TensorMemory.Pointer(output, ScalarType.Float32, "output", contiguous: false);
        if (weight.dtype == ScalarType.BFloat16)
            Run(a, (ushort*)TensorMemory.Pointer(weight, ScalarType.BFloat16, "weight"), c, m, n, k, outputStride, threads);
        else
            Run(a, TensorMemory.Float32(weight, "weight"), c, m, n, k, outputStride, threads);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        GC.KeepAlive(output);
    }

    /// <summary>C[i, j] = sum_k A[i, k] B[j, k] (A [m, k], B [n, k], row stride of C <paramref name="ldc"/>) on torch's
    /// threads: the calling thread and helpers from the .NET pool take runs of columns from a shared counter, so a helper
    /// that wakes late takes fewer (a fixed split would wait for it).</summary>
    static void Run<TWeight>(float* a, TWeight* b, float* c, int m, int n, int k, long ldc, int threads) where TWeight : unmanaged
    {
        threads = System.Math.Min(threads > 0 ? threads : get_num_threads(), (n + NR - 1) / NR);
        if (threads <= 1 || (long)m * n * k < ParallelMinimum)
        {
            Columns(a, b, c, m, n, k, ldc, 0, n);
            return;
        }
        var work = new ColumnRuns<TWeight>(a, b, c, m, n, k, ldc, threads);
        for (int t = 1; t < threads; t++) ThreadPool.UnsafeQueueUserWorkItem(static w => w.Take(), work, preferLocal: false);
        work.Take();
        work.WaitForAll();
    }

    /// <summary>The column runs of one product, taken by whichever thread asks next. Pointers are only followed while a
    /// run is being taken, and the caller waits for every run to finish: a helper that starts after the last run was
    /// taken finds none and touches no memory.</summary>
    sealed class ColumnRuns<TWeight>(float* a, TWeight* b, float* c, int m, int n, int k, long ldc, int threads) where TWeight : unmanaged
    {
        // About eight runs per thread, each a whole number of tiles.
        readonly int width = System.Math.Max(NR, (n + 8 * threads - 1) / (8 * threads) + NR - 1) / NR * NR;
        int next, finished;

        int Count => (n + width - 1) / width;

        public void Take()
        {
            int run;
            while ((run = Interlocked.Increment(ref next) - 1) < Count)
            {
                int first = run * width;
                Columns(a, b, c, m, n, k, ldc, first, System.Math.Min(n, first + width));
                Interlocked.Increment(ref finished);
            }
        }

        public void WaitForAll()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref finished) < Count) spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Output columns [n0, n1) of C = A B^T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns<TWeight>(float* a, TWeight* b, float* c, int m, int n, int k, long ldc, int n0, int n1) where TWeight : unmanaged
    {
        float* tile = stackalloc float[MR * NR];
        // Row blocks of equal size (a multiple of MR), each small enough to stay in L2 with a column block.
        int rowBlocks = (m + MBlock - 1) / MBlock, rowStep = ((m + rowBlocks - 1) / rowBlocks + MR - 1) / MR * MR;
        for (int m0 = 0; m0 < m; m0 += rowStep)
        {
            int m1 = System.Math.Min(m, m0 + rowStep);
            for (int k0 = 0; k0 < k; k0 += KBlock)
            {
                int kc = System.Math.Min(KBlock, k - k0);
                bool accumulate = k0 > 0;
                for (int j = n0; j < n1; j += NR)
                {
                    int nn = System.Math.Min(NR, n1 - j);
                    TWeight* w0 = b + (long)j * k + k0;
                    TWeight* w1 = nn > 1 ? w0 + k : w0, w2 = nn > 2 ? w0 + 2L * k : w0, w3 = nn > 3 ? w0 + 3L * k : w0;
                    for (int i = m0; i < m1; i += MR)
                    {
                        int mm = System.Math.Min(MR, m1 - i);
                        float* x0 = a + (long)i * k + k0;
                        if (mm == 1) RowTile(x0, w0, w1, w2, w3, kc, j + 2 * NR <= n1 ? 4L * k : 0, tile);
                        else Tile(x0, mm > 1 ? x0 + k : x0, mm > 2 ? x0 + 2L * k : x0, w0, w1, w2, w3, kc, tile);
                        for (int r = 0; r < mm; r++)
                        {
                            float* o = c + (i + r) * ldc + j, t = tile + r * NR;
                            if (accumulate) for (int q = 0; q < nn; q++) o[q] += t[q];
                            else for (int q = 0; q < nn; q++) o[q] = t[q];
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Load(float* p) => Avx.LoadVector256(p);

    /// <summary>8 weights as fp32; bf16 is widened: its bits are the high half of the fp32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Load<TWeight>(TWeight* p) where TWeight : unmanaged =>
        typeof(TWeight) == typeof(ushort)
            ? Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Sse2.LoadVector128((ushort*)p)), 16).AsSingle()
            : Avx.LoadVector256((float*)p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Sum(Vector256<float> v)
    {
        var s = v.GetLower() + v.GetUpper();
        s = Sse.Add(s, Sse.MoveHighToLow(s, s));
        return Sse.AddScalar(s, Sse.Shuffle(s, s, 0x55)).ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Scalar<TWeight>(TWeight* p, int i) where TWeight : unmanaged =>
        typeof(TWeight) == typeof(ushort) ? BitConverter.Int32BitsToSingle(((ushort*)p)[i] << 16) : ((float*)p)[i];

    /// <summary>The 3 x 4 dot products of input rows x0..x2 with weight rows w0..w3 over kc columns, into tile[3, 4].
    /// Specialised per weight type by the JIT (the type tests fold away), which keeps the 12 accumulators in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile<TWeight>(float* x0, float* x1, float* x2, TWeight* w0, TWeight* w1, TWeight* w2, TWeight* w3, int kc, float* tile)
        where TWeight : unmanaged
    {
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default, c23 = default;
        int k = 0;
        for (; k + 8 <= kc; k += 8)
        {
            Vector256<float> a0 = Load(x0 + k), a1 = Load(x1 + k), a2 = Load(x2 + k), w = Load(w0 + k);
            c00 = Fma.MultiplyAdd(a0, w, c00); c10 = Fma.MultiplyAdd(a1, w, c10); c20 = Fma.MultiplyAdd(a2, w, c20);
            w = Load(w1 + k);
            c01 = Fma.MultiplyAdd(a0, w, c01); c11 = Fma.MultiplyAdd(a1, w, c11); c21 = Fma.MultiplyAdd(a2, w, c21);
            w = Load(w2 + k);
            c02 = Fma.MultiplyAdd(a0, w, c02); c12 = Fma.MultiplyAdd(a1, w, c12); c22 = Fma.MultiplyAdd(a2, w, c22);
            w = Load(w3 + k);
            c03 = Fma.MultiplyAdd(a0, w, c03); c13 = Fma.MultiplyAdd(a1, w, c13); c23 = Fma.MultiplyAdd(a2, w, c23);
        }
        StoreTile(tile, c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23);
        for (; k < kc; k++) TailColumn(tile, x0[k], x1[k], x2[k], Scalar(w0, k), Scalar(w1, k), Scalar(w2, k), Scalar(w3, k));
    }

    /// <summary>The 1 x 4 dot products of input row x0 with weight rows w0..w3 over kc columns, into tile[0..4], for a
    /// tile of one row (batch 1; a row block of 3n + 1 rows): the 3-row tile would compute that row three times, which
    /// made bf16 products compute-bound. Each sum is built in the 3-row tile's order (one accumulator, 8 columns at a
    /// time, then the tail), so a row's result does not depend on the tile it falls in: the same bits at any batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowTile<TWeight>(float* x0, TWeight* w0, TWeight* w1, TWeight* w2, TWeight* w3, int kc, long ahead, float* tile)
        where TWeight : unmanaged
    {
        // The next tile's weight rows, fetched while this one computes: hardware prefetchers lose track of four short rows.
        byte* p0 = (byte*)(w0 + ahead), p1 = (byte*)(w1 + ahead), p2 = (byte*)(w2 + ahead), p3 = (byte*)(w3 + ahead);
        int size = sizeof(TWeight);
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int k = 0;
        for (; k + 16 <= kc; k += 16)
        {
            long at = (long)k * size;
            Sse.Prefetch0(p0 + at); Sse.Prefetch0(p1 + at); Sse.Prefetch0(p2 + at); Sse.Prefetch0(p3 + at);
            Vector256<float> a = Load(x0 + k), b = Load(x0 + k + 8);
            c0 = Fma.MultiplyAdd(b, Load(w0 + k + 8), Fma.MultiplyAdd(a, Load(w0 + k), c0));
            c1 = Fma.MultiplyAdd(b, Load(w1 + k + 8), Fma.MultiplyAdd(a, Load(w1 + k), c1));
            c2 = Fma.MultiplyAdd(b, Load(w2 + k + 8), Fma.MultiplyAdd(a, Load(w2 + k), c2));
            c3 = Fma.MultiplyAdd(b, Load(w3 + k + 8), Fma.MultiplyAdd(a, Load(w3 + k), c3));
        }
        for (; k + 8 <= kc; k += 8)
        {
            var a = Load(x0 + k);
            c0 = Fma.MultiplyAdd(a, Load(w0 + k), c0); c1 = Fma.MultiplyAdd(a, Load(w1 + k), c1);
            c2 = Fma.MultiplyAdd(a, Load(w2 + k), c2); c3 = Fma.MultiplyAdd(a, Load(w3 + k), c3);
        }
        tile[0] = Sum(c0); tile[1] = Sum(c1); tile[2] = Sum(c2); tile[3] = Sum(c3);
        for (; k < kc; k++)
        {
            float a = x0[k];
            tile[0] += a * Scalar(w0, k); tile[1] += a * Scalar(w1, k); tile[2] += a * Scalar(w2, k); tile[3] += a * Scalar(w3, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreTile(float* tile, Vector256<float> c00, Vector256<float> c01, Vector256<float> c02, Vector256<float> c03,
        Vector256<float> c10, Vector256<float> c11, Vector256<float> c12, Vector256<float> c13,
        Vector256<float> c20, Vector256<float> c21, Vector256<float> c22, Vector256<float> c23)
    {
        tile[0] = Sum(c00); tile[1] = Sum(c01); tile[2] = Sum(c02); tile[3] = Sum(c03);
        tile[4] = Sum(c10); tile[5] = Sum(c11); tile[6] = Sum(c12); tile[7] = Sum(c13);
        tile[8] = Sum(c20); tile[9] = Sum(c21); tile[10] = Sum(c22); tile[11] = Sum(c23);
    }

    /// <summary>One column past the last whole vector (k not a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TailColumn(float* tile, float a0, float a1, float a2, float b0, float b1, float b2, float b3)
    {
        tile[0] += a0 * b0; tile[1] += a0 * b1; tile[2] += a0 * b2; tile[3] += a0 * b3;
        tile[4] += a1 * b0; tile[5] += a1 * b1; tile[6] += a1 * b2; tile[7] += a1 * b3;
        tile[8] += a2 * b0; tile[9] += a2 * b1; tile[10] += a2 * b2; tile[11] += a2 * b3;
    }
}
