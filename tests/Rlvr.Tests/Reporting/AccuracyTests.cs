using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class AccuracyTests
{
    [Fact]
    public void TrailingMeanAveragesTheLastWPointsAndWhatExistsAtTheStart()
    {
        double[] ys = [0.2, 0.4, 0.9, 0.1, 0.5];
        // W=2: 0.2, (0.2+0.4)/2, (0.4+0.9)/2, (0.9+0.1)/2, (0.1+0.5)/2
        AssertClose([0.2, 0.3, 0.65, 0.5, 0.3], Accuracy.TrailingMean(ys, 2));
        // W=3: 0.2, 0.3, 1.5/3, 1.4/3, 1.5/3
        AssertClose([0.2, 0.3, 0.5, 1.4 / 3, 0.5], Accuracy.TrailingMean(ys, 3));
        AssertClose(ys, Accuracy.TrailingMean(ys, 1));
        // A window longer than the series is the running mean.
        AssertClose([0.2, 0.3, 0.5, 0.4, 0.42], Accuracy.TrailingMean(ys, 10));
        Assert.Empty(Accuracy.TrailingMean([], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Accuracy.TrailingMean(ys, 0));
    }

    [Fact]
    public void ANaNSpoilsOnlyTheWindowsThatContainIt()
    {
        var m = Accuracy.TrailingMean([1, double.NaN, 3, 5], 2);
        Assert.Equal(1, m[0]);
        Assert.True(double.IsNaN(m[1]) && double.IsNaN(m[2]));
        Assert.Equal(4, m[3]);
    }

    [Fact]
    public void StandardErrorIsBinomialOverProblems()
    {
        Assert.Equal(0.05, Accuracy.StandardError(0.5, 100), 12);           // sqrt(0.25/100)
        Assert.Equal(0.0433012701892, Accuracy.StandardError(0.25, 100), 12); // sqrt(0.1875/100)
        Assert.Equal(0, Accuracy.StandardError(1, 1246));
        Assert.Throws<ArgumentOutOfRangeException>(() => Accuracy.StandardError(0.5, 0));
    }

    [Fact]
    public void StandardDeviationUsesTheSampleDenominator()
    {
        Assert.Equal(0.0707106781187, Accuracy.StandardDeviation([0.30, 0.40])!.Value, 12); // sqrt(2 * 0.05^2 / 1)
        Assert.Null(Accuracy.StandardDeviation([0.3]));
    }

    static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 12);
    }
}
