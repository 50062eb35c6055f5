using Rlvr.Training;

namespace Rlvr.Tests.Training;

public class LearningRateScheduleTests
{
    // warmup 10, total 110, peak 1, floor 0.1: linear to 1 at step 10, cosine half-way (step 60) at 0.1 + 0.9 * 0.5.
    [Theory]
    [InlineData(1, 0.1)]
    [InlineData(5, 0.5)]
    [InlineData(10, 1.0)]
    [InlineData(60, 0.55)]
    [InlineData(110, 0.1)]
    [InlineData(200, 0.1)]
    public void Warmup_then_cosine_to_the_floor(int step, double expected) =>
        Assert.Equal(expected, LearningRateSchedule.WarmupCosine(step, total: 110, warmup: 10, peak: 1.0, minRatio: 0.1), 12);

    [Fact]
    public void Quarter_of_the_decay_is_at_the_cosine_of_45_degrees()
    {
        // No warmup, 100 steps, floor 0: step 25 -> 0.5 (1 + cos(pi/4)).
        Assert.Equal(0.5 * (1 + System.Math.Sqrt(0.5)), LearningRateSchedule.WarmupCosine(25, 100, 0, 1.0, 0.0), 12);
    }
}
