namespace Rlvr.Reporting;

/// <summary>Small statistics for accuracies and curves; pure functions.</summary>
public static class Accuracy
{
    /// <summary>
    /// Standard error of a pass@1 <paramref name="p"/> measured on <paramref name="problems"/> problems:
    /// sqrt(p(1-p)/problems). The problems are the independent unit: the samples of one problem share
    /// its difficulty, so counting every sample (problems x n) would claim too much precision. With one
    /// sample per problem this is the exact binomial SE; with n samples the per-problem accuracies lie
    /// in [0, 1] with mean p, so their variance is at most p(1-p) and the value is an upper bound.
    /// </summary>
    public static double StandardError(double p, int problems)
    {
        if (problems <= 0) throw new ArgumentOutOfRangeException(nameof(problems), problems, "needs at least one problem");
        var clamped = System.Math.Clamp(p, 0, 1);
        return System.Math.Sqrt(clamped * (1 - clamped) / problems);
    }

    /// <summary>
    /// Trailing moving average over the last <paramref name="window"/> points:
    /// m[i] = mean(y[j] for j in max(0, i-W+1) .. i). The first W-1 points average what exists so far
    /// (so m[0] = y[0]); W = 1 returns the values unchanged. Points, not steps: an evaluation every
    /// 10 steps with W = 2 averages the last two evaluations.
    /// </summary>
    public static double[] TrailingMean(IReadOnlyList<double> ys, int window)
    {
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be at least 1");
        // Summed afresh for each point (not a running sum), so one NaN spoils only its own window.
        var result = new double[ys.Count];
        for (var i = 0; i < ys.Count; i++)
        {
            var first = System.Math.Max(0, i - window + 1);
            var sum = 0.0;
            for (var j = first; j <= i; j++) sum += ys[j];
            result[i] = sum / (i - first + 1);
        }
        return result;
    }

    /// <summary>Sample standard deviation (n-1 denominator); null with fewer than two values.</summary>
    public static double? StandardDeviation(IReadOnlyList<double> xs)
    {
        if (xs.Count < 2) return null;
        var mean = xs.Average();
        return System.Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }
}
