using Rlvr.Evaluation;

namespace Rlvr.Tests.Evaluation;

public class PassAtKTests
{
    [Theory]
    [InlineData(5, 2, 2, 0.7)]                    // 1 - C(3,2)/C(5,2) = 1 - 3/10
    [InlineData(4, 1, 1, 0.25)]                   // pass@1 = c/n
    [InlineData(10, 3, 5, 11.0 / 12)]             // 1 - C(7,5)/C(10,5) = 1 - 21/252
    [InlineData(256, 1, 128, 0.5)]                // 1 - C(255,128)/C(256,128) = 1 - 128/256
    [InlineData(256, 2, 128, 1 - 128.0 * 127 / (256 * 255))]  // 1 - C(254,128)/C(256,128)
    [InlineData(5, 0, 3, 0.0)]                    // no correct sample
    [InlineData(5, 3, 3, 1.0)]                    // only 2 incorrect: any 3 hold a correct one
    [InlineData(5, 5, 5, 1.0)]
    [InlineData(5, 1, 5, 1.0)]                    // k = n: pass iff any is correct
    public void Matches_hand_computed_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Estimate(n, c, k), 12);

    [Theory]
    [InlineData(4, 2, 5)]    // k > n
    [InlineData(4, 2, 0)]
    [InlineData(4, 5, 1)]    // c > n
    [InlineData(4, -1, 1)]
    [InlineData(0, 0, 1)]
    public void Rejects_impossible_counts(int n, int c, int k) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(n, c, k));

    [Theory]
    [InlineData(0.5, 100, 0.05)]
    [InlineData(0.2, 400, 0.02)]
    [InlineData(0.0, 10, 0.0)]
    public void Binomial_standard_error_is_sqrt_p_q_over_n(double p, int count, double expected) =>
        Assert.Equal(expected, PassAtK.BinomialStandardError(p, count), 12);
}
