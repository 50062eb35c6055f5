using Rlvr.Kernels;
using Rlvr.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>
/// The fused AdamW kernel (<see cref="AdamWStep"/>) against the torch ops it replaces (<c>AdamW.UseKernel = false</c>):
/// several steps with weight decay, each moment precision, sizes that are not multiples of the vector width, of the
/// 8-bit block or of the kernel's chunk; the non-finite skip; threads; parameters the kernel leaves to torch.
/// </summary>
public class AdamWKernelTests
{
    /// <summary>1 and 7: below one vector; 2049: one block and one element (fp32 states even in 8-bit, below 4096);
    /// 4097: two 8-bit blocks, the second of one element; 70001: one chunk of 65536 and a short one, 35 blocks.</summary>
    static readonly long[] Sizes = [1, 7, 2049, 4097, 70001];

    static List<(string Name, Tensor Param)> Params()
    {
        var g = new Generator(5);
        return Sizes.Select((n, i) => ($"p{i}", randn(n, generator: g).requires_grad_())).ToList();
    }

    /// <summary>Gradients spread over about eight orders of magnitude (so 8-bit blocks use much of their code), the same for a given step.</summary>
    static void Backward(List<(string Name, Tensor Param)> ps, int step)
    {
        var g = new Generator((ulong)(100 + step));
        foreach (var (_, p) in ps)
        {
            using var r = randn(p.numel(), generator: g) * exp(randn(p.numel(), generator: g) * 3);
            p.grad?.zero_();
            (p * r).sum().backward();
        }
    }

    static AdamW Run(List<(string Name, Tensor Param)> ps, MomentPrecision precision, bool kernel, int steps, int threads = 0)
    {
        var opt = new AdamW(ps, 0.9, 0.95, 1e-8, 0.1, precision) { UseKernel = kernel, KernelThreads = threads };
        for (int s = 0; s < steps; s++)
        {
            Backward(ps, s);
            Assert.True(opt.Update(1e-2));
        }
        return opt;
    }

    static float[] Floats(Tensor t) => t.detach().to(ScalarType.Float32).data<float>().ToArray();

