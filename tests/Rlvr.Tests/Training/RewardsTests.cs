using Rlvr.Generation;
using Rlvr.Math;
using Rlvr.Training;

namespace Rlvr.Tests.Training;

/// <summary>Rewards as numbers per sample, a verifier failure as its own outcome, and the step metrics made of them.</summary>
public class RewardsTests
{
    static Completion Sample(int prompt, int sample) => new(prompt, sample, [1, 2, 3], [-1f, -1f, -1f], [-1f, -1f, -1f], "", FinishReason.Stop);

    static GradeResult Grade(GradeOutcome outcome) =>
        new(outcome == GradeOutcome.Correct, outcome, null, "5", outcome == GradeOutcome.VerifierError ? "internal error: boom" : "");

    // Prompt 0: correct, wrong, no answer; prompt 1: correct, verifier error, wrong.
    static readonly Completion[] Completions = [Sample(0, 0), Sample(0, 1), Sample(0, 2), Sample(1, 0), Sample(1, 1), Sample(1, 2)];
    static readonly GradeResult[] Grades =
    [
        Grade(GradeOutcome.Correct), Grade(GradeOutcome.Wrong), Grade(GradeOutcome.NoAnswer),
        Grade(GradeOutcome.Correct), Grade(GradeOutcome.VerifierError), Grade(GradeOutcome.Wrong),
    ];

    [Fact]
    public void The_verifier_gives_one_or_zero_and_the_format_penalty_is_subtracted_from_no_answers()
    {
        var plain = ScoredSamples.Score(Completions, Grades, Objectives.Nsr, new(), new RewardOptions());
        Assert.Equal(new double[] { 1, 0, 0, 1, 0, 0 }, plain.Rewards);
        var penalised = ScoredSamples.Score(Completions, Grades, Objectives.Nsr, new(), new RewardOptions(FormatPenalty: 0.25));
        Assert.Equal(new[] { 1, 0, -0.25, 1, 0, 0 }, penalised.Rewards);
        // NSR: r - 1 on samples below 1.
        Assert.Equal(new[] { 0f, -1f, -1.25f, 0f, 0f, -1f }, penalised.Advantages.Select(a => a.Advantage));
    }

    [Fact]
    public void A_verifier_error_is_unused_and_left_out_of_its_group()
    {
        var scored = ScoredSamples.Score(Completions, Grades, Objectives.Grpo, new ObjectiveOptions(GrpoEpsilon: 0f), new RewardOptions());
        Assert.Equal(new SampleAdvantage(0f, false), scored.Advantages[4]);
        // Prompt 1's group is (1, 0) without the error: mean 1/2, std sqrt(1/2); with it, (1, 0, 0) would give other values.
        Assert.Equal(0.5 / System.Math.Sqrt(0.5), scored.Advantages[3].Advantage, 5);
        Assert.Equal(-0.5 / System.Math.Sqrt(0.5), scored.Advantages[5].Advantage, 5);
        // Even W-REINFORCE, which uses every sample, gives it nothing.
        Assert.False(ScoredSamples.Score(Completions, Grades, Objectives.WeightedReinforce, new(), new()).Advantages[4].Used);
    }

    [Fact]
    public void Step_metrics_count_outcomes_and_average_rewards()
    {
        var scored = ScoredSamples.Score(Completions, Grades, Objectives.Nsr, new(), new RewardOptions(FormatPenalty: 0.5));
        var m = Trainer.RolloutMetrics(Completions, Grades, scored.Rewards);
        Assert.Equal(2 / 6.0, m["correct_ratio"], 12);
        Assert.Equal(1.5 / 6, m["reward"], 12);         // 1 + 0 - 0.5 + 1 + 0 + 0: not the correct ratio once a term is on
        Assert.Equal(1 / 6.0, m["verifier_error_ratio"], 12);
        Assert.Equal(1 / 6.0, m["no_answer_ratio"], 12);
        Assert.Equal(0, m["frac_reward_zero_std"]);
    }

    [Fact]
    public void The_outcome_has_its_own_name_in_samples_files() =>
        Assert.Equal("verifier_error", GradeOutcome.VerifierError.JsonName());
}
