using System.Buffers.Binary;
using Rlvr.Reporting;
using SkiaSharp;
using static Rlvr.Tests.Reporting.RunFixture;

namespace Rlvr.Tests.Reporting;

public class ReportTests
{
    const string SmallPass1 = "pass1_Qwen2.5-0.5B-Instruct.png";
    const string MediumPass1 = "pass1_Qwen2.5-1.5B-Instruct.png";

    /// <summary>The report of <see cref="RunFixture.WriteSixRuns"/>, made once for the tests that only read it.</summary>
    static (string Out, ReportResult Result, string Markdown) SixRunReport() => sixRunReport.Value;

    static readonly Lazy<(string, ReportResult, string)> sixRunReport = new(() =>
    {
        var root = WriteSixRuns(Fixtures.TempDir());
        var outDir = Path.Combine(Fixtures.TempDir(), "report");
        var result = Report.Write([root], outDir, new ReportOptions(Smooth: 2)); // the parent folder stands for its runs
        return (outDir, result, File.ReadAllText(result.ReportPath));
    });

    [Fact]
    public void SixRunsGiveEveryFigureAsADecodablePngEmbeddedInTheReport()
    {
        var (outDir, result, md) = SixRunReport();
        Assert.Empty(result.Problems);
        Assert.DoesNotContain("## Problems", md);
        string[] expected =
        [
            "final_pass1.png", SmallPass1, MediumPass1, "passk_Qwen2.5-0.5B-Instruct.png", "passk_Qwen2.5-1.5B-Instruct.png",
            "train_reward.png", "train_correct_ratio.png", "train_entropy.png", "train_response_length.png", "train_grad_norm.png",
        ];
        Assert.Equal(expected.Order(), result.Figures.Order());
        foreach (var file in expected)
        {
            var path = Path.Combine(outDir, file);
            Assert.Equal((ReportPlots.Width, ReportPlots.Height), PngSize(path));
            using var bitmap = SKBitmap.Decode(path);
            Assert.NotNull(bitmap);
            Assert.Matches($@"!\[[^\]]+\]\({System.Text.RegularExpressions.Regex.Escape(file)}\)", md);
        }
        Assert.Equal(expected.Length + 1, Directory.GetFiles(outDir).Length); // + report.md, no temporary files
    }

    [Fact]
    public void EachObjectiveIsDrawnInItsOwnColour()
    {
        var (outDir, _, _) = SixRunReport();
        using var small = SKBitmap.Decode(Path.Combine(outDir, SmallPass1));
        var style = new ObjectiveStyle([]);
        foreach (var objective in new[] { "psr", "nsr", "w-reinforce", ObjectiveStyle.Base })
            Assert.True(Pixels(small, style.Hex(objective)) > 30, $"{objective} ({style.Hex(objective)}) not drawn");
        Assert.Equal(0, Pixels(small, style.Hex("grpo")));
    }

    [Fact]
    public void AccuracyTablesHaveHandComputedValuesAndStandardErrors()
    {
        var (_, _, md) = SixRunReport();
        // SE = sqrt(p(1-p)/100): 0.25 -> 0.0433, 0.30 -> 0.0458, 0.35 -> 0.0477, 0.40 -> 0.0490, 0.45 -> 0.0497, 0.50 -> 0.0500
        Assert.Contains(
            "| step | psr | nsr | w-reinforce |\n|---|---|---|---|\n" +
            "| 0 | 0.250 ± 0.043 | 0.250 ± 0.043 | 0.250 ± 0.043 |\n" +
            "| 10 | 0.300 ± 0.046 | 0.350 ± 0.048 | 0.400 ± 0.049 |\n" +
            "| 20 | 0.400 ± 0.049 | 0.450 ± 0.050 | 0.500 ± 0.050 |\n", md);
        // 0.52 -> 0.04996, 0.58 -> 0.04936, 0.64 -> 0.0480, 0.70 -> 0.0458
        Assert.Contains(
            "| 0 | 0.500 ± 0.050 | 0.500 ± 0.050 | 0.500 ± 0.050 |\n" +
            "| 10 | 0.550 ± 0.050 | 0.520 ± 0.050 | 0.580 ± 0.049 |\n" +
            "| 20 | 0.600 ± 0.049 | 0.640 ± 0.048 | 0.700 ± 0.046 |\n", md);
        // The 0.5B section comes before the 1.5B one (models sorted by size).
        Assert.True(md.IndexOf("### Qwen2.5-0.5B-Instruct", StringComparison.Ordinal) < md.IndexOf("### Qwen2.5-1.5B-Instruct", StringComparison.Ordinal));
    }

