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

/// <summary>Turns the correctness of each prompt's samples into per-sample advantages.</summary>
/// <param name="correctByPrompt">For each prompt, the correctness of its n samples (reward 1 or 0).</param>
/// <returns>Advantages shaped like the input: one array per prompt, one entry per sample.</returns>
public delegate SampleAdvantage[][] Objective(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, ObjectiveOptions options);

/// <summary>
/// The objectives of Zhu et al. (2025) and their baselines, one small function each, looked up by name
/// (like verl's <c>core_algos</c>). Rewards are binary: a sample is correct or not.
/// </summary>
/// <remarks>
/// The paper's verl code writes the same objectives with rewards r in {1, 0}: advantage r (PSR), r - 1 (NSR),
/// lambda*r or r - 1 (W-REINFORCE). Those give exactly the advantages below on the samples used, and 0 on the
/// samples an objective leaves out (incorrect ones for PSR, correct ones for NSR); see docs/objectives.md.
/// </remarks>
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

    /// <summary>The registered names, in the order the docs list them.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. ByName.Keys];

    /// <summary>The objective registered under <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    public static Objective Get(string name) =>
        ByName.TryGetValue(name, out var objective)
            ? objective
            : throw new ArgumentException(
                $"unknown objective '{name}'; expected one of: {string.Join(", ", Names)}", nameof(name));

    /// <summary>Positive sample reinforcement: +1 on correct samples; incorrect ones are unused.</summary>
    public static SampleAdvantage[][] Psr(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, ObjectiveOptions options) =>
        PerSample(correctByPrompt, correct => correct ? new(1f, true) : new(0f, false));

    /// <summary>Negative sample reinforcement: -1 on incorrect samples; correct ones are unused.</summary>
    public static SampleAdvantage[][] Nsr(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, ObjectiveOptions options) =>
        PerSample(correctByPrompt, correct => correct ? new(0f, false) : new(-1f, true));

    /// <summary>W-REINFORCE: +lambda on correct samples, -1 on incorrect ones; all used.</summary>
    public static SampleAdvantage[][] WeightedReinforce(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, ObjectiveOptions options) =>
        PerSample(correctByPrompt, correct => new(correct ? options.Lambda : -1f, true));

    /// <summary>REINFORCE with rewards +1 / -1; all used.</summary>
    public static SampleAdvantage[][] Reinforce(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, ObjectiveOptions options) =>
        PerSample(correctByPrompt, correct => new(correct ? 1f : -1f, true));

    /// <summary>
    /// GRPO: rewards 1/0, advantage (r - mean) / (std + eps) over the samples of one prompt, or r - mean
    /// without the division (Dr. GRPO). std is the unbiased sample std (divides by n - 1), as torch.std in
    /// TRL and verl. A group whose samples all got the same reward (including a group of one) has no
    /// signal: advantage 0, unused.
    /// </summary>
    public static SampleAdvantage[][] Grpo(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, ObjectiveOptions options) =>
        [.. correctByPrompt.Select(group => GrpoGroup(group, options))];

    static SampleAdvantage[] GrpoGroup(IReadOnlyList<bool> group, ObjectiveOptions options)
    {
        int correct = group.Count(c => c);
        if (correct == 0 || correct == group.Count)
            return [.. group.Select(_ => new SampleAdvantage(0f, false))];
        double n = group.Count;
        double mean = correct / n;
        // sum of squared deviations: correct samples deviate by 1 - mean, incorrect ones by -mean.
        double sumSquares = correct * (1 - mean) * (1 - mean) + (n - correct) * mean * mean;
        double scale = options.GrpoScaleByStd ? System.Math.Sqrt(sumSquares / (n - 1)) + options.GrpoEpsilon : 1.0;
        return [.. group.Select(c => new SampleAdvantage((float)(((c ? 1 : 0) - mean) / scale), true))];
    }

    static SampleAdvantage[][] PerSample(IReadOnlyList<IReadOnlyList<bool>> correctByPrompt, Func<bool, SampleAdvantage> advantage) =>
        [.. correctByPrompt.Select(group => group.Select(advantage).ToArray())];
}
