using Rlvr.Data;

namespace Rlvr.Tests.Data;

public class BundledDataTests
{
    [Theory]
    // counts: the files' line/row counts; without gold: the solutions whose only box is empty ("\boxed{}"),
    // found by reading them (train line 594; full train rows 5342 and 5344, index 5341 and 5343).
    [InlineData("bundled:train", DataFormat.Problems, 1872, 1)]
    [InlineData("bundled:test", DataFormat.Problems, 1246, 0)]
    [InlineData("bundled:math-full-train", DataFormat.Verl, 7500, 2)]
    [InlineData("bundled:math-full-test", DataFormat.Verl, 5000, 0)]
    [InlineData("bundled:aime2025", DataFormat.Verl, 30, 0)]
    [InlineData("bundled:amc23", DataFormat.Verl, 40, 0)]
    public void Bundled_sets_load_completely(string name, DataFormat format, int count, int withoutGold)
    {
        var r = MathDataset.Load(name);
        Assert.Equal(format, r.Format);
        Assert.Equal(count, r.ProblemCount);
        Assert.Equal(withoutGold, r.WithoutGold.Count);
        Assert.Empty(r.Invalid);
        Assert.All(r.WithoutGold, p => Assert.Contains(@"\boxed{}", p.Solution));
        Assert.Equal(r.ProblemCount, r.Problems.Concat(r.WithoutGold).Select(p => p.Id).Distinct().Count());
    }

    [Fact]
    public void The_problems_without_gold_are_the_empty_boxes()
    {
        Assert.Equal(["train-594"], MathDataset.Load("bundled:train").WithoutGold.Select(p => p.Id));
        Assert.Equal(["train-5341", "train-5343"], MathDataset.Load("bundled:math-full-train").WithoutGold.Select(p => p.Id));
    }

    [Theory]
    // The design notes (measured on the reference's data): its answer field is empty for 26 train and 13 test
    // problems. One of the 26 (train-594) has an empty box too, so it has no gold and is no disagreement.
    [InlineData("bundled:train", 26, 25)]
    [InlineData("bundled:test", 13, 13)]
    public void The_reference_answer_fields_that_are_empty_show_up_as_disagreements(string name, int empty, int disagreeing)
    {
        var r = MathDataset.Load(name);
        Assert.Equal(empty, r.Problems.Concat(r.WithoutGold).Count(p => p.GivenAnswer == ""));
        Assert.Equal(disagreeing, r.Disagreements.Count(d => d.Given == ""));
    }

    [Fact]
    public void Competition_sets_take_their_answers_as_gold()
    {
        var aime = MathDataset.Load("bundled:aime2025").Problems;
        Assert.Equal("70", aime[0].Gold); // the 2025 AIME I problem 1: bases b > 9 with 17_b | 97_b sum to 21 + 49 = 70.
        Assert.StartsWith("Find the sum of all integer bases", aime[0].Problem);
        Assert.Equal("aime2025-0", aime[0].Id);
    }

    [Theory]
    [InlineData("bundled:math-full-train", "bundled:train")]
    [InlineData("bundled:math-full-test", "bundled:test")]
    public void A_quarter_by_type_of_full_math_has_the_reference_subsets_counts(string full, string reference)
    {
        // The reference's subset counts per type (its own output) are an independent check of floor(n x 0.25).
        var f = MathDataset.Load(full);
        var all = f.Problems.Concat(f.WithoutGold).ToList();
        var r = MathDataset.Load(reference);
        var expected = r.Problems.Concat(r.WithoutGold).CountBy(p => p.Type!).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (kv.Key, kv.Value));

        var subset = StratifiedSubset.ByRatio(all, 0.25, Strata.Type, seed: 42);

        Assert.Equal(expected, subset.Strata.Select(s => (s.Stratum, s.Taken)));
    }

    [Fact]
    public void Bundled_defaults_point_at_the_reference_subset()
    {
        Assert.Equal(MathDataset.ResolvePath("bundled:train"), MathDataset.BundledTrain);
        Assert.Equal(Rlvr.Assets.Path("data", "math", "test.jsonl"), MathDataset.BundledTest);
        Assert.True(File.Exists(MathDataset.BundledTrain));
    }
}
