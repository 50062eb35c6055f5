using System.Globalization;
using System.Text.RegularExpressions;

namespace Rlvr.Reporting;

/// <summary>A pass@1 at one step, averaged over the runs (seeds) that have an evaluation there.</summary>
public sealed record PassAt1Point(int Step, double PassAt1, int? Problems, int Runs);

/// <summary>The last evaluation of each run of a group, averaged; <see cref="SeedStdDev"/> when there are several runs.</summary>
public sealed record FinalPassAt1(double PassAt1, int? Problems, int FirstStep, int LastStep, int Runs, double? SeedStdDev);

/// <summary>pass@k by k, averaged over runs, from evaluations with more than one sample per problem (at <see cref="Step"/>, the latest of them).</summary>
public sealed record PassAtKCurve(IReadOnlyDictionary<int, double> ByK, int Runs, int Step);

/// <summary>The runs of one (model, objective): several runs are seeds of the same experiment.</summary>
public sealed class RunGroup(string model, string objective, IReadOnlyList<Run> runs)
{
    public string Model => model;
    public string Objective => objective;
    public IReadOnlyList<Run> Runs => runs;

    /// <summary>Mean pass@1 over the runs with an evaluation at each step (steps of any run, in order).</summary>
    public IReadOnlyList<PassAt1Point> PassAt1 { get; } = MeanByStep(runs);

    /// <summary>The step-0 evaluation (before training), if any.</summary>
    public PassAt1Point? Baseline => PassAt1.FirstOrDefault(p => p.Step == 0);

    public FinalPassAt1? Final { get; } = FinalOf(runs);

    /// <summary>pass@k of the trained models: each run's latest evaluation with n &gt; 1 (after step 0).</summary>
    public PassAtKCurve? TrainedPassAtK { get; } = MeanPassAtK(runs.Select(r => r.Evals.LastOrDefault(e => e.Step > 0 && e.PassAtK.Count > 1)));

    static List<PassAt1Point> MeanByStep(IReadOnlyList<Run> runs) =>
        runs.SelectMany(r => r.Evals).GroupBy(e => e.Step).OrderBy(g => g.Key)
            .Select(g => new PassAt1Point(g.Key, g.Average(e => e.PassAt1), MinProblems(g), g.Count()))
            .ToList();

    static FinalPassAt1? FinalOf(IReadOnlyList<Run> runs)
    {
        var last = runs.Where(r => r.Evals.Count > 0).Select(r => r.Evals[^1]).ToList();
        if (last.Count == 0) return null;
        return new FinalPassAt1(last.Average(e => e.PassAt1), MinProblems(last), last.Min(e => e.Step), last.Max(e => e.Step),
            last.Count, Accuracy.StandardDeviation(last.Select(e => e.PassAt1).ToList()));
    }

    /// <summary>Several runs can evaluate on different problem counts; the smallest gives the widest (honest) error bar.</summary>
    internal static int? MinProblems(IEnumerable<EvalPoint> evals) =>
        evals.Select(e => e.Problems).Where(n => n is > 0).Min();

    internal static PassAtKCurve? MeanPassAtK(IEnumerable<EvalPoint?> evals)
    {
        var withK = evals.OfType<EvalPoint>().ToList();
        if (withK.Count == 0) return null;
        var byK = withK.SelectMany(e => e.PassAtK).GroupBy(kv => kv.Key).OrderBy(g => g.Key)
            .ToDictionary(g => g.Key, g => g.Average(kv => kv.Value));
        return new PassAtKCurve(byK, withK.Count, withK.Max(e => e.Step));
    }
}

/// <summary>Runs grouped by model and objective, in a fixed order: models by size, objectives as in the paper.</summary>
public sealed partial class Comparison
{
    public IReadOnlyList<string> Models { get; }
    public IReadOnlyList<RunGroup> Groups { get; }

