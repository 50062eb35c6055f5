using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr;

/// <summary>
/// One matrix product [M, K] x [K, N] as a model runs it. <paramref name="TransposedA"/> /
/// <paramref name="TransposedB"/>: that operand is a transposed view of a contiguous tensor, as the
/// weight in linear's x W^T, or the output gradient in the weight gradient dY^T X.
/// </summary>
public sealed record GemmShape(long M, long K, long N, bool TransposedA = false, bool TransposedB = false)
{
    public double Flops => 2.0 * M * K * N;

    /// <summary>The three products of a linear layer y = x W^T (W: [out, in]) over <paramref name="rows"/> input rows in
    /// training: forward x W^T, input gradient dY W, weight gradient dY^T x. Each is 2 x rows x in x out FLOPs.</summary>
    public static GemmShape[] LinearTraining(long rows, long inFeatures, long outFeatures) =>
    [
        new(rows, inFeatures, outFeatures, TransposedB: true),
        new(rows, outFeatures, inFeatures),
        new(outFeatures, rows, inFeatures, TransposedA: true),
    ];
}

/// <summary>FLOPs, wall-clock seconds and process CPU seconds of a mix of GEMMs (each shape timed once, weighted by how often it occurs).</summary>
public sealed record GemmMix(double Flops, double Seconds, double CpuSeconds)
{
    public double FlopsPerSecond => Flops / Seconds;
    /// <summary>FLOPs per CPU second: less sensitive than <see cref="FlopsPerSecond"/> to other processes taking the cores.</summary>
    public double FlopsPerCpuSecond => Flops / CpuSeconds;
}

/// <summary>
/// Measurements shared by the <c>rlvr bench</c> commands: the process's memory (from /proc/self/status),
/// the machine's load average, and fp32 GEMM throughput on given shapes (the roofline a model's
/// matrix products could reach on this machine, at the current load).
/// </summary>
public static class Bench
{
    /// <summary>Peak resident set of this process (VmHWM), in MiB (the "MB" of the bench outputs); 0 where /proc is missing.</summary>
    public static double PeakRssMb() => StatusMb("VmHWM");

    /// <summary>Current resident set of this process (VmRSS), in MiB; 0 where /proc is missing.</summary>
    public static double RssMb() => StatusMb("VmRSS");

    /// <summary>Resets the peak resident set to the current one (Linux: "5" to /proc/self/clear_refs), so that
    /// <see cref="PeakRssMb"/> then covers only what follows; false where that is not possible.</summary>
    public static bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>CPU seconds (user + system, all threads) this process has used so far.</summary>
    public static double CpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    /// <summary>The system (kernel) share of <see cref="CpuSeconds"/> and the minor page faults so far (field 10 of
    /// /proc/self/stat; 0 where it is missing): fresh memory faulting in shows as both.</summary>
    public static (double SystemSeconds, long PageFaults) KernelCounters()
    {
        double system = Process.GetCurrentProcess().PrivilegedProcessorTime.TotalSeconds;
        const string stat = "/proc/self/stat";
        if (!File.Exists(stat)) return (system, 0);
        return (system, StatField(File.ReadAllText(stat), 10));
    }

    /// <summary>Field <paramref name="field"/> (1-based, as in proc(5)) of a /proc/PID/stat line. The command name
    /// (field 2, in parentheses) may hold spaces and parentheses, so fields are counted from its last ')'.</summary>
    public static long StatField(string stat, int field)
    {
        if (field < 3) throw new ArgumentOutOfRangeException(nameof(field), "fields 1 and 2 are not numbers after the name");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[field - 3], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The 1-minute load average (timings on a shared machine depend on it); empty where /proc is missing.</summary>
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "";

    static double StatusMb(string field)
    {
        const string status = "/proc/self/status";
        return File.Exists(status) ? StatusFieldMb(File.ReadLines(status), field) : 0;
    }

    /// <summary>A "Field: N kB" value of /proc/PID/status in MiB (0 when the field is missing). The number may
    /// follow the tab directly ("VmHWM:\t12345678 kB" from 10 GB up).</summary>
    public static double StatusFieldMb(IEnumerable<string> statusLines, string field)
    {
        var line = statusLines.FirstOrDefault(l => l.StartsWith(field + ":"));
        return line is null ? 0 : long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) / 1024.0;
    }

    /// <summary>
    /// Times one fp32 product of each shape (inputs random, output preallocated, so that only the GEMM is timed)
    /// and adds them up weighted by their counts: the FLOPs and the seconds the mix takes at GEMM speed.
    /// </summary>
    public static GemmMix TimeGemms(IEnumerable<(GemmShape Shape, double Count)> mix)
    {
        using var noGrad = no_grad();
        using (var warm = randn(256, 256)) warm.mm(warm).Dispose();   // MKL's threads and buffers come up outside the timings
        double flops = 0, seconds = 0, cpu = 0;
        foreach (var (shape, count) in mix)
        {
            using var scope = NewDisposeScope();
            var a = shape.TransposedA ? randn(shape.K, shape.M).t() : randn(shape.M, shape.K);
            var b = shape.TransposedB ? randn(shape.N, shape.K).t() : randn(shape.K, shape.N);
            var c = empty(shape.M, shape.N).zero_();   // touched now, so page faults are not timed
            var cpuStart = CpuSeconds();
            var clock = Stopwatch.StartNew();
            c.addmm_(a, b, beta: 0);
            seconds += count * clock.Elapsed.TotalSeconds;
            cpu += count * (CpuSeconds() - cpuStart);
            flops += count * shape.Flops;
        }
        return new GemmMix(flops, seconds, cpu);
    }
}
