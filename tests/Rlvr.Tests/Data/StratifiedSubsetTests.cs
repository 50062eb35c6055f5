using Rlvr.Data;

namespace Rlvr.Tests.Data;

public class StratifiedSubsetTests
{
    /// <summary>Problems named type-index, e.g. A3, in the order given.</summary>
    static List<MathProblem> Problems(params (string Type, int Count)[] strata) =>
        [.. strata.SelectMany(s => Enumerable.Range(0, s.Count).Select(i =>
            new MathProblem($"{s.Type}{i}", "p", null, "1", s.Type, $"Level {i % 5 + 1}", "test")))];

    static Dictionary<string, int> Taken(Subset s) => s.Strata.ToDictionary(c => c.Stratum, c => c.Taken);

    [Fact]
    public void Ratio_takes_floor_of_n_times_ratio_and_at_least_one_per_stratum()
    {
        // A: floor(10 x 0.25) = 2; B: floor(0.75) = 0 -> 1; C: floor(0.25) = 0 -> 1.
        var s = StratifiedSubset.ByRatio(Problems(("A", 10), ("B", 3), ("C", 1)), 0.25, Strata.Type, seed: 1);

        Assert.Equal(new Dictionary<string, int> { ["A"] = 2, ["B"] = 1, ["C"] = 1 }, Taken(s));
        Assert.Equal([10, 3, 1], s.Strata.Select(c => c.Available));
        Assert.Equal(4, s.Problems.Count);
        Assert.Equal(2, s.Problems.Count(p => p.Type == "A"));
    }

    [Fact]
    public void Ratio_counts_follow_pythons_int_of_the_double_product()
    {
        // 100 x 0.29 is 28.999999999999996 in binary floating point; Python's int() gives 28, and so must we.
        var s = StratifiedSubset.ByRatio(Problems(("A", 100)), 0.29, Strata.Type, seed: 0);
        Assert.Equal(28, s.Problems.Count);
    }

    [Fact]
    public void Stratifying_by_type_and_level_uses_both_keys()
    {
        // 10 problems of type A have levels 1..5 twice each: 5 strata of 2; floor(2 x 0.5) = 1 each.
        var s = StratifiedSubset.ByRatio(Problems(("A", 10)), 0.5, Strata.TypeAndLevel, seed: 3);
        Assert.Equal(["A / Level 1", "A / Level 2", "A / Level 3", "A / Level 4", "A / Level 5"], s.Strata.Select(c => c.Stratum));
        Assert.All(s.Strata, c => Assert.Equal(1, c.Taken));
        Assert.Equal(5, s.Problems.Select(p => p.Level).Distinct().Count());
    }

    [Fact]
    public void The_same_seed_gives_the_same_subset_and_another_seed_another()
    {
        var all = Problems(("A", 200), ("B", 100));
        var ids = (int seed) => StratifiedSubset.ByRatio(all, 0.25, Strata.Type, seed).Problems.Select(p => p.Id).ToList();

        Assert.Equal(ids(42), ids(42));
        Assert.NotEqual(ids(42), ids(43));
    }

    [Fact]
    public void A_strata_choice_does_not_depend_on_the_other_strata()
    {
        var alone = StratifiedSubset.ByRatio(Problems(("A", 50)), 0.2, Strata.Type, seed: 9).Problems.Select(p => p.Id);
        var withOthers = StratifiedSubset.ByRatio(Problems(("A", 50), ("B", 30)), 0.2, Strata.Type, seed: 9)
            .Problems.Where(p => p.Type == "A").Select(p => p.Id);
        Assert.Equal(alone, withOthers);
    }

    [Fact]
    public void The_subset_keeps_the_original_order()
    {
        var all = Problems(("A", 40), ("B", 40));
        var position = all.Select((p, i) => (p.Id, i)).ToDictionary(x => x.Id, x => x.i);
        var s = StratifiedSubset.ByRatio(all, 0.5, Strata.Type, seed: 5);
        Assert.Equal(s.Problems.Select(p => position[p.Id]).Order(), s.Problems.Select(p => position[p.Id]));
    }

    [Theory]
    // quotas 2.5, 1.5, 1.0 -> floors 2, 1, 1; the one seat left goes to the larger of the tied remainders.
    [InlineData(new[] { 5, 3, 2 }, 5, new[] { 3, 1, 1 })]
    // quotas 9.90, 0.099 -> floors 9, 0; the seat left goes to the first (remainder .90).
    [InlineData(new[] { 100, 1 }, 10, new[] { 10, 0 })]
    // the MATH test subset by type to 500: floors 118 47 47 90 54 87 54 (497); remainders .78 .35 .75 .29 .17 .08 .57.
    [InlineData(new[] { 296, 118, 119, 225, 135, 217, 136 }, 500, new[] { 119, 47, 48, 90, 54, 87, 55 })]
    [InlineData(new[] { 4, 4 }, 8, new[] { 4, 4 })]
    public void Apportion_is_largest_remainder(int[] sizes, int total, int[] expected) =>
        Assert.Equal(expected, StratifiedSubset.Apportion(sizes, total));

    [Fact]
    public void Exact_size_subsets_total_exactly_n()
    {
        var all = Problems(("A", 5), ("B", 3), ("C", 2));
        var s = StratifiedSubset.OfSize(all, 5, Strata.Type, seed: 2);
        Assert.Equal(5, s.Problems.Count);
        Assert.Equal(new Dictionary<string, int> { ["A"] = 3, ["B"] = 1, ["C"] = 1 }, Taken(s));
        Assert.Equal(s.Problems, StratifiedSubset.OfSize(all, 5, Strata.Type, seed: 2).Problems);
        Assert.Throws<ArgumentOutOfRangeException>(() => StratifiedSubset.OfSize(all, 11, Strata.Type, 2));
    }

    [Theory]
    [InlineData("type", Strata.Type)]
    [InlineData("level", Strata.Level)]
    [InlineData("type,level", Strata.TypeAndLevel)]
    [InlineData("level, type", Strata.TypeAndLevel)]
    public void Strata_names_parse(string text, Strata expected) => Assert.Equal(expected, StratifiedSubset.ParseStrata(text));

    [Fact]
    public void Unknown_strata_are_rejected() => Assert.Throws<FormatException>(() => StratifiedSubset.ParseStrata("difficulty"));

    [Fact]
    public void Length_summary_uses_nearest_rank_percentiles()
    {
        // sorted 1 2 3 4: mean 2.5; median = value at rank ceil(0.5 x 4) = 2; p90 = rank ceil(3.6) = 4.
        Assert.Equal(new LengthSummary(4, 2.5, 2, 4, 4), LengthSummary.Of([4, 1, 3, 2]));
        Assert.Equal(new LengthSummary(0, 0, 0, 0, 0), LengthSummary.Of([]));
    }
}
