using Rlvr.Training;

namespace Rlvr.Tests.Training;

public class PromptScheduleTests
{
    [Fact]
    public void Each_epoch_visits_every_problem_once()
    {
        // 10 problems, 4 per step: steps 0,1 and half of 2 are epoch 0; the rest of step 2 starts epoch 1.
        var epoch0 = Enumerable.Range(0, 2).SelectMany(s => PromptSchedule.ForStep(10, 4, 42, s))
            .Concat(PromptSchedule.ForStep(10, 4, 42, 2).Take(2)).ToArray();
        Assert.Equal(Enumerable.Range(0, 10), epoch0.Order());
        Assert.Equal(PromptSchedule.EpochOrder(10, 42, 1).Take(2), PromptSchedule.ForStep(10, 4, 42, 2).Skip(2));
    }

    [Fact]
    public void Deterministic_for_a_seed_and_different_across_seeds_and_epochs()
    {
        Assert.Equal(PromptSchedule.ForStep(100, 8, 1, 5), PromptSchedule.ForStep(100, 8, 1, 5));
        Assert.NotEqual(PromptSchedule.EpochOrder(100, 1, 0), PromptSchedule.EpochOrder(100, 2, 0));
        Assert.NotEqual(PromptSchedule.EpochOrder(100, 1, 0), PromptSchedule.EpochOrder(100, 1, 1));
    }

    [Fact]
    public void More_per_step_than_problems_wraps_into_next_epochs()
    {
        var step = PromptSchedule.ForStep(3, 7, 0, 0);
        Assert.Equal(7, step.Length);
        Assert.Equal(new[] { 0, 1, 2 }, step.Take(3).Order());
        Assert.Equal(new[] { 0, 1, 2 }, step.Skip(3).Take(3).Order());
    }
}
