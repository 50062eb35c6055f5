using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Rlvr.Kernels;

namespace Rlvr.Model;

/// <summary>
/// Process-wide settings of the native libraries under TorchSharp, applied once before the first
/// model is built (and first thing in the CLI). A user's own environment variable always wins.
/// <list type="bullet">
/// <item>glibc returns freed tensor memory to the OS. libtorch's CPU tensors come from malloc; glibc
/// serves large blocks with mmap but, after the first is freed, raises its mmap threshold (up to 32 MB)
/// and serves later ones from the heap, which fragments and is not given back. Measured on
/// Qwen2.5-0.5B: RSS grew by ~300 MB per 8 x 256-token forward pass without bound; with a fixed
/// threshold it stays flat, at the cost of page faults on fresh mappings (a few percent of a forward
/// pass, within the noise of our measurements).</item>
/// <item>MKL's conditional numerical reproducibility (MKL_CBWR) is pinned to the CPU's vector
/// instruction set. Without it MKL picks kernels by the alignment of each buffer, so a run resumed
/// from a checkpoint (a new process, other addresses) computed gradients differing in the last bits
/// from the uninterrupted run. Pinned, results depend only on the data; measured here it also made
/// the decode-shaped GEMM ([64, 896] x [896, 4864]) about 2x faster and large GEMMs ~8 % slower.</item>
/// <item>Small models keep freed memory instead. For a model under <see cref="SmallModelParameters"/> parameters every
/// activation is a few MB, and with the 1 MB threshold each was a fresh mapping whose pages fault in on first touch:
/// the 0.8 M-parameter demo model trained at 1,137 tokens/s with it and 5,138 without it (one thread, AMD EPYC,
/// `rlvr bench train --rollouts 32 --prompt-tokens 47 --response-tokens 40`). Such models get a 32 MB mmap
/// threshold and a 256 MB trim threshold (heap blocks are reused); their whole working set is a few hundred MB.</item>
/// <item>Where the few-row products run in rlvr's kernel (<see cref="GemmPath"/>), libtorch's OpenMP threads sleep as
/// soon as a parallel region ends (OMP_WAIT_POLICY=passive; libgomp reads it when libtorch loads). By default they
/// spin for a while and took the core the kernel's second thread needed: a 0.5B decode step at batch 64 went from
/// about 0.6 s to 3.7 s on the 2-core AMD EPYC.</item>
/// </list>
/// </summary>
public static partial class NativeRuntime
{
    /// <summary>Blocks of at least this size get their own mapping, unmapped on free.</summary>
    const int MmapThresholdBytes = 1 << 20;
    const int M_MMAP_THRESHOLD = -3;

    static int applied;

    /// <summary>Models below this many parameters get the small-model allocator settings.</summary>
    public const long SmallModelParameters = 50_000_000;
    const int M_TRIM_THRESHOLD = -1;
    static int smallModelApplied;

    public static void Configure()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref applied, 1) == 1) return;
        try
        {
            // Set in the native environment: MKL reads it with getenv, which .NET's own copy does not reach.
            if (MklBranch() is { } branch) setenv("MKL_CBWR", branch, 0);
            if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") == null) mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes);
            if (GemmPath.UseKernel) setenv("OMP_WAIT_POLICY", "passive", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }   // not glibc: nothing to tune
    }

    /// <summary>Called when a model is built: below <see cref="SmallModelParameters"/>, freed tensor memory is kept for reuse
    /// (see the remarks above); the user's MALLOC_ variables still win. Once set, it stays for the process.</summary>
    public static void SuitModelSize(long parameters)
    {
        if (!OperatingSystem.IsLinux() || parameters >= SmallModelParameters || Interlocked.Exchange(ref smallModelApplied, 1) == 1) return;
        try
        {
            if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") == null) mallopt(M_MMAP_THRESHOLD, 32 << 20);
            if (Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") == null) mallopt(M_TRIM_THRESHOLD, 256 << 20);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    static string? MklBranch() =>
        Avx512F.IsSupported ? "AVX512" : Avx2.IsSupported ? "AVX2" : Avx.IsSupported ? "AVX" : null;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
