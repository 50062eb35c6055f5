using System.Runtime.Intrinsics.X86;
using Rlvr.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Kernels;

/// <summary>rlvr's few-row GEMM kernel against a float64 product, on shapes that hit every edge of its blocking.</summary>
public class GemmTests
{
    static bool Runs => GemmPath.KernelSupported;

    /// <summary>x W^T in float64 from the same fp32 (or bf16) values.</summary>
    static Tensor Reference(Tensor x, Tensor w) => x.to(ScalarType.Float64).matmul(w.to(ScalarType.Float64).t());

    /// <summary>Largest error relative to the size of the terms summed: |error| / (|x| |w|^T) elementwise, at most.</summary>
    static double RelativeError(Tensor result, Tensor x, Tensor w)
    {
        using var scope = NewDisposeScope();
        var scale = x.to(ScalarType.Float64).abs().matmul(w.to(ScalarType.Float64).abs().t()).clamp_min(1e-30);
        return ((result.to(ScalarType.Float64) - Reference(x, w)).abs() / scale).max().item<double>();
    }

    // (rows, in, out): partial 3-row and 4-column tiles, an in-width that is not a multiple of 8 and spans two
    // 1024-column blocks, more rows than one 96-row block, one row (decode at batch 1: the 1-row tile, with its 16-,
    // 8- and 1-column steps in { 1, 41, 9 }).
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 7, 5 }, { 2, 9, 3 }, { 4, 17, 6 }, { 3, 8, 4 }, { 5, 1031, 13 }, { 97, 64, 10 }, { 64, 2050, 9 }, { 200, 33, 130 }, { 1, 41, 9 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fp32_products_match_float64_on_one_and_two_threads(int rows, int inFeatures, int outFeatures)
    {
        if (!Runs) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator(seed: (ulong)(rows * 7919 + inFeatures * 31 + outFeatures));
        var x = randn([rows, inFeatures], generator: generator);
        var w = randn([outFeatures, inFeatures], generator: generator);
        var one = full(rows, outFeatures, float.NaN);
        var two = full(rows, outFeatures, float.NaN);
        Gemm.MultiplyInto(one, x, w, threads: 1);
        Gemm.MultiplyInto(two, x, w, threads: 2);
        // fp32 accumulation over at most 2,050 terms: far below 1e-5 of the terms' size; a wrong tile is off by O(1).
        Assert.True(RelativeError(one, x, w) < 1e-5, $"error {RelativeError(one, x, w)}");
        // Each output is one tile's dot product whichever thread takes it: identical bits.
        Assert.True(one.eq(two).all().item<bool>());
    }

    [Fact]
    public void Bf16_weights_are_widened_exactly()
    {
        if (!Runs) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator(seed: 5);
        var x = randn([7, 1030], generator: generator);
        var w32 = randn([11, 1030], generator: generator);
        var w = w32.to(ScalarType.BFloat16);
        var y = Gemm.Linear(x, w);
        Assert.Equal(ScalarType.Float32, y.dtype);
        var toStored = RelativeError(y, x, w);
        Assert.True(toStored < 1e-5, $"error {toStored}");
        // The bf16 values were used, not the fp32 ones they were rounded from: against those the error is far larger.
        Assert.True(RelativeError(y, x, w32) > 10 * toStored);

    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void A_row_gets_the_same_bits_alone_as_in_a_batch(ScalarType weights)
    {
        if (!Runs) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // 1035 columns: a 1024-column block, then 8 + 3 (every step of both micro-kernels). Four rows: rows 0-2 in the
        // 3-row tile, row 3 in the 1-row tile; each row alone takes the 1-row tile.
        var generator = new Generator(seed: 11);
        var x = randn([4, 1035], generator: generator);
        var w = randn([10, 1035], generator: generator).to(weights);
        var batch = Gemm.Linear(x, w);
        for (int i = 0; i < 4; i++)
        {
            var alone = Gemm.Linear(x.narrow(0, i, 1), w);
            Assert.True(alone.eq(batch.narrow(0, i, 1)).all().item<bool>(), $"row {i}");
        }
        Assert.True(RelativeError(batch, x, w) < 1e-5);
    }

    [Fact]
    public void A_padded_output_keeps_the_columns_past_the_product()
    {
        if (!Runs) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = randn(5, 40);
        var w = randn(6, 40);
        var buffer = full(5, 9, float.NaN);
        Gemm.MultiplyInto(buffer, x, w);
        Assert.True(RelativeError(buffer.narrow(1, 0, 6), x, w) < 1e-5);
        Assert.True(buffer.narrow(1, 6, 3).isnan().all().item<bool>());
    }

    [Fact]
    public void Linear_keeps_the_leading_shape_and_adds_the_bias()
    {
        if (!Runs) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = randn(2, 3, 16);
        var w = randn(5, 16);
        var b = randn(5);
        var y = Gemm.Linear(x, w, b);
        Assert.Equal([2L, 3, 5], y.shape);
        var expected = nn.functional.linear(x, w, b);
        Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Serves_only_inference_products_of_few_rows()
    {
        if (!GemmPath.UseKernel) return;
        using var scope = NewDisposeScope();
        var w = randn(8, 16).requires_grad_(true);
        var few = randn(4, 16);
        var many = randn(Gemm.MaxRows + 1, 16);
        using (no_grad()) Assert.False(Gemm.Serves(few, w));   // not sampling: training's products stay libtorch's
        using var sampling = Gemm.ForSampling();
        Assert.False(Gemm.Serves(few, w));                 // autograd records the product: libtorch's
        using (no_grad())
        {
            Assert.True(Gemm.Serves(few, w));
            Assert.False(Gemm.Serves(many, w));           // prefill-sized: MKL's packed kernels
            Assert.False(Gemm.Serves(few.to(ScalarType.Float64), w));
            Assert.False(Gemm.Serves(randn(16, 4).t(), w));   // not contiguous
        }
    }

    [Fact]
    public void A_process_that_trains_keeps_mkl()
    {
        if (Environment.GetEnvironmentVariable("RLVR_GEMM") is { Length: > 0 }) return;
        Assert.False(GemmPath.UseKernel);   // the test process, like rlvr train, never marked itself a sampling process
        if (X86Base.IsSupported) Assert.Equal(12, GemmPath.CpuVendor().Length);
    }

    [Fact]
    public void Rlvr_generate_takes_the_kernel_on_non_intel_cpus()
    {
        var r = CliRunner.Run("bench", "generate", "--config", "tiny", "--batch", "2", "--prompt-tokens", "3", "--new-tokens", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var expected = GemmPath.KernelSupported && GemmPath.CpuVendor() != "GenuineIntel" && Environment.GetEnvironmentVariable("RLVR_GEMM") is null or ""
            ? "rlvr's kernel" : "MKL";
        Assert.Contains($"rows: {expected} (", r.Stdout);
    }

    [Fact]
    public void Bf16_weights_on_the_mkl_path_are_reported_as_having_no_effect()
    {
        string[] args = ["bench", "generate", "--config", "tiny", "--batch", "2", "--prompt-tokens", "3", "--new-tokens", "2", "--bf16-weights"];
        var mkl = CliRunner.RunWithEnvironment(new Dictionary<string, string> { ["RLVR_GEMM"] = "mkl" }, args);
        Assert.True(mkl.ExitCode == 0, mkl.Stderr);
        Assert.Contains("--bf16-weights has no effect", mkl.Stderr);
        Assert.DoesNotContain("bf16 weight copies", mkl.Stdout);
        if (!GemmPath.KernelSupported) return;
        var kernel = CliRunner.RunWithEnvironment(new Dictionary<string, string> { ["RLVR_GEMM"] = "kernel" }, args);
        Assert.True(kernel.ExitCode == 0, kernel.Stderr);
        Assert.DoesNotContain("no effect", kernel.Stderr);
        Assert.Contains("bf16 weight copies", kernel.Stdout);
    }
}