    [Fact]
    public void SummaryAndPassAtKTablesHaveHandComputedValues()
    {
        var (_, _, md) = SixRunReport();
        Assert.Contains("| Qwen2.5-0.5B-Instruct | psr | 1 | 20 | 0.250 ± 0.043 | 0.400 ± 0.049 | +0.150 | 0.550 (k=4) |\n", md);
        Assert.Contains("| Qwen2.5-0.5B-Instruct | w-reinforce | 1 | 20 | 0.250 ± 0.043 | 0.500 ± 0.050 | +0.250 | 0.650 (k=4) |\n", md);
        Assert.Contains("| Qwen2.5-1.5B-Instruct | nsr | 1 | 20 | 0.500 ± 0.050 | 0.640 ± 0.048 | +0.140 | 0.790 (k=4) |\n", md);
        // pass@k, 0.5B: base (step 0) 0.25/0.50/0.55; trained pass@1 + 0/0.10/0.15.
        Assert.Contains(
            "| k | base (step 0) | psr | nsr | w-reinforce |\n|---|---|---|---|---|\n" +
            "| 1 | 0.250 | 0.400 | 0.450 | 0.500 |\n" +
            "| 2 | 0.500 | 0.500 | 0.550 | 0.600 |\n" +
            "| 4 | 0.550 | 0.550 | 0.600 | 0.650 |\n", md);
    }

    [Fact]
    public void SeedsAreAveragedAndTheirSpreadShown()
    {
        var root = Fixtures.TempDir();
        WriteRun(root, Small, "psr", 1, (0.25, 0.30, 0.40), (0.4, 0.5), (0.5, 0.6));
        WriteRun(root, Small, "psr", 2, (0.25, 0.40, 0.50), (0.4, 0.5), (0.6, 0.7));
        // Seed 3 stopped after the step-10 evaluation.
        var partial = Path.Combine(root, "psr-s3");
        Directory.CreateDirectory(partial);
        WriteConfig(partial, Small, "psr", 3, 20);
        using (var metrics = new MetricsWriter(Path.Combine(partial, MetricsWriter.FileName)))
        {
            WriteEval(partial, metrics, new SyntheticEval(0, 1, 100, (1, 0.25)));
            WriteTrainSteps(metrics, 1, 10, 0.25);
            WriteEval(partial, metrics, new SyntheticEval(10, 1, 100, (1, 0.35)));
        }
        var result = Report.Write(Directory.GetDirectories(root), Path.Combine(root, "out"));
        var md = File.ReadAllText(result.ReportPath);
        // Step 10: (0.30 + 0.40 + 0.35) / 3 = 0.35; step 20: (0.40 + 0.50) / 2 = 0.45, seed 3 has none.
        Assert.Contains("| 10 | 0.350 ± 0.048 |\n| 20 | 0.450 ± 0.050 (2 of 3 seeds) |\n", md);
        // Final: last evaluations 0.40, 0.50, 0.35 -> mean 0.41667, SE sqrt(0.41667*0.58333/100) = 0.0493,
        // sd over seeds sqrt((0.01667^2 + 0.08333^2 + 0.06667^2) / 2) = 0.0764; delta 0.41667 - 0.25.
        Assert.Contains("| Qwen2.5-0.5B-Instruct | psr | 3 | 10–20 | 0.250 ± 0.043 | 0.417 ± 0.049 (sd 0.076 over seeds) | +0.167 | 0.650 (k=4) |", md);
        // pass@4 of the trained model: mean of seeds 1 and 2 (0.6, 0.7); seed 3 has no n > 1 evaluation.
        // pass@k: base = step-0 evaluations with n > 1 (seeds 1 and 2), trained = their step-20 evaluations, averaged.
        Assert.Contains("| k | base (step 0) | psr |\n|---|---|---|\n| 1 | 0.250 | 0.450 |\n| 2 | 0.400 | 0.550 |\n| 4 | 0.500 | 0.650 |\n", md);
    }

