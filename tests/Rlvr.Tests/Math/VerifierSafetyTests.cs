using Rlvr.Math;

namespace Rlvr.Tests.Math;

/// <summary>
/// Hostile inputs: every call returns (no exception, no hang, no stack overflow). The timeouts only catch
/// a hang or an exponential blow-up; they are minutes above what these calls take.
/// </summary>
public class VerifierSafetyTests
{
    public static TheoryData<string, string> Hostile
    {
        get
        {
            var deep = new string('(', 5000) + "1" + new string(')', 5000);
            var manyBoxes = string.Concat(Enumerable.Repeat(@"\boxed{1} ", 20000)) + @"\boxed{2";
            var manyDollars = "text " + string.Concat(Enumerable.Repeat(@"\( $ ", 50000));
            var longSum = string.Join("+", Enumerable.Repeat("x", 1500));
            var manyVars = string.Join("+", Enumerable.Range(0, 60).Select(i => $"x_{{{i}}}"));
            var bigList = string.Join(", ", Enumerable.Range(0, 500).Select(i => $"\\sqrt{{{i}}}x"));
            return new()
            {
                { @"10^{10^{10}}", @"10^{10^{10}}+1" },
                { @"2^{2^{2^{2^{2^{2}}}}}", "1" },
                { "9999999!", "1" },
                { @"\binom{10^{3000}}{1000}", "1" },
                { @"(10^{3000})^{3000}", "1" },
                { "1" + new string('0', 5000), "1" + new string('0', 4999) + "1" },
                { @"\sqrt[99999999]{2}", "1" },
                { deep, "1" },
                { "1", manyBoxes },
                { "1", manyDollars },
                { longSum, "1500x" },
                { manyVars, manyVars + "+0" },
                { bigList, bigList },
                { new string('-', 3000) + "1", "1" },
                { string.Concat(Enumerable.Repeat(@"\frac{1}{", 300)) + "2" + new string('}', 300), "2" },
                { string.Concat(Enumerable.Repeat(@"1 \pm ", 40)) + "1", "1" },
                { @"\begin{pmatrix}" + string.Join(@"\\", Enumerable.Repeat(string.Join("&", Enumerable.Repeat("x", 30)), 30)) + @"\end{pmatrix}", "1" },
                { "\0\uffff\ud800", "\\" },
                { "", "" },
            };
        }
    }

    [Theory(Timeout = 120_000), MemberData(nameof(Hostile))]
    public async Task Hostile_inputs_return_a_verdict(string gold, string prediction)
    {
        var r = await Task.Run(() => MathVerifier.Grade(gold, prediction));
        Assert.NotNull(r.Reason);
        Assert.DoesNotContain("internal error", r.Reason);
    }

    [Fact]
    public void A_huge_tower_is_not_equal_to_its_successor_by_overflow()
    {
        // Both sides overflow a double; the verdict must not come from inf == inf.
        Assert.False(MathVerifier.Grade(@"10^{10^{10}}", @"10^{10^{10}}+1").Correct);
        Assert.True(MathVerifier.Grade(@"10^{10^{10}}", @"10^{10^{10}}").Correct);
    }

    /// <summary>Values that overflow or underflow a double at the sampled points must not grade equal by inf == inf or 0 == 0.</summary>
    [Theory]
    [InlineData("0", "x^{1000000}", false)]
    [InlineData("e^{1000x}", "e^{1001x}", false)]
    [InlineData("e^{-1000x}", "0", false)]
    [InlineData(@"\frac{1}{x^{500}}", "0", false)]
    [InlineData("x^{1000000} + 1", "1", false)]
    [InlineData("x^{400}", "2x^{400}", false)]
    [InlineData("e^{1000}", "e^{1001}", false)]
    [InlineData("10^{-400}", "0", false)]
    [InlineData(@"\frac{x}{10^{10}}", "0", false)]
    [InlineData("x^{1000000}", "x^{1000000}", true)]
    [InlineData("e^{1000x}", "(e^{x})^{1000}", true)]
    [InlineData(@"\sin^2 x + \cos^2 x - 1", "0", true)]
    [InlineData("x^{400} \\cdot x^{400}", "x^{800}", true)]
    public void Overflow_and_underflow_are_not_equality(string gold, string prediction, bool correct) =>
        Assert.Equal(correct, MathVerifier.Grade(gold, prediction).Correct);

    [Fact]
    public void Grading_on_many_threads_gives_the_same_verdicts()
    {
        var pairs = EquivalenceTests.Numbers.Concat(EquivalenceTests.Expressions).Concat(EquivalenceTests.IntervalsAndSets)
            .Select(row => ((string)row[0], (string)row[1])).ToList();
        var sequential = pairs.Select(p => MathVerifier.Grade(p.Item1, p.Item2).Correct).ToList();
        for (int round = 0; round < 4; round++)
        {
            var parallel = pairs.AsParallel().AsOrdered().WithDegreeOfParallelism(8).Select(p => MathVerifier.Grade(p.Item1, p.Item2).Correct).ToList();
            Assert.Equal(sequential, parallel);
        }
    }

    [Fact]
    public void Every_verdict_says_why()
    {
        var r = MathVerifier.Grade(@"\frac{1}{2}", @"\boxed{0.5}");
        Assert.True(r.Correct);
        Assert.Contains("exact", r.Reason);
        Assert.Contains("boxed", r.Reason);
        Assert.Equal("(1)/(2)", r.GoldParsed);
        Assert.Equal("0.5", r.PredictionParsed);
    }
}
