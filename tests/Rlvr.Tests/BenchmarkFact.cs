namespace Rlvr.Tests;

/// <summary>A fact that runs only when RLVR_BENCH=1: benchmarks are slow and their numbers go in the docs, not in asserts.</summary>
public sealed class BenchmarkFactAttribute : FactAttribute
{
    public BenchmarkFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("RLVR_BENCH") != "1") Skip = "benchmark: run with RLVR_BENCH=1";
    }
}