    [Fact]
    public void MissingAndPartialRunsAreListedAndTheRestIsReported()
    {
        var root = Fixtures.TempDir();
        var good = WriteRun(root, Small, "psr", 1, (0.25, 0.30, 0.40), (0.4, 0.5), (0.5, 0.6));

        var truncated = WriteRun(root, Small, "nsr", 1, (0.25, 0.35, 0.45), (0.4, 0.5), (0.5, 0.6));
        File.AppendAllText(Path.Combine(truncated, MetricsWriter.FileName), "{\"type\":\"train\",\"step\":21,\"rew");

        var noMetrics = Path.Combine(root, "no-metrics");
        Directory.CreateDirectory(noMetrics);
        WriteConfig(noMetrics, Small, "grpo", 1, 20);

        var noEval = Path.Combine(root, "no-eval");
        Directory.CreateDirectory(noEval);
        WriteConfig(noEval, Small, "reinforce", 1, 20);
        using (var m = new MetricsWriter(Path.Combine(noEval, MetricsWriter.FileName))) WriteTrainSteps(m, 1, 3, 0.2);

        var missingSummary = Path.Combine(root, "missing-summary");
        Directory.CreateDirectory(missingSummary);
        WriteConfig(missingSummary, Small, "w-reinforce", 1, 20);
        using (var m = new MetricsWriter(Path.Combine(missingSummary, MetricsWriter.FileName)))
        {
            WriteEval(missingSummary, m, new SyntheticEval(0, 1, 100, (1, 0.25)));
            WriteTrainSteps(m, 1, 10, 0.25);
            WriteEval(missingSummary, m, new SyntheticEval(10, 1, 100, (1, 0.30)), writeSummary: false);
        }

        var noConfig = Path.Combine(root, "mystery");
        Directory.CreateDirectory(noConfig);
        using (var m = new MetricsWriter(Path.Combine(noConfig, MetricsWriter.FileName)))
            WriteEval(noConfig, m, new SyntheticEval(0, 1, 100, (1, 0.5)));

        var ghost = Path.Combine(root, "ghost");
        var result = Report.Write([good, truncated, noMetrics, noEval, missingSummary, noConfig, ghost], Path.Combine(root, "out"));
        var md = File.ReadAllText(result.ReportPath);
        var problems = md[md.IndexOf("## Problems", StringComparison.Ordinal)..md.IndexOf("## Runs", StringComparison.Ordinal)];

        Assert.Contains($"- {Path.Combine(truncated, "metrics.jsonl")}:", problems);
        Assert.Contains("truncated", problems);
        Assert.Contains($"- {noMetrics}: no metrics.jsonl", problems);
        Assert.Contains($"- {noEval}: no evaluation yet", problems);
        Assert.Contains($"- {missingSummary}: eval summary eval/step_000010.json (step 10) missing", problems);
        Assert.Contains($"- {noConfig}: no config.json", problems);
        Assert.Contains($"- {ghost}: folder not found", problems);
        Assert.Equal(result.Problems.Count, problems.Split('\n').Count(l => l.StartsWith("- ")));

        Assert.Equal(6, result.RunsRead);
        Assert.Contains("| mystery | unknown model | unknown | – | 0 | 1 (steps 0–0) | no |", md);
        // The intact runs are reported; the truncated one keeps every complete line.
        Assert.Contains("| Qwen2.5-0.5B-Instruct | psr | 1 | 20 | 0.250 ± 0.043 | 0.400 ± 0.049 | +0.150 | 0.600 (k=4) |", md);
        Assert.Contains("| Qwen2.5-0.5B-Instruct | nsr | 1 | 20 | 0.250 ± 0.043 | 0.450 ± 0.050 | +0.200 | 0.600 (k=4) |", md);
        // pass@1 of the step without a summary comes from metrics.jsonl.
        Assert.Contains("| Qwen2.5-0.5B-Instruct | w-reinforce | 1 | 10 | 0.250 ± 0.043 | 0.300 ± 0.046 | +0.050 | – |", md);
    }