    public Comparison(IEnumerable<Run> runs)
    {
        var all = runs.ToList();
        var models = all.Select(r => r.Model).Distinct().OrderBy(ModelSize).ThenBy(m => m, StringComparer.Ordinal).ToList();
        Models = models;
        shortModels = ShortModelNames(models);
        Groups = all.GroupBy(r => (r.Model, r.Objective))
            .OrderBy(g => models.IndexOf(g.Key.Model)).ThenBy(g => ObjectiveStyle.Rank(g.Key.Objective)).ThenBy(g => g.Key.Objective, StringComparer.Ordinal)
            .Select(g => new RunGroup(g.Key.Model, g.Key.Objective, g.OrderBy(r => r.Seed ?? int.MaxValue).ThenBy(r => r.Name, StringComparer.Ordinal).ToList()))
            .ToList();
    }

    /// <summary>Legend text for one run in figures that hold several models: the part of the model name that differs ("0.5B"), objective, seed.</summary>
    public string ShortLabel(Run run)
    {
        var model = shortModels[run.Model];
        var seed = run.Seed is int s ? $"seed {s}" : run.Name;
        return string.Join(" ", new[] { model, run.Objective, seed }.Where(x => x.Length > 0));
    }

    readonly IReadOnlyDictionary<string, string> shortModels;

    /// <summary>
    /// The model names without the words all of them share at the start and the end ("Qwen2.5-0.5B-Instruct",
    /// "Qwen2.5-1.5B-Instruct" -> "0.5B", "1.5B"; words split at '-' and '_'). One model: "" (the title names it).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ShortModelNames(IReadOnlyList<string> models)
    {
        if (models.Count == 1) return new Dictionary<string, string> { [models[0]] = "" };
        // Split keeping the separators: words at even indices.
        var parts = models.Select(m => Regex.Split(m, "([-_])")).ToList();
        var words = parts.Select(p => p.Where((_, i) => i % 2 == 0).ToArray()).ToList();
        var shortest = words.Count == 0 ? 0 : words.Min(w => w.Length);
        var prefix = 0;
        while (prefix < shortest - 1 && words.All(w => w[prefix] == words[0][prefix])) prefix++;
        var suffix = 0;
        while (suffix < shortest - 1 - prefix && words.All(w => w[^(suffix + 1)] == words[0][^(suffix + 1)])) suffix++;
        var result = new Dictionary<string, string>();
        for (var i = 0; i < models.Count; i++)
            result[models[i]] = string.Concat(parts[i][(2 * prefix)..(parts[i].Length - 2 * suffix)]);
        // Names that differ only in their separators would collide: keep them whole.
        return result.Values.Distinct().Count() == models.Count ? result : models.ToDictionary(m => m, m => m);
    }

    public IEnumerable<RunGroup> GroupsOf(string model) => Groups.Where(g => g.Model == model);

    public IEnumerable<Run> Runs => Groups.SelectMany(g => g.Runs);

    /// <summary>Mean step-0 pass@1 over every run of <paramref name="model"/>: the base model before training.</summary>
    public PassAt1Point? Baseline(string model)
    {
        var step0 = GroupsOf(model).SelectMany(g => g.Runs).SelectMany(r => r.Evals.Where(e => e.Step == 0)).ToList();
        return step0.Count == 0 ? null : new PassAt1Point(0, step0.Average(e => e.PassAt1), RunGroup.MinProblems(step0), step0.Count);
    }

    /// <summary>pass@k of the base model: the step-0 evaluations with n &gt; 1 of every run of <paramref name="model"/>, averaged.</summary>
    public PassAtKCurve? BasePassAtK(string model) =>
        RunGroup.MeanPassAtK(GroupsOf(model).SelectMany(g => g.Runs).Select(r => r.Evals.FirstOrDefault(e => e.Step == 0 && e.PassAtK.Count > 1)));

    /// <summary>Sort key: the parameter count in a name like "Qwen2.5-1.5B-Instruct" (1.5), names without one last.</summary>
    static double ModelSize(string model) =>
        SizeInName().Match(model) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : double.MaxValue;

    [GeneratedRegex(@"(?<![\d.])(\d+(?:\.\d+)?)[Bb](?![A-Za-z])")]
    private static partial Regex SizeInName();
}
