using Rlvr.Reporting;
using static Rlvr.Tests.Reporting.RunFixture;

namespace Rlvr.Tests.Reporting;

/// <summary>
/// A synthetic sweep shaped like the paper's runs (80 steps, evaluation every 10, pass@k up to 64 at
/// steps 0 and 80), used to check the report end to end and to make the example in docs/reports.md:
/// <c>RLVR_REPORT_EXAMPLE=/tmp/example dotnet test --filter ExampleReport</c> keeps the runs there.
/// The numbers are invented (fixed random seed), not measured.
/// </summary>
public class ExampleReportTests
{
    static readonly int[] Ks = [1, 2, 4, 8, 16, 32, 64];

    /// <summary>(objective, pass@1 gain after 80 steps, pass@k at large k shift, entropy drift per step)</summary>
    static readonly (string Objective, double Gain, double LargeK, double EntropyDrift)[] Objectives =
    [
        ("psr", 0.08, -0.04, -0.004), ("nsr", 0.06, 0.02, 0.0), ("w-reinforce", 0.09, 0.01, -0.001),
    ];

    public static string WriteExampleRuns(string root)
    {
        foreach (var (model, base1) in new[] { (Small, 0.30), (Medium, 0.50) })
            foreach (var (objective, gain, largeK, drift) in Objectives)
                foreach (var seed in objective == "psr" && model == Small ? new[] { 1, 2 } : [1])
                    WriteExampleRun(root, model, objective, seed, base1, gain, largeK, drift);
        return root;
    }

    static void WriteExampleRun(string root, string model, string objective, int seed, double base1, double gain, double largeK, double drift)
    {
        var random = new Random(StableSeed($"{model}/{objective}/{seed}"));
        double Noise(double scale) => (random.NextDouble() - 0.5) * 2 * scale;
        var dir = Path.Combine(root, $"{model}-{objective}-s{seed}");
        Directory.CreateDirectory(dir);
        WriteConfig(dir, model, objective, seed, 80);
        using var metrics = new MetricsWriter(Path.Combine(dir, MetricsWriter.FileName));
        // pass@k rises like 1 - (1 - p)^sqrt(k); training moves pass@1 by `gain` and pass@64 by `largeK` more.
        SyntheticEval Eval(int step, double p1, double shift, bool withK) => withK
            ? new SyntheticEval(step, 64, 1246, Ks.Select(k => (k, System.Math.Clamp(1 - System.Math.Pow(1 - p1, System.Math.Sqrt(k)) + shift * System.Math.Log2(k) / 6, 0, 1))).ToArray())
            : new SyntheticEval(step, 1, 1246, (1, p1));
        WriteEval(dir, metrics, Eval(0, base1 + Noise(0.005), 0, withK: true));
        for (var step = 1; step <= 80; step++)
        {
            var progress = 1 - System.Math.Exp(-step / 30.0);
            var p = base1 + gain * progress;
            metrics.Append("train", step, new Dictionary<string, double>
            {
                ["reward"] = p + Noise(0.08), ["reward_std"] = 0.45 + Noise(0.03), ["correct_ratio"] = p + Noise(0.08),
                ["loss"] = Noise(0.02), ["grad_norm"] = 0.35 + Noise(0.1), ["entropy"] = 0.62 + drift * step + Noise(0.02),
                ["completions/mean_length"] = 330 - 40 * progress + Noise(15), ["completions/clipped_ratio"] = 0.05 + Noise(0.02),
                ["samples_kept"] = 64, ["time/step"] = 35 + Noise(3),
            });
            if (step % 10 == 0) WriteEval(dir, metrics, Eval(step, p + Noise(0.012), largeK, withK: step == 80));
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.json"), "{}");
    }

    /// <summary>FNV-1a of the text: the same numbers in every process (string.GetHashCode is randomized).</summary>
    static int StableSeed(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text) hash = (hash ^ c) * 16777619u;
        return (int)(hash & 0x7fffffff);
    }

    [Fact]
    public void ExampleReportHasEveryFigureAndNoProblems()
    {
        var keep = Environment.GetEnvironmentVariable("RLVR_REPORT_EXAMPLE");
        var root = WriteExampleRuns(Path.Combine(keep ?? Fixtures.TempDir(), "runs"));
        var result = Report.Write([root], Path.Combine(Path.GetDirectoryName(root)!, "report"));
        Assert.Empty(result.Problems);
        Assert.Equal(7, result.RunsRead);
        Assert.Equal(10, result.Figures.Count);
    }
}
