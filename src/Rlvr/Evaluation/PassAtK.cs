namespace Rlvr.Evaluation;

/// <summary>The unbiased pass@k estimator of Chen et al. (2021, the Codex paper) and a binomial standard error.</summary>
public static class PassAtK
{
    /// <summary>
    /// Probability that at least one of k samples drawn without replacement from n samples, c of them
    /// correct, is correct: 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i), which
    /// never forms the huge binomials (n = 256, k = 128 would overflow a double's range of exact integers).
    /// </summary>
    public static double Estimate(int n, int c, int k)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "pass@k needs at least one sample");
        if (c < 0 || c > n) throw new ArgumentOutOfRangeException(nameof(c), c, $"correct samples must be in [0, n = {n}]");
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [1, n = {n}]");
        // fewer than k incorrect samples: every draw of k holds a correct one
        if (n - c < k) return 1.0;
        double allIncorrect = 1.0;
        for (int i = n - c + 1; i <= n; i++) allIncorrect *= 1.0 - (double)k / i;
        return 1.0 - allIncorrect;
    }

    /// <summary>Standard error of a proportion p measured on <paramref name="count"/> independent trials: sqrt(p (1 - p) / count).</summary>
    public static double BinomialStandardError(double p, int count)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "a proportion is in [0, 1]");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "needs at least one trial");
        return System.Math.Sqrt(p * (1 - p) / count);
    }
}
