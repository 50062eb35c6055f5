using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using static TorchSharp.torch;

namespace Rlvr.Kernels;

/// <summary>
/// Which code runs the few-row products x W^T (<see cref="Gemm"/>): this project's kernel or libtorch's MKL. Chosen once
/// per process from the CPU and the command, not from a timing, so that a run resumed in a new process computes exactly
/// what the uninterrupted run would have: the kernel in processes that only sample (<see cref="MarkSamplingProcess"/>)
/// on x86 CPUs with AVX2 and FMA that are not Intel's (MKL selects its fast code by vendor and ran these shapes at
/// about three quarters of the kernel's speed on an AMD EPYC), MKL in training processes, on Intel CPUs and elsewhere. The environment variable <c>RLVR_GEMM</c> (<c>kernel</c> or <c>mkl</c>) overrides the choice;
/// <see cref="Compare"/> times both on a decode-shaped product so that the bench commands show what the choice costs.
/// </summary>
public static class GemmPath
{
    static readonly Lazy<bool> useKernel = new(Choose);
    static bool samplingProcess;

    /// <summary>Says, before the first product, that this process samples and does not train (generate, eval, bench
    /// generate; not serve, whose rollouts must equal the trainer's built-in sampler's): only such processes take the
    /// kernel by default. The kernel's second thread needs libtorch's
    /// OpenMP threads to sleep between parallel regions (<see cref="Model.NativeRuntime"/>), and that slowed training's
    /// large MKL products by about a tenth (0.5B update: GEMM 120 against 149 GFLOP/s, 29 against 31 tokens/s).</summary>
    public static void MarkSamplingProcess() => samplingProcess = true;

    /// <summary>Whether the kernel can run on this CPU at all (AVX2 and FMA).</summary>
    public static bool KernelSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether the few-row products go to the kernel in this process.</summary>
    public static bool UseKernel => useKernel.Value;

    /// <summary>The CPU's vendor string from CPUID ("AuthenticAMD", "GenuineIntel"), empty off x86.</summary>
    public static string CpuVendor()
    {
        if (!X86Base.IsSupported) return "";
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        var bytes = new byte[12];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), ebx);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), edx);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), ecx);
        return Encoding.ASCII.GetString(bytes);
    }

    /// <summary>The CPU's model name as /proc/cpuinfo gives it (lscpu's "Model name"), or "unknown".</summary>
    public static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        var line = File.Exists(cpuinfo) ? File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name")) : null;
        return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
    }

    /// <summary>The vector instructions that matter for the products: what the kernel uses, and whether AVX-512 is there.</summary>
    public static string CpuFeatures() =>
        string.Join(" ", new[] { (Avx2.IsSupported, "avx2"), (Fma.IsSupported, "fma"), (Avx512F.IsSupported, "avx512f") }
            .Where(f => f.Item1).Select(f => f.Item2).DefaultIfEmpty("none"));

    /// <summary>One line for the bench outputs: the CPU, and which path the few-row products take and why.</summary>
    public static string Describe() =>
        $"CPU {CpuModel()} ({CpuVendor()}; {CpuFeatures()}); products of at most {Gemm.MaxRows} rows: " +
        (UseKernel ? "rlvr's kernel" : "MKL") + $" ({Reason()})";

    /// <summary>Why a request for bf16 weight copies (<c>--bf16-weights</c>) changes nothing in this process, or null when
    /// it takes effect: only rlvr's kernel reads the copies.</summary>
    public static string? Bf16WeightsIgnored() =>
        UseKernel ? null : $"--bf16-weights has no effect: only rlvr's kernel reads bf16 weights, and this process's products are MKL's ({Reason()}); decoding in fp32";

    static string Reason() =>
        Environment.GetEnvironmentVariable("RLVR_GEMM") is { Length: > 0 } forced ? $"RLVR_GEMM={forced}"
        : !KernelSupported ? "no AVX2/FMA for the kernel"
        : CpuVendor() == "GenuineIntel" ? "an Intel CPU: MKL's own"
        : samplingProcess ? "not an Intel CPU: MKL's generic code" : "a training process: MKL, its threads spinning";

    static bool Choose()
    {
        var forced = Environment.GetEnvironmentVariable("RLVR_GEMM");
        if (forced is { Length: > 0 })
            return forced switch
            {
                "kernel" => KernelSupported ? true : throw new InvalidOperationException("RLVR_GEMM=kernel: this CPU has no AVX2/FMA"),
                "mkl" => false,
                _ => throw new InvalidOperationException($"RLVR_GEMM={forced}: expected kernel or mkl"),
            };
        return KernelSupported && CpuVendor() != "GenuineIntel" && samplingProcess;
    }

    /// <summary>FLOP/s of the kernel and of MKL on x [rows, in] W^T (W [out, in]), best of a few alternating runs each on
    /// the current torch threads, and the largest difference between their results relative to the largest output.</summary>
    public static (double KernelFlops, double MklFlops, double RelativeDifference) Compare(long rows, long inFeatures, long outFeatures, int repeats = 5)
    {
        if (!KernelSupported) return (0, 0, 0);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = randn(rows, inFeatures);
        var w = randn(outFeatures, inFeatures);
        var byKernel = empty(rows, outFeatures);
        var byMkl = empty(rows, outFeatures);
        double kernel = double.MaxValue, mkl = double.MaxValue;
        for (int r = 0; r <= repeats; r++)   // the first round warms both up and is not counted
        {
            var clock = Stopwatch.StartNew();
            Gemm.MultiplyInto(byKernel, x, w);
            var kernelSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            byMkl.addmm_(x, w.t(), beta: 0);
            var mklSeconds = clock.Elapsed.TotalSeconds;
            if (r == 0) continue;
            kernel = System.Math.Min(kernel, kernelSeconds);
            mkl = System.Math.Min(mkl, mklSeconds);
        }
        double flops = 2.0 * rows * inFeatures * outFeatures;
        var difference = (byKernel - byMkl).abs().max().item<float>() / byMkl.abs().max().item<float>();
        return (flops / kernel, flops / mkl, difference);
    }
}
