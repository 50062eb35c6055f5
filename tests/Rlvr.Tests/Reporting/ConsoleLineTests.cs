using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class ConsoleLineTests
{
    [Fact]
    public void TrainStepLineHasEveryFieldInOrder()
    {
        var m = new Dictionary<string, double>
        {
            ["time/optimizer"] = 0.31, ["entropy"] = 0.6149, ["loss"] = 0.012345, ["grad_norm"] = 0.4123, ["reward"] = 0.4375,
            ["reward_std"] = 0.4961, ["correct_ratio"] = 0.4375, ["samples_kept"] = 64, ["completions/mean_length"] = 311.6,
            ["completions/clipped_ratio"] = 0.046875, ["time/step"] = 35.24, ["time/sampling"] = 30.12, ["time/grading"] = 0.08,
            ["time/forward"] = 1.2, ["time/backward"] = 3.46, ["lr"] = 1e-6,
        };
        Assert.Equal(
            "step 12/80 | loss 0.0123 | grad_norm 0.41 | reward 0.44±0.50 | correct 0.44 | kept 64 | len 312 | clipped 0.05 | entropy 0.61 | 35.2s (sample 30.1, grade 0.1, forward 1.2, backward 3.5, opt 0.3)",
            ConsoleLine.TrainStep(12, 80, m));
    }

    [Fact]
    public void AbsentMetricsAreLeftOutAndASkippedUpdateSaysWhy()
    {
        var m = new Dictionary<string, double> { ["reward"] = 0, ["time/step"] = 20.04 };
        Assert.Equal("step 3/80 | reward 0.00 | 20.0s | skipped: every prompt's rewards are equal",
            ConsoleLine.TrainStep(3, 80, m, new Dictionary<string, string> { ["skipped"] = "every prompt's rewards are equal" }));
    }

    [Fact]
    public void EvalLineShowsPassAt1WithItsStandardError()
    {
        // SE = sqrt(0.25 * 0.75 / 100) = 0.0433
        Assert.Equal("eval step 10 | pass@1 0.250 ± 0.043 | 100 problems x 4 samples",
            ConsoleLine.Eval(10, new Dictionary<string, double> { ["pass@1"] = 0.25, ["n_problems"] = 100, ["n_samples"] = 4 }));
    }
}
