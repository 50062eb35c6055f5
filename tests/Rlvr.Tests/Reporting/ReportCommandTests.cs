using static Rlvr.Tests.Reporting.RunFixture;

namespace Rlvr.Tests.Reporting;

public class ReportCommandTests
{
    [Fact]
    public void ReportsGoodRunsAndWarnsAboutBrokenOnes()
    {
        var root = Fixtures.TempDir();
        var good = WriteRun(root, Small, "psr", 1, (0.25, 0.30, 0.40), (0.4, 0.5), (0.5, 0.6));
        var empty = Directory.CreateDirectory(Path.Combine(root, "empty")).FullName;
        var outDir = Path.Combine(root, "out");
        var r = CliRunner.Run("report", good, empty, Path.Combine(root, "ghost"), "--out", outDir, "--smooth", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"wrote {Path.Combine(outDir, "report.md")} and 8 figure(s) from 2 run(s)", r.Stdout); // final, pass@1, pass@k, 5 training curves
        Assert.Contains($"warning: {empty}: no config.json", r.Stderr);
        Assert.Contains($"warning: {empty}: no metrics.jsonl", r.Stderr);
        Assert.Contains($"warning: {Path.Combine(root, "ghost")}: folder not found", r.Stderr);
        var md = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("| Qwen2.5-0.5B-Instruct | psr | 1 | 20 | 0.250 ± 0.043 | 0.400 ± 0.049 | +0.150 | 0.600 (k=4) |", md);
    }

    [Fact]
    public void BadWindowsAndNoReadableRunAreErrors()
    {
        var root = Fixtures.TempDir();
        var r = CliRunner.Run("report", root, "--out", Path.Combine(root, "out"), "--smooth", "0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--smooth: 0 is out of range (allowed: >= 1)", r.Stderr);

        r = CliRunner.Run("report", root, "--out", Path.Combine(root, "out"), "--smooth-train", "-3");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--smooth-train: -3 is out of range", r.Stderr);

        r = CliRunner.Run("report", Path.Combine(root, "missing"), "--out", Path.Combine(root, "out"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no run folder could be read", r.Stderr);
        Assert.False(File.Exists(Path.Combine(root, "out", "report.md")));   // nothing is written without a run to report
    }

    [Fact]
    public void HelpListsEveryOption()
    {
        var r = CliRunner.Run("report", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var option in new[] { "RUN_DIR", "--out", "--smooth", "--smooth-train" }) Assert.Contains(option, r.Stdout);
    }
}
