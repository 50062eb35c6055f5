namespace Rlvr.Training;

/// <summary>One sample's advantage and whether the objective uses the sample at all.</summary>
/// <remarks>An unused sample carries no learning signal; <see cref="UnusedSamples"/> decides whether it is
/// dropped from the loss batch or kept with advantage 0 (its tokens then still count in token-mean's denominator).</remarks>
public readonly record struct SampleAdvantage(float Advantage, bool Used);

/// <summary>Options of the objectives; each objective reads the ones it needs.</summary>
/// <param name="Lambda">W-REINFORCE's weight of correct samples (the paper's default is 0.1).</param>
/// <param name="GrpoScaleByStd">GRPO divides by the group's std; false gives Dr. GRPO (r - mean only).</param>
/// <param name="GrpoEpsilon">Added to the std before dividing (verl's value, 1e-6).</param>
public sealed record ObjectiveOptions(float Lambda = 0.1f, bool GrpoScaleByStd = true, float GrpoEpsilon = 1e-6f);

/// <summary>Maps the rewards of one prompt's samples (its group) to their advantages: one entry per sample, same order.</summary>
/// <param name="rewards">The samples' rewards (<see cref="Rewards"/>: 1 correct, 0 wrong, plus any reward terms).</param>
public delegate SampleAdvantage[] Objective(IReadOnlyList<double> rewards, ObjectiveOptions options);

/// <summary>
/// The objectives of Zhu et al. (2025) and their baselines, one small function each, looked up by name
/// (like verl's <c>core_algos</c>). Each maps a group's rewards r to advantages; with the verifier's rewards
/// 1 (correct) and 0 (wrong) they are the paper's: r on correct samples (PSR), r - 1 on wrong ones (NSR),
/// their weighted sum lambda PSR + NSR (W-REINFORCE), PSR + NSR (REINFORCE), and GRPO's group-normalised r.
/// To add one: write a function of this shape below and register its name in <see cref="ByName"/> (docs/objectives.md).
/// </summary>
public static class Objectives
{
    static readonly Dictionary<string, Objective> ByName = new(StringComparer.Ordinal)
    {
        ["psr"] = Psr,
        ["nsr"] = Nsr,
        ["w-reinforce"] = WeightedReinforce,
        ["reinforce"] = Reinforce,
        ["grpo"] = Grpo,
    };

    /// <summary>The registered names, in the order the docs list them (the one list of objective names).</summary>
    public static IReadOnlyList<string> Names { get; } = [.. ByName.Keys];

    /// <summary>The objective registered under <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    public static Objective Get(string name) =>
        ByName.TryGetValue(name, out var objective)
            ? objective
            : throw new ArgumentException(
                $"unknown objective '{name}'; expected one of: {string.Join(", ", Names)}", nameof(name));

    /// <summary>The objective applied to every group: advantages shaped like <paramref name="rewardsByPrompt"/>.</summary>
    public static SampleAdvantage[][] Apply(this Objective objective, IReadOnlyList<IReadOnlyList<double>> rewardsByPrompt, ObjectiveOptions options) =>
        [.. rewardsByPrompt.Select(group => objective(group, options))];

    /// <summary>Positive sample reinforcement: advantage r on samples with a positive reward; the others are unused.</summary>
    public static SampleAdvantage[] Psr(IReadOnlyList<double> rewards, ObjectiveOptions options) =>
        [.. rewards.Select(r => r > 0 ? new SampleAdvantage((float)r, true) : new(0f, false))];

    /// <summary>Negative sample reinforcement: advantage r - 1 on samples with a reward below 1; the others are unused.</summary>
    public static SampleAdvantage[] Nsr(IReadOnlyList<double> rewards, ObjectiveOptions options) =>
        [.. rewards.Select(r => r < 1 ? new SampleAdvantage((float)(r - 1), true) : new(0f, false))];

    /// <summary>W-REINFORCE = lambda x PSR + NSR: +lambda on correct samples, -1 on wrong ones; all used.</summary>
    public static SampleAdvantage[] WeightedReinforce(IReadOnlyList<double> rewards, ObjectiveOptions options) =>
        [.. rewards.Select(r => new SampleAdvantage((float)((r > 0 ? options.Lambda * r : 0) + (r < 1 ? r - 1 : 0)), true))];

    /// <summary>REINFORCE = PSR + NSR: +1 on correct samples, -1 on wrong ones; all used.</summary>
    public static SampleAdvantage[] Reinforce(IReadOnlyList<double> rewards, ObjectiveOptions options) =>
        [.. rewards.Select(r => new SampleAdvantage((float)((r > 0 ? r : 0) + (r < 1 ? r - 1 : 0)), true))];

    /// <summary>
    /// GRPO: advantage (r - mean) / (std + eps) over the group, or r - mean without the division (Dr. GRPO).
    /// std is the unbiased sample std (divides by n - 1), as torch.std in TRL and verl. A group whose samples
    /// all got the same reward (including a group of one) has no signal: advantage 0, unused.
    /// </summary>
    public static SampleAdvantage[] Grpo(IReadOnlyList<double> rewards, ObjectiveOptions options)
    {
        if (rewards.Count < 2 || rewards.All(r => r == rewards[0]))
            return [.. rewards.Select(_ => new SampleAdvantage(0f, false))];
        double mean = rewards.Average();
        double sumSquares = rewards.Sum(r => (r - mean) * (r - mean));
        double scale = options.GrpoScaleByStd ? System.Math.Sqrt(sumSquares / (rewards.Count - 1)) + options.GrpoEpsilon : 1.0;
        return [.. rewards.Select(r => new SampleAdvantage((float)((r - mean) / scale), true))];
    }
}