    static Dictionary<string, byte[]> Bytes(AdamW opt) =>
        opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.cpu().contiguous().bytes.ToArray());

    /// <summary>
    /// Moments are compared bit for bit: they are products and sums of fp32 values that the kernel computes with the
    /// operations of ATen's vectorized CPU kernels (add with alpha and addcmul are FMAs there, and so in the kernel),
    /// and bf16 and 8-bit storage round them with the same rules. Weights are compared to 1e-6: their denominator takes
    /// a square root, which the kernel computes correctly rounded (vsqrtps) and libtorch's sqrt does not always
    /// (measured: 16 % of 100,000 random values differ by an ulp).
    /// </summary>
    [Theory]
    [InlineData(MomentPrecision.Float32)]
    [InlineData(MomentPrecision.BFloat16)]
    [InlineData(MomentPrecision.EightBit)]
    public void Fused_step_matches_the_torch_ops_over_several_steps(MomentPrecision precision)
    {
        var a = Params();
        var b = Params();
        var fused = Run(a, precision, kernel: true, steps: 5);
        var reference = Run(b, precision, kernel: false, steps: 5);
        Assert.Equal(reference.Step, fused.Step);
        for (int i = 0; i < a.Count; i++)
        {
            var (x, y) = (Floats(a[i].Param), Floats(b[i].Param));
            var start = Floats(Params()[i].Param);
            for (int k = 0; k < x.Length; k++)
            {
                Assert.True(System.Math.Abs(x[k] - y[k]) <= 1e-6 * System.Math.Max(1, System.Math.Abs(y[k])), $"{a[i].Name}[{k}]: {x[k]} vs {y[k]}");
                Assert.NotEqual(start[k], x[k]);   // every weight moved
            }
        }
        var (sa, sb) = (Bytes(fused), Bytes(reference));
        Assert.Equal(sb.Keys.Order(), sa.Keys.Order());
        foreach (var (name, bytes) in sb) Assert.True(bytes.SequenceEqual(sa[name]), name);
    }

    [Theory]
    [InlineData(MomentPrecision.Float32)]
    [InlineData(MomentPrecision.BFloat16)]
    [InlineData(MomentPrecision.EightBit)]
    public void Threads_give_the_same_result_as_one(MomentPrecision precision)
    {
        var a = Params();
        var b = Params();
        var one = Run(a, precision, kernel: true, steps: 3, threads: 1);
        var three = Run(b, precision, kernel: true, steps: 3, threads: 3);
        for (int i = 0; i < a.Count; i++) Assert.Equal(Floats(b[i].Param), Floats(a[i].Param));
        var (sa, sb) = (Bytes(one), Bytes(three));
        foreach (var (name, bytes) in sa) Assert.True(bytes.SequenceEqual(sb[name]), name);
    }

    public enum Poison { SquareOverflows, NaNGradient, InfiniteGradient, WeightOverflows }

    /// <summary>
    /// A step that would make one value non-finite, at the first or the last element of the largest tensor (the last is
    /// in the kernel's tail), with and without existing moments: Update returns false and every weight and moment is
    /// unchanged, bit for bit; no moments appear.
    /// </summary>
    [Theory]
    [InlineData(MomentPrecision.Float32, Poison.SquareOverflows, 0L, true)]
    [InlineData(MomentPrecision.Float32, Poison.NaNGradient, 70000L, true)]
    [InlineData(MomentPrecision.Float32, Poison.InfiniteGradient, 70000L, false)]
    [InlineData(MomentPrecision.Float32, Poison.WeightOverflows, 0L, true)]
    [InlineData(MomentPrecision.BFloat16, Poison.SquareOverflows, 70000L, true)]
    [InlineData(MomentPrecision.BFloat16, Poison.NaNGradient, 0L, false)]
    [InlineData(MomentPrecision.BFloat16, Poison.WeightOverflows, 70000L, true)]
    [InlineData(MomentPrecision.EightBit, Poison.SquareOverflows, 70000L, true)]
    [InlineData(MomentPrecision.EightBit, Poison.NaNGradient, 33333L, true)]
    [InlineData(MomentPrecision.EightBit, Poison.InfiniteGradient, 0L, false)]
    [InlineData(MomentPrecision.EightBit, Poison.WeightOverflows, 70000L, true)]
    public void A_step_that_would_go_non_finite_changes_nothing(MomentPrecision precision, Poison poison, long index, bool withState)
    {
        var ps = Params();
        var opt = new AdamW(ps, 0.9, 0.95, 1e-8, 0.1, precision);
        if (withState)
        {
            Backward(ps, 0);
            Assert.True(opt.Update(1e-2));
        }
        var weights = ps.Select(p => Floats(p.Param)).ToList();
        var state = Bytes(opt);
        var step = opt.Step;

        Backward(ps, 1);
        var big = ps[^1].Param;
        double lr = 1e-2;
        using (no_grad())
        {
            switch (poison)
            {
                case Poison.SquareOverflows: big.grad![index] = 1e20f; break;        // g*g overflows: v would be infinite
                case Poison.NaNGradient: big.grad![index] = float.NaN; break;
                case Poison.InfiniteGradient: big.grad![index] = float.PositiveInfinity; break;
                case Poison.WeightOverflows: big[index] = 3e38f; lr = 1e6; break;  // p * (1 - lr * wd) = -3e43
            }
        }
        if (poison == Poison.WeightOverflows) weights[^1][index] = 3e38f;
        Assert.False(opt.Update(lr));
        Assert.Equal(step, opt.Step);
        for (int i = 0; i < ps.Count; i++) Assert.Equal(weights[i], Floats(ps[i].Param));
        var after = Bytes(opt);
        Assert.Equal(state.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in state) Assert.True(bytes.SequenceEqual(after[name]), name);
    }

    /// <summary>A second moment that is finite in fp32 but rounds to infinity in bf16 (above 0x7F7F8000, about 3.3962e38)
    /// would be stored as infinity: the step is refused. (The torch path checks the fp32 value only.)</summary>
    [Fact]
    public void A_bf16_moment_that_would_round_to_infinity_is_refused()
    {
        var p = zeros(20).requires_grad_();
        var opt = new AdamW([("p", p)], 0.9, 0.95, 1e-8, 0, MomentPrecision.BFloat16);
        float g = 8.245e19f;
        float v = 0.05f * g * g;   // the kernel's first v: fma(0.05 g, g, 0) = (0.05 g) g rounded once
        Assert.True(float.IsFinite(v) && v > BitConverter.UInt32BitsToSingle(0x7F7F8000), $"premise: v = {v}");
        var grad = zeros(20);
        grad[13] = g;
        (p * grad).sum().backward();
        Assert.False(opt.Update(1e-3));
        Assert.Empty(opt.StateTensors());
        Assert.All(Floats(p), w => Assert.Equal(0f, w));
        // Just below the limit the same step is taken.
        p.grad!.zero_();
        using (no_grad()) p.grad[13] = 8.2e19f;
        Assert.True(opt.Update(1e-3));
        Assert.True(float.IsFinite(Floats(opt.StateTensors()["p.exp_avg_sq"])[13]));
    }

    /// <summary>
    /// With eps = 1e-30 the kernel's quick bound (|update| &lt;= lr/bc1 x |m| / eps) exceeds the largest float, so it cannot
    /// prove the step finite; the exact check then finds it finite and the step is taken, equal to the torch ops.
    /// </summary>
    [Theory]
    [InlineData(MomentPrecision.Float32)]
    [InlineData(MomentPrecision.BFloat16)]
    [InlineData(MomentPrecision.EightBit)]
    public void A_finite_step_beyond_the_quick_bound_is_checked_exactly_and_taken(MomentPrecision precision)
    {
        var a = Params();
        var b = Params();
        var fused = new AdamW(a, 0.9, 0.95, 1e-30, 0.1, precision);
        var reference = new AdamW(b, 0.9, 0.95, 1e-30, 0.1, precision) { UseKernel = false };
        for (int s = 0; s < 3; s++)
        {
            Backward(a, s);
            Backward(b, s);
            using (no_grad()) { a[^1].Param.grad![5] = 1e12f; b[^1].Param.grad![5] = 1e12f; }   // m = 1e11: 1e-2 / 0.1 x 1e11 / 1e-30 overflows
            Assert.True(fused.Update(1e-2));
            Assert.True(reference.Update(1e-2));
        }
        for (int i = 0; i < a.Count; i++)
            Assert.True(allclose(a[i].Param, b[i].Param, rtol: 1e-6, atol: 1e-6), a[i].Name);
    }

    /// <summary>The gradient norm from the kernel's sums of squares (double, per parameter rounded to fp32) against torch's
    /// <c>g.square().sum()</c> per parameter: equal to 1e-6, the same for any number of threads, NaN for a NaN gradient, and
    /// infinite when a square overflows fp32 (as before, so that such a step is skipped).</summary>
    [Fact]
    public void Gradient_norm_matches_torch_and_keeps_fp32_overflow()
    {
        var ps = Params();
        Backward(ps, 3);
        var fused = new AdamW(ps, 0.9, 0.95, 1e-8, 0.1);
        var reference = new AdamW(ps, 0.9, 0.95, 1e-8, 0.1) { UseKernel = false };
        double expected = reference.GradNorm();
        Assert.True(double.IsFinite(expected) && expected > 0);
        Assert.Equal(expected, fused.GradNorm(), expected * 1e-6);
        var one = new AdamW(ps, 0.9, 0.95, 1e-8, 0.1) { KernelThreads = 1 };
        var three = new AdamW(ps, 0.9, 0.95, 1e-8, 0.1) { KernelThreads = 3 };
        Assert.Equal(one.GradNorm(), three.GradNorm());

        using (no_grad()) ps[^1].Param.grad![70000] = 2e19f;   // its square overflows fp32
        Assert.Equal(double.PositiveInfinity, reference.GradNorm());
        Assert.Equal(double.PositiveInfinity, fused.GradNorm());
        using (no_grad()) ps[^1].Param.grad![70000] = float.NaN;
        Assert.True(double.IsNaN(reference.GradNorm()));
        Assert.True(double.IsNaN(fused.GradNorm()));
    }

    /// <summary>A non-contiguous parameter goes through the torch ops (in a contiguous copy) while the others take the
    /// kernel; the result is that of the torch ops everywhere, and a NaN in the torch-side gradient still skips the whole step.</summary>
    [Fact]
    public void Parameters_the_kernel_cannot_take_use_the_torch_ops()
    {
        List<(string, Tensor)> Make()
        {
            var g = new Generator(9);
            var strided = randn(30, 20, generator: g).t().detach().requires_grad_();   // [20, 30], not contiguous
            return [("dense", randn(5000, generator: g).requires_grad_()), ("strided", strided)];
        }
        var a = Make();
        var b = Make();
        Assert.False(a[1].Item2.is_contiguous());
        var start = Floats(a[1].Item2.contiguous());
        var fused = new AdamW(a, 0.9, 0.95, 1e-8, 0.1, MomentPrecision.EightBit);
        var reference = new AdamW(b, 0.9, 0.95, 1e-8, 0.1, MomentPrecision.EightBit) { UseKernel = false };
        for (int s = 0; s < 3; s++)
        {
            foreach (var (ps, opt) in new[] { (a, fused), (b, reference) })
            {
                opt.ZeroGrad();
                var gen = new Generator((ulong)s);
                foreach (var (_, p) in ps) (p * randn(p.shape, generator: gen)).sum().backward();
                Assert.True(opt.Update(1e-2));
            }
        }
        for (int i = 0; i < 2; i++)
            Assert.True(allclose(a[i].Item2, b[i].Item2, rtol: 1e-6, atol: 1e-6), a[i].Item1);
        Assert.NotEqual(start, Floats(a[1].Item2.contiguous()));
        Assert.False(a[1].Item2.is_contiguous());

        var dense = Floats(a[0].Item2);
        var state = Bytes(fused);
        fused.ZeroGrad();
        (a[0].Item2.sum() + a[1].Item2.sum() * float.NaN).backward();
        Assert.False(fused.Update(1e-2));
        Assert.Equal(dense, Floats(a[0].Item2));
        foreach (var (name, bytes) in state) Assert.True(bytes.SequenceEqual(Bytes(fused)[name]), name);
    }
}

