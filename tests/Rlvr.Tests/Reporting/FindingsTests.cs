using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class FindingsTests
{
    [Fact]
    public void Estimate_is_the_mean_with_the_standard_error_over_values()
    {
        var e = Estimate.Of([1, 0, 1, 0]);
        Assert.Equal(0.5, e.Mean, 12);
        // sample variance 1/3, SE = sqrt(1/3 / 4)
        Assert.Equal(System.Math.Sqrt(1.0 / 12), e.StandardError, 12);
        var seeds = Estimate.MeanOf([new Estimate(0.2, 0.03), new Estimate(0.4, 0.04)]);
        Assert.Equal(0.3, seeds.Mean, 12);
        Assert.Equal(0.025, seeds.StandardError, 12);   // sqrt(0.03^2 + 0.04^2) / 2
    }

    [Theory]
    [InlineData(0.1, 0.02, "raised pass@1 by 0.100 ± 0.020 (5.0 SE)")]
    [InlineData(-0.1, 0.04, "lowered pass@1 by 0.100 ± 0.040 (2.5 SE)")]
    [InlineData(0.03, 0.02, "left pass@1 unchanged within 2 SE (Δ +0.030 ± 0.020)")]
    [InlineData(0.0399, 0.02, "left pass@1 unchanged within 2 SE (Δ +0.040 ± 0.020)")]
    [InlineData(-0.0599, 0.02, "lowered pass@1 by 0.060 ± 0.020 (2.9 SE)")]
    public void Statements_follow_the_standard_errors(double mean, double se, string expected) =>
        Assert.Equal(expected, Findings.Verb(new Estimate(mean, se), "pass@1"));

    [Fact]
    public void The_table_cuts_z_to_tenths_so_that_it_agrees_with_the_statements()
    {
        var d = new Estimate(0.0199, 0.01);   // z 1.99: no rise, and the table must not print 2.0
        var e = new Estimate(0.5, 0.01);
        var f = new Finding("m", "nsr", 1, 500, 64, e, e, d, e, e, new Estimate(-0.0004, 0.01), null);
        var md = Findings.Markdown([f]);
        Assert.Contains("+0.020 ± 0.010 (+1.9 SE)", md);
        Assert.Contains("| 0.000 ± 0.010 (0.0 SE) |", md);   // -0.0004 rounds to an unsigned zero, z -0.04 to 0.0
        Assert.Contains("left pass@1 unchanged within 2 SE", md);
    }

    static void WriteSamples(string runDir, int step, params (string Id, int Correct, int N)[] problems)
    {
        Directory.CreateDirectory(Path.Combine(runDir, "eval"));
        var lines = problems.SelectMany(p => Enumerable.Range(0, p.N).Select(i =>
            $"{{\"problem_id\":\"{p.Id}\",\"sample\":{i},\"correct\":{(i < p.Correct ? "true" : "false")}}}"));
        File.WriteAllLines(Path.Combine(runDir, "eval", $"step_{step:D6}.samples.jsonl"), lines);
    }

    [Fact]
    public void Differences_are_paired_problem_by_problem()
    {
        var dir = Fixtures.TempDir();
        WriteSamples(dir, 0, ("a", 0, 4), ("b", 2, 4), ("c", 4, 4));
        WriteSamples(dir, 10, ("a", 2, 4), ("b", 4, 4), ("c", 4, 4));
        var evals = new[] { new EvalPoint(0, 0.5, 3, 4, new Dictionary<int, double>()), new EvalPoint(10, 10 / 12.0, 3, 4, new Dictionary<int, double>()) };
        var run = new Run(dir, "r", "m", "psr", 1, 10, true, [], evals);
        var problems = new List<string>();

        var f = Assert.Single(Findings.Compute(new Comparison([run]), problems));

        Assert.Empty(problems);
        Assert.Equal(4, f.K);
        Assert.Equal(0.5, f.BasePassAt1.Mean, 12);
        Assert.Equal(10 / 12.0, f.FinalPassAt1.Mean, 12);
        // per-problem Δ pass@1: 0.5, 0.5, 0 -> mean 1/3, sd sqrt(1/12), SE sqrt(1/12)/sqrt(3) = 1/6
        Assert.Equal(1 / 3.0, f.DeltaPassAt1.Mean, 12);
        Assert.Equal(1 / 6.0, f.DeltaPassAt1.StandardError, 12);
        // pass@4 per problem: base 0, 1, 1; final 1, 1, 1 -> Δ 1, 0, 0: mean 1/3, SE sqrt(1/3)/sqrt(3) = 1/3
        Assert.Equal(2 / 3.0, f.BasePassAtK.Mean, 12);
        Assert.Equal(1 / 3.0, f.DeltaPassAtK.Mean, 12);
        Assert.Equal(1 / 3.0, f.DeltaPassAtK.StandardError, 12);
        Assert.Contains("| m | psr | 1 | 3 |", Findings.Markdown([f]));
    }
}
