using System.Text.RegularExpressions;
using Rlvr.Data;
using Rlvr.Math;

namespace Rlvr.Tests.Data;

public class SyntheticMathTests
{
    static readonly (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> Test) Data =
        SyntheticMath.Generate(new SyntheticOptions(TrainSize: 3000, TestSize: 600, Seed: 7));

    [Theory]
    [InlineData(6, 8, "\\frac{3}{4}")]
    [InlineData(6, -8, "-\\frac{3}{4}")]
    [InlineData(-6, -8, "\\frac{3}{4}")]
    [InlineData(4, 2, "2")]
    [InlineData(-9, 3, "-3")]
    [InlineData(0, 5, "0")]
    public void Fraction_is_in_lowest_terms_with_the_sign_in_front(long p, long q, string expected) =>
        Assert.Equal(expected, SyntheticMath.Fraction(p, q));

    [Fact]
    public void Same_seed_gives_the_same_problems_and_another_seed_others()
    {
        var again = SyntheticMath.Generate(new SyntheticOptions(3000, 600, 7));
        Assert.Equal(Data.Train.Select(p => (p.Problem, p.Solution)), again.Train.Select(p => (p.Problem, p.Solution)));
        Assert.Equal(Data.Test.Select(p => (p.Problem, p.Solution)), again.Test.Select(p => (p.Problem, p.Solution)));
        var other = SyntheticMath.Generate(new SyntheticOptions(3000, 600, 8));
        Assert.NotEqual(Data.Test.Select(p => p.Problem), other.Test.Select(p => p.Problem));
    }

    [Fact]
    public void No_problem_text_is_in_both_splits_or_twice_in_one()
    {
        Assert.Equal(3000, Data.Train.Count);
        Assert.Equal(600, Data.Test.Count);
        Assert.Empty(Data.Train.Select(p => p.Problem).Intersect(Data.Test.Select(p => p.Problem)));
        Assert.Equal(3000, Data.Train.Select(p => p.Problem).Distinct().Count());
        Assert.Equal(600, Data.Test.Select(p => p.Problem).Distinct().Count());
    }

    [Fact]
    public void Every_family_has_every_level_and_answers_are_integers_negatives_and_fractions()
    {
        foreach (var family in SyntheticMath.Families)
            for (int level = 1; level <= 5; level++)
                Assert.Contains(Data.Test, p => p.Type == family && p.Level == $"Level {level}");
        Assert.Contains(Data.Test, p => p.Gold!.StartsWith('-') && !p.Gold.Contains("frac"));
        Assert.Contains(Data.Test, p => p.Gold!.StartsWith("\\frac"));
        Assert.Contains(Data.Test, p => p.Gold!.StartsWith("-\\frac"));
    }

    /// <summary>The gold of each problem against an independent computation: the verifier evaluates the problem's own
    /// expression (sums, differences, products, fractions), remainders and equation solutions are checked by arithmetic.</summary>
    [Fact]
    public void Every_gold_answer_is_right()
    {
        foreach (var p in Data.Test.Concat(Data.Train.Take(1500)))
        {
            Assert.Equal(BoxedAnswer.Last(p.Solution!), p.Gold);
            var expression = Regex.Match(p.Problem, @"\$([^$]*)\$").Groups[1].Value;
            switch (p.Type)
            {
                case "Remainders":
                {
                    var m = Regex.Matches(p.Problem, @"\$(\d+)\$");
                    long n = long.Parse(m[0].Groups[1].Value), d = long.Parse(m[1].Groups[1].Value);
                    Assert.Equal((n % d).ToString(), p.Gold);
                    break;
                }
                case "Linear Equations":
                {
                    var eq = Regex.Match(p.Problem, @"\$(-?\d*)x(?: ([+-]) (\d+))? = (-?\d+)\$");
                    Assert.True(eq.Success, p.Problem);
                    var a = eq.Groups[1].Value switch { "" => 1L, "-" => -1L, var s => long.Parse(s) };
                    long b = eq.Groups[2].Success ? long.Parse(eq.Groups[3].Value) * (eq.Groups[2].Value == "-" ? -1 : 1) : 0;
                    long c = long.Parse(eq.Groups[4].Value);
                    // x = p/q solves a x + b = c exactly when a p + b q = c q.
                    var frac = Regex.Match(p.Gold!, @"^(-?)(?:\\frac\{(\d+)\}\{(\d+)\}|(\d+))$");
                    Assert.True(frac.Success, p.Gold);
                    long num = long.Parse(frac.Groups[4].Success ? frac.Groups[4].Value : frac.Groups[2].Value) * (frac.Groups[1].Value == "-" ? -1 : 1);
                    long den = frac.Groups[4].Success ? 1 : long.Parse(frac.Groups[3].Value);
                    Assert.True(a * num + b * den == c * den, $"{p.Problem} -> {p.Gold}");
                    break;
                }
                default:
                    Assert.True(MathVerifier.Grade(p.Gold!, $"${expression}$").Correct, $"{p.Id}: {expression} = {p.Gold}?");
                    Assert.False(MathVerifier.Grade(p.Gold!, $"${expression} + 1$").Correct, $"{p.Id}: {expression} + 1 = {p.Gold}?");
                    break;
            }
        }
    }

    [Fact]
    public void Synth_command_writes_files_the_readers_load()
    {
        var dir = Fixtures.TempDir();
        var r = CliRunner.Run("data", "synth", "--out", dir, "--train", "40", "--test", "10", "--seed", "3", "--families", "addition,Fractions");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var train = MathDataset.Load(Path.Combine(dir, "train.jsonl")).Problems;
        var test = MathDataset.Load(Path.Combine(dir, "test.jsonl")).Problems;
        Assert.Equal(40, train.Count);
        Assert.Equal(10, test.Count);
        Assert.All(train.Concat(test), p => Assert.Contains(p.Type, new[] { "Addition", "Fractions" }));
        var expected = SyntheticMath.Generate(new SyntheticOptions(40, 10, 3, ["addition", "Fractions"]));
        Assert.Equal(expected.Test.Select(p => p.Problem), test.Select(p => p.Problem));

        var bad = CliRunner.Run("data", "synth", "--out", dir, "--families", "Geometry");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unknown problem family 'Geometry'", bad.Stderr);
    }
}
