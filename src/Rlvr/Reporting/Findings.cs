using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Rlvr.Evaluation;

namespace Rlvr.Reporting;

/// <summary>A mean over problems with its standard error (sd of the per-problem values / sqrt(problems)).</summary>
public readonly record struct Estimate(double Mean, double StandardError)
{
    /// <summary>Mean and standard error of per-problem values (the problems are the independent unit).</summary>
    public static Estimate Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        double mean = values.Average();
        if (values.Count == 1) return new(mean, double.NaN);
        double variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
        return new(mean, System.Math.Sqrt(variance / values.Count));
    }

    /// <summary>Several seeds' estimates averaged: their means averaged, their errors combined as independent.</summary>
    public static Estimate MeanOf(IReadOnlyList<Estimate> seeds) =>
        new(seeds.Average(e => e.Mean), System.Math.Sqrt(seeds.Sum(e => e.StandardError * e.StandardError)) / seeds.Count);

    /// <summary>The mean in standard errors (a z-score); NaN when the error is 0 or unknown.</summary>
    public double Z => StandardError > 0 ? Mean / StandardError : double.NaN;
}

/// <summary>What one objective did to pass@1 and to pass@k at the largest k both evaluations share: base (step 0) and
/// final values and their paired difference, each with its standard error over problems.</summary>
public sealed record Finding(string Model, string Objective, int Seeds, int Problems, int K,
    Estimate BasePassAt1, Estimate FinalPassAt1, Estimate DeltaPassAt1, Estimate BasePassAtK, Estimate FinalPassAtK, Estimate DeltaPassAtK,
    double? SeedSdDeltaPassAt1);

