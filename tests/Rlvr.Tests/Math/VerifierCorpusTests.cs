using Rlvr.Math;

namespace Rlvr.Tests.Math;

/// <summary>The verifier on MATH's 12,500 solutions (data/math-full): the numbers docs/verifier.md reports.</summary>
public class VerifierCorpusTests
{
    static readonly Lazy<(List<CorpusItem> Items, CorpusReport Report)> Corpus = new(() =>
    {
        var items = VerifierCorpus.LoadMath();
        return (items, VerifierCorpus.Check(items));
    });

    [Fact]
    public void Every_gold_answer_of_math_is_extractable_and_equal_to_itself()
    {
        var r = Corpus.Value.Report;
        Assert.Equal(12_500, r.Solutions);
        // Two MATH solutions box nothing (\boxed{}): a defect of the data set.
        Assert.Equal(2, r.EmptyBoxes);
        Assert.Equal(12_498, r.Extracted);
        Assert.True(r.SelfEqual == r.Extracted, string.Join("\n", r.Failures));
        // The independent target: the parquet's own normalised answer (docs/verifier.md: 12,297 of 12,498 match;
        // the other targets were mangled by the paper's normaliser).
        Assert.True(r.TargetEqual >= 12_297, $"only {r.TargetEqual} solutions grade equal to the dataset's target");
    }

    [Fact]
    public void Re_typeset_answers_grade_equal()
    {
        var r = Corpus.Value.Report;
        Assert.True(r.Variants > 25_000, $"only {r.Variants} variants");
        Assert.True(r.VariantsEqual == r.Variants, string.Join("\n", r.Failures.Where(f => f.Contains("variant"))));
    }

    [Fact]
    public void Answers_of_different_problems_almost_never_match()
    {
        var r = Corpus.Value.Report;
        Assert.True(r.ShuffledPairs > 12_000);
        // The few matches are equal values written differently (40\text{ min} and 40, \frac12 and \frac{1}{2}).
        Assert.True(r.ShuffledMatches <= r.ShuffledPairs / 1000, string.Join("\n", r.ShuffledMatchExamples));
    }

    [Fact]
    public void Near_misses_are_wrong()
    {
        var r = Corpus.Value.Report;
        Assert.True(r.NearMisses > 12_000);
        // The few that pass change only a unit's exponent (2400\mbox{ cm}^2 against 2400\mbox{ cm}^3): units are dropped.
        Assert.True(r.NearMissMatches <= r.NearMisses / 1000, string.Join("\n", r.NearMissExamples));
    }

    [Theory]
    [InlineData(@"\frac{1}{2}", @"\frac12")]
    [InlineData(@"\frac{3}{8}", "0.375")]
    [InlineData("1, 2, 3", "3, 2, 1")]
    [InlineData(@"\sqrt{2}", @"\sqrt2")]
    [InlineData(@"f(x)=1", @"f(x) = 1")]
    public void Variants_include_the_expected_re_typesettings(string answer, string variant) =>
        Assert.Contains(Retypeset.Variants(answer), v => v.Text == variant);
}
