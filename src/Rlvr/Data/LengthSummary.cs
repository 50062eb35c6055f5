namespace Rlvr.Data;

/// <summary>Count, mean, nearest-rank median and 90th percentile, and maximum of a list of lengths.</summary>
public sealed record LengthSummary(int Count, double Mean, int Median, int P90, int Max)
{
    public static LengthSummary Of(IEnumerable<int> lengths)
    {
        var sorted = lengths.Order().ToArray();
        if (sorted.Length == 0) return new LengthSummary(0, 0, 0, 0, 0);
        return new LengthSummary(sorted.Length, sorted.Average(), NearestRank(sorted, 0.5), NearestRank(sorted, 0.9), sorted[^1]);
    }

    /// <summary>The smallest value with at least a fraction <paramref name="p"/> of the values at or below it.</summary>
    static int NearestRank(int[] sorted, double p) => sorted[System.Math.Max(0, (int)System.Math.Ceiling(p * sorted.Length) - 1)];
}