    [Fact]
    public void AnUnreadableEvalSummaryIsAProblemAndItsPassAt1ComesFromTheMetricsLine()
    {
        var dir = WriteRun(Fixtures.TempDir(), Small, "psr", 1, (0.25, 0.30, 0.40), (0.4, 0.5), (0.5, 0.6));
        var truncated = Path.Combine(dir, "eval", "step_000020.json");
        File.WriteAllText(truncated, File.ReadAllText(truncated)[..30]);
        var noStep = Path.Combine(dir, "eval", "step_000010.json");
        var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(noStep))!.AsObject();
        summary.Remove("step");
        File.WriteAllText(noStep, summary.ToJsonString());

        var problems = new List<string>();
        var run = RunFolder.Load(dir, problems)!;
        Assert.Contains(problems, p => p.StartsWith(truncated) && p.EndsWith("summary ignored"));
        Assert.Contains(problems, p => p.StartsWith(noStep) && p.Contains("'step'") && p.EndsWith("summary ignored"));
        Assert.Contains($"{dir}: eval summary eval/step_000020.json (step 20) missing; pass@1 taken from metrics.jsonl, no pass@k", problems);
        // Step 0 keeps its summary (pass@1, 2, 4); steps 10 and 20 fall back to the metrics lines' pass@1.
        Assert.Equal([(0, 0.25, 3), (10, 0.30, 0), (20, 0.40, 0)], run.Evals.Select(e => (e.Step, e.PassAt1, e.PassAtK.Count)));
    }

    [Fact]
    public void NoSmoothingAndAllFoldersMissingAreHandled()
    {
        var root = WriteSixRuns(Fixtures.TempDir());
        var result = Report.Write([root], Path.Combine(root, "out1"), new ReportOptions(Smooth: 1, SmoothTrain: 1));
        Assert.Contains("pass@1 curves are not smoothed; training curves are not smoothed.", File.ReadAllText(result.ReportPath));
        Assert.Throws<ArgumentOutOfRangeException>(() => Report.Write([root], Path.Combine(root, "out0"), new ReportOptions(Smooth: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Report.Write([root], Path.Combine(root, "out0"), new ReportOptions(SmoothTrain: 0)));

        var none = Report.Write([Path.Combine(root, "nothing-here")], Path.Combine(root, "out2"));
        Assert.Equal(0, none.RunsRead);
        Assert.Empty(none.Figures);
        Assert.Contains("folder not found", File.ReadAllText(none.ReportPath));
    }

    /// <summary>Width and height from the PNG's IHDR chunk, after checking the signature.</summary>
    static (int, int) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{path}: not a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>Pixels within 2 levels per channel of <paramref name="hex"/>.</summary>
    static int Pixels(SKBitmap bitmap, string hex)
    {
        var c = SKColor.Parse(hex);
        return bitmap.Pixels.Count(p => System.Math.Abs(p.Red - c.Red) <= 2 && System.Math.Abs(p.Green - c.Green) <= 2 && System.Math.Abs(p.Blue - c.Blue) <= 2);
    }
}
