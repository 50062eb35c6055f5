using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Rlvr.Kernels;

namespace Rlvr.Model;

/// <summary>
/// Process-wide settings of the native libraries under TorchSharp, applied once before the first
/// model is built (and first thing in the CLI). A user's own environment variable always wins.
/// <list type="bullet">
/// <item>By default (and for models of <see cref="KeepFreedMemoryBelow"/> parameters and more) glibc returns freed
/// tensor memory to the OS. libtorch's CPU tensors come from malloc; glibc serves large blocks with mmap but, after
/// the first is freed, raises its mmap threshold (up to 32 MB) and serves later ones from the heap, which fragments
/// and is not given back. Measured on Qwen2.5-0.5B: RSS grew by ~300 MB per 8 x 256-token forward pass without
/// bound; with a fixed 1 MB threshold it stays flat, at the cost of page faults on fresh mappings (measured then as
/// a few percent of a forward pass on a loaded Xeon; a fifth of the update's CPU time on an idle AMD EPYC, below).</item>
/// <item>MKL's conditional numerical reproducibility (MKL_CBWR) is pinned to the CPU's vector
/// instruction set. Without it MKL picks kernels by the alignment of each buffer, so a run resumed
/// from a checkpoint (a new process, other addresses) computed gradients differing in the last bits
/// from the uninterrupted run. Pinned, results depend only on the data; measured here it also made
/// the decode-shaped GEMM ([64, 896] x [896, 4864]) about 2x faster and large GEMMs ~8 % slower.</item>
/// <item>Models under <see cref="KeepFreedMemoryBelow"/> parameters keep freed memory instead: no mmap at all and no trim,
/// so freed tensor memory goes back to malloc's heap and is reused without page faults. With the 1 MB threshold every
/// activation was a fresh mapping whose pages the kernel zeroes on first touch: on Qwen2.5-0.5B (2-vCPU AMD EPYC) that
/// was a fifth of the update's CPU time, and keeping the memory took `rlvr bench train` (4 x 256 tokens) from about
/// 32 to 60 tokens/s from the second update on, prefill from 156 to 227 tokens/s and decode from 100 to 114. It costs
/// memory: the heap's holes add about 1.8 GB to the 0.5B update's peak (11.3 to 13.1 GB, flat from the fourth of five
/// updates) and to sampling's. Only the main thread's heap (malloc's main arena) works so: threads of their own
/// (`sweep --jobs`, `serve`'s model thread) allocate from 64 MB arena heaps, which still map blocks above that size
/// and unmap heaps that empty. Larger models keep the 1 MB threshold, because memory is what limits them on a
/// 24 GB machine; once such a model is built, the process releases memory for good (a sweep may mix sizes).
/// The 0.8 M-parameter demo model trained at 1,137 tokens/s with the threshold and 5,138 without it.</item>
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

    public static void Configure()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref applied, 1) == 1) return;
        try
        {
            // Set in the native environment: MKL reads it with getenv, which .NET's own copy does not reach.
            if (MklBranch() is { } branch) setenv("MKL_CBWR", branch, 0);
            if (!UserTunesMalloc()) mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes);
            if (GemmPath.UseKernel) setenv("OMP_WAIT_POLICY", "passive", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }   // not glibc: nothing to tune
    }

    /// <summary>Models below this many parameters get the keep-freed-memory allocator settings (see the remarks above).</summary>
    public const long KeepFreedMemoryBelow = 1_000_000_000;
    const int M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4;
    const int DefaultTrimThreshold = 128 << 10, DefaultMmapMax = 65536;
    static FreedMemory freedMemory = FreedMemory.Unchosen;

    public enum FreedMemory { Unchosen, Keep, Release }

    /// <summary>The allocator setting after building a model of <paramref name="parameters"/> parameters: keep freed
    /// memory below <see cref="KeepFreedMemoryBelow"/>, unless memory was already released for a larger model (a process
    /// holding a large model stays careful with memory).</summary>
    public static FreedMemory Choose(FreedMemory current, long parameters) =>
        current == FreedMemory.Release || parameters >= KeepFreedMemoryBelow ? FreedMemory.Release : FreedMemory.Keep;

    /// <summary>Called when a model is built: sets glibc's allocator as <see cref="Choose"/> says (see the remarks above).
    /// The user's MALLOC_ variables and GLIBC_TUNABLES still win.</summary>
    public static void SuitModelSize(long parameters)
    {
        if (!OperatingSystem.IsLinux() || UserTunesMalloc()) return;
        lock (PolicyLock)
        {
            var next = Choose(freedMemory, parameters);
            if (next == freedMemory) return;
            bool keep = next == FreedMemory.Keep;
            try
            {
                mallopt(M_MMAP_MAX, keep ? 0 : DefaultMmapMax);
                mallopt(M_TRIM_THRESHOLD, keep ? -1 : DefaultTrimThreshold);   // -1: never trim (mallopt(3))
                // The mmap threshold stays Configure's 1 MB: with no mmap at all it is not consulted.
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
            freedMemory = next;
        }
    }

    static readonly Lock PolicyLock = new();

    /// <summary>Whether the user set what these settings set: then theirs stand (other MALLOC_ variables, such as
    /// MALLOC_ARENA_MAX, leave ours on).</summary>
    static bool UserTunesMalloc()
    {
        string[] variables = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"];
        string[] tunables = ["glibc.malloc.mmap_threshold", "glibc.malloc.mmap_max", "glibc.malloc.trim_threshold", "glibc.malloc.top_pad"];
        var set = Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "";
        return variables.Any(v => Environment.GetEnvironmentVariable(v) is not null) || tunables.Any(t => set.Contains(t, StringComparison.Ordinal));
    }

    static string? MklBranch() =>
        Avx512F.IsSupported ? "AVX512" : Avx2.IsSupported ? "AVX2" : Avx.IsSupported ? "AVX" : null;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
