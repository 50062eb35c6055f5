using Rlvr.Generation;
using Rlvr.Math;

namespace Rlvr.Training;

/// <summary>What a reward term sees of one sample: its grade and its completion.</summary>
public sealed record RewardInput(GradeResult Grade, Completion Completion);

/// <summary>The coefficients of the reward terms (0 turns a term off).</summary>
/// <param name="FormatPenalty">Subtracted from the reward of a sample with no extractable answer (<c>--format-penalty</c>).</param>
public sealed record RewardOptions(double FormatPenalty = 0);

/// <summary>One term of a sample's reward.</summary>
public delegate double RewardTerm(RewardInput sample, RewardOptions options);

/// <summary>
/// A sample's reward is a number: the sum of the terms below. The verifier's term is 1 for a correct answer
/// and 0 otherwise; the others are 0 unless their option is set, so by default rewards are the paper's 1/0.
/// To add a term: write a function of the <see cref="RewardTerm"/> shape, list it in <see cref="Terms"/>, and give
/// its coefficient an option (docs/objectives.md).
/// </summary>
public static class Rewards
{
    /// <summary>1 when the verifier graded the answer correct, else 0.</summary>
    public static double Verifier(RewardInput sample, RewardOptions options) => sample.Grade.Outcome == GradeOutcome.Correct ? 1 : 0;

    /// <summary>-FormatPenalty when no answer could be extracted (no <c>\boxed{}</c> under --require-boxed).</summary>
    public static double Format(RewardInput sample, RewardOptions options) =>
        sample.Grade.Outcome == GradeOutcome.NoAnswer ? -options.FormatPenalty : 0;

    static readonly RewardTerm[] Terms = [Verifier, Format];

    /// <summary>The sample's reward: the sum of every term.</summary>
    public static double Of(RewardInput sample, RewardOptions options) => Terms.Sum(term => term(sample, options));
}

/// <summary>The rewards and advantages of one step's samples, in the order of the completions.</summary>
/// <param name="Rewards">Each sample's reward (<see cref="Rewards.Of"/>).</param>
/// <param name="Advantages">Each sample's advantage; a sample whose grading failed is unused (advantage 0) and left out of its group.</param>
public sealed record ScoredSamples(double[] Rewards, SampleAdvantage[] Advantages)
{
    /// <summary>Scores completions graded by <paramref name="grades"/> (same order): rewards, then the objective on each
    /// prompt's group. A verifier error is neither right nor wrong: it gets no reward term and no part in its group.</summary>
    public static ScoredSamples Score(IReadOnlyList<Completion> completions, IReadOnlyList<GradeResult> grades,
        Objective objective, ObjectiveOptions objectiveOptions, RewardOptions rewardOptions)
    {
        var rewards = completions.Select((c, i) => Training.Rewards.Of(new RewardInput(grades[i], c), rewardOptions)).ToArray();
        var advantages = new SampleAdvantage[completions.Count];
        foreach (var group in Enumerable.Range(0, completions.Count).Where(i => grades[i].Outcome != GradeOutcome.VerifierError)
                     .GroupBy(i => completions[i].PromptIndex))
        {
            var members = group.ToArray();
            var groupAdvantages = objective([.. members.Select(i => rewards[i])], objectiveOptions);
            for (int k = 0; k < members.Length; k++) advantages[members[k]] = groupAdvantages[k];
        }
        return new ScoredSamples(rewards, advantages);
    }
}