/// <summary>
/// The findings table of a report: for each (model, objective), the step-0 and the final evaluation of each run,
/// compared problem by problem from their sample files (<c>eval/step_N.samples.jsonl</c>), so the standard error
/// of a difference is the paired one: the spread of per-problem differences, not of two independent means.
/// pass@k per problem is the unbiased estimator from the n samples. Statements follow the numbers: a change is
/// called a rise or a fall only when it is at least two standard errors from zero.
/// </summary>
public static class Findings
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Per-problem correct counts of one evaluation, from its samples file; null when missing or unreadable.</summary>
    public static Dictionary<string, (int N, int Correct)>? ReadCounts(string samplesPath, ICollection<string> problems)
    {
        if (!File.Exists(samplesPath)) return null;
        var counts = new Dictionary<string, (int N, int Correct)>();
        int line = 0;
        foreach (var text in File.ReadLines(samplesPath))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                var o = JsonNode.Parse(text)!.AsObject();
                if (o["sample"]!.GetValue<int>() < 0) continue;   // greedy samples are not part of pass@k
                var id = o["problem_id"]!.GetValue<string>();
                var correct = o["correct"]!.GetValue<bool>();
                var (n, c) = counts.GetValueOrDefault(id);
                counts[id] = (n + 1, c + (correct ? 1 : 0));
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or FormatException)
            {
                problems.Add($"{samplesPath}:{line}: not an evaluation sample ({e.Message}); findings skip this file");
                return null;
            }
        }
        return counts;
    }

    /// <summary>The findings of every (model, objective) whose runs have a step-0 and a later evaluation with sample files.</summary>
    public static IReadOnlyList<Finding> Compute(Comparison comparison, ICollection<string> problems)
    {
        var result = new List<Finding>();
        foreach (var group in comparison.Groups)
        {
            var perSeed = new List<(Estimate B1, Estimate F1, Estimate D1, Estimate BK, Estimate FK, Estimate DK, int Problems, int K)>();
            foreach (var run in group.Runs)
            {
                var final = run.Evals.LastOrDefault(e => e.Step > 0);
                if (final == null || !run.Evals.Any(e => e.Step == 0)) continue;
                var b = ReadCounts(SamplesPath(run.Dir, 0), problems);
                var f = ReadCounts(SamplesPath(run.Dir, final.Step), problems);
                if (b == null || f == null) continue;
                var shared = b.Keys.Intersect(f.Keys).Order(StringComparer.Ordinal).ToList();
                if (shared.Count == 0) { problems.Add($"{run.Dir}: the step-0 and step-{final.Step} evaluations share no problem"); continue; }
                int k = LargestPowerOfTwo(shared.Min(id => System.Math.Min(b[id].N, f[id].N)));
                double[] At(Dictionary<string, (int N, int Correct)> counts, int kk) =>
                    [.. shared.Select(id => PassAtK.Estimate(counts[id].N, counts[id].Correct, kk))];
                double[] b1 = At(b, 1), f1 = At(f, 1), bk = At(b, k), fk = At(f, k);
                perSeed.Add((Estimate.Of(b1), Estimate.Of(f1), Estimate.Of([.. f1.Zip(b1, (x, y) => x - y)]),
                    Estimate.Of(bk), Estimate.Of(fk), Estimate.Of([.. fk.Zip(bk, (x, y) => x - y)]), shared.Count, k));
            }
            if (perSeed.Count == 0) continue;
            // Seeds are comparable only at a k they all have.
            int kAll = perSeed.Min(s => s.K);
            if (perSeed.Any(s => s.K != kAll)) problems.Add($"{group.Model} {group.Objective}: seeds evaluated with different n; findings use k = {kAll} of the smallest");
            double? seedSd = perSeed.Count > 1 ? Estimate.Of([.. perSeed.Select(s => s.D1.Mean)]).StandardError * System.Math.Sqrt(perSeed.Count) : null;
            result.Add(new Finding(group.Model, group.Objective, perSeed.Count, perSeed.Min(s => s.Problems), kAll,
                Estimate.MeanOf([.. perSeed.Select(s => s.B1)]), Estimate.MeanOf([.. perSeed.Select(s => s.F1)]), Estimate.MeanOf([.. perSeed.Select(s => s.D1)]),
                Estimate.MeanOf([.. perSeed.Select(s => s.BK)]), Estimate.MeanOf([.. perSeed.Select(s => s.FK)]), Estimate.MeanOf([.. perSeed.Select(s => s.DK)]), seedSd));
        }
        return result;
    }

    static string SamplesPath(string runDir, int step) => Path.Combine(runDir, "eval", $"step_{step:D6}.samples.jsonl");

    static int LargestPowerOfTwo(int n)
    {
        int k = 1;
        while (k * 2 <= n) k *= 2;
        return k;
    }

    /// <summary>The findings as a markdown table and one sentence per row.</summary>
    public static string Markdown(IReadOnlyList<Finding> findings)
    {
        if (findings.Count == 0) return "No run has a step-0 and a later evaluation with sample files.\n";
        var md = new StringBuilder();
        md.Append("| model | objective | seeds | problems | pass@1 base | pass@1 final | Δ pass@1 | k | pass@k base | pass@k final | Δ pass@k |\n");
        md.Append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var f in findings)
            md.Append($"| {f.Model} | {f.Objective} | {f.Seeds} | {f.Problems} | {Pm(f.BasePassAt1)} | {Pm(f.FinalPassAt1)} | {Delta(f.DeltaPassAt1)} | {f.K} | {Pm(f.BasePassAtK)} | {Pm(f.FinalPassAtK)} | {Delta(f.DeltaPassAtK)} |\n");
        md.Append('\n');
        foreach (var f in findings)
            md.Append($"- **{f.Objective}** ({f.Model}): {Verb(f.DeltaPassAt1, "pass@1")}; {Verb(f.DeltaPassAtK, $"pass@{f.K}")}" +
                (f.SeedSdDeltaPassAt1 is double sd ? $" (seed-to-seed sd of Δ pass@1: {sd.ToString("F3", Inv)})" : "") + ".\n");
        md.Append("\nΔ = final − step 0 on the same problems; ± is the paired standard error over problems (with several seeds, of their mean); " +
                  "in brackets the change in standard errors (cut to tenths, not rounded). A change within 2 standard errors is reported as no measurable change.\n");
        return md.ToString();
    }

    static string Pm(Estimate e) => double.IsNaN(e.StandardError)
        ? e.Mean.ToString("F3", Inv) : $"{e.Mean.ToString("F3", Inv)} ± {e.StandardError.ToString("F3", Inv)}";

    static string Delta(Estimate e) => double.IsNaN(e.Z)
        ? e.Mean.ToString("+0.000;-0.000;0.000", Inv)
        : $"{e.Mean.ToString("+0.000;-0.000;0.000", Inv)} ± {e.StandardError.ToString("F3", Inv)} ({Tenths(e.Z).ToString("+0.0;-0.0;0.0", Inv)} SE)";

    /// <summary>A z-score cut (not rounded) to tenths, so that a printed 2.0 is at least 2, the line the statements draw.</summary>
    static double Tenths(double z) => System.Math.Truncate(z * 10) / 10 + 0.0;   // + 0.0: no "-0.0"

    /// <summary>"raised pass@1 by 0.085 ± 0.012 (7.1 SE)", "lowered ...", or "left pass@64 unchanged within 2 SE (Δ ...)".</summary>
    public static string Verb(Estimate delta, string what)
    {
        var amount = $"{System.Math.Abs(delta.Mean).ToString("F3", Inv)} ± {delta.StandardError.ToString("F3", Inv)}";
        if (double.IsNaN(delta.Z)) return $"changed {what} by {delta.Mean.ToString("+0.000;-0.000;0.000", Inv)} (no standard error: one problem)";
        if (delta.Z >= 2) return $"raised {what} by {amount} ({Tenths(delta.Z).ToString("F1", Inv)} SE)";
        if (delta.Z <= -2) return $"lowered {what} by {amount} ({Tenths(-delta.Z).ToString("F1", Inv)} SE)";
        return $"left {what} unchanged within 2 SE (Δ {delta.Mean.ToString("+0.000;-0.000;0.000", Inv)} ± {delta.StandardError.ToString("F3", Inv)})";
    }
}