public class AdamWKernelQuantizationTests
{
    /// <summary>
    /// The kernel's 8-bit codes and block scales are those of <see cref="BlockwiseQuantization.Quantize"/>, bit for bit,
    /// on values that probe its rules: each code value and its negation, the midpoints between them and their float
    /// neighbours (ties go to the lower code, as torch.bucketize), +0 and -0, values below half the smallest code, an
    /// all-zero block, a short last block, and random values over many orders of magnitude.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void Codes_and_scales_equal_BlockwiseQuantization(bool signed, bool gathers)
    {
        var code = BlockwiseQuantization.DynamicCode(signed);
        var mid = BlockwiseQuantization.Midpoints(code);
        var values = new List<float>();
        // Block 1 (absmax exactly 1, so x / absmax = x): the code, midpoints and neighbours, zeros, tiny values.
        foreach (var c in code) values.AddRange([c, -c]);
        foreach (var m in mid) values.AddRange([m, MathF.BitDecrement(m), MathF.BitIncrement(m), -m, -MathF.BitDecrement(m), -MathF.BitIncrement(m)]);
        values.AddRange([0f, -0f, 1e-9f, -1e-9f, code.Where(c => c > 0).Min() / 2, -code.Where(c => c > 0).Min() / 2, 1f]);
        if (!signed) values = values.Select(MathF.Abs).ToList();
        var block = values.Take(2047).Append(1f).ToList();
        while (block.Count < 2048) block.Insert(0, 0.5f);
        // Block 2: all zeros (one -0). Blocks 3 and 4: random, scales 3.7 and 1e-20. Block 5: 1001 elements.
        var g = new Generator(21);
        var random = (randn(2048 * 2 + 1001, generator: g) * exp(randn(2048 * 2 + 1001, generator: g) * 4)).data<float>().ToArray();
        if (!signed) random = random.Select(MathF.Abs).ToArray();
        var all = block.Concat(Enumerable.Repeat(0f, 2047)).Append(-0f)
            .Concat(random.Take(2048).Select(x => x * 3.7f)).Concat(random.Skip(2048).Take(2048).Select(x => x * 1e-20f)).Concat(random.Skip(4096))
            .ToArray();
        Assert.Equal(5 * 2048 - 1047, all.Length);

        var (expectedCodes, expectedScales) = BlockwiseQuantization.Quantize(tensor(all), signed);
        var codes = new byte[all.Length];
        var scales = new float[5];
        for (int b = 0; b < 5; b++)
        {
            int len = System.Math.Min(2048, all.Length - b * 2048);
            scales[b] = AdamWStep.QuantizeBlock(all.AsSpan(b * 2048, len), codes.AsSpan(b * 2048, len), signed, gathers);
        }
        Assert.Equal(expectedScales.data<float>().ToArray(), scales);
        var expected = expectedCodes.data<byte>().ToArray();
        for (int i = 0; i < all.Length; i++) Assert.True(expected[i] == codes[i], $"value {all[i]:R} at {i}: code {codes[i]}, torch {expected[i]}");

        // And back: the kernel's dequantization equals BlockwiseQuantization.Dequantize.
        var back = BlockwiseQuantization.Dequantize(expectedCodes, expectedScales, signed).data<float>().ToArray();
        var mine = new float[all.Length];
        for (int b = 0; b < 5; b++)
        {
            int len = System.Math.Min(2048, all.Length - b * 2048);
            AdamWStep.DequantizeBlock(codes.AsSpan(b * 2048, len), scales[b], signed, mine.AsSpan(b * 2048, len));
        }
        Assert.Equal(back, mine);
        // This machine's loops: AVX2 gathers where the CPU has them (the test then covers both loops).
        if (gathers) Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported, AdamWStep.GathersUsed);
    }
}
