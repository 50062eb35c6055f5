using System.Globalization;
using System.Text;

namespace Rlvr.Reporting;

/// <summary>The markdown tables of a report. Accuracies are "p ± SE" with SE = sqrt(p(1-p)/problems) (<see cref="Accuracy.StandardError"/>).</summary>
public static class ReportTables
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    const string Missing = "–";

    /// <summary>"0.412 ± 0.014" (three decimals), or "0.412" when the problem count is unknown.</summary>
    public static string Cell(double p, int? problems) =>
        problems is int n and > 0 ? $"{F3(p)} ± {F3(Accuracy.StandardError(p, n))}" : F3(p);

    /// <summary>Every run folder: what it is and how far it got.</summary>
    public static string Runs(Comparison c)
    {
        var md = Header("run", "model", "objective", "seed", "train steps", "evaluations", "finished");
        foreach (var r in c.Runs)
        {
            var steps = (r.Train.Count > 0 ? r.Train[^1].Step.ToString(Inv) : "0") + (r.PlannedSteps is int n ? $" / {n}" : "");
            var evals = r.Evals.Count == 0 ? "none" : $"{r.Evals.Count} (steps {r.Evals[0].Step}–{r.Evals[^1].Step})";
            Row(md, r.Name, r.Model, r.Objective, r.Seed?.ToString(Inv) ?? Missing, steps, evals, r.Finished ? "yes" : "no");
        }
        return md.ToString();
    }

    /// <summary>pass@1 at every evaluation step of one model: rows = step, columns = objective (mean over seeds).</summary>
    public static string AccuracyByStep(Comparison c, string model)
    {
        var groups = c.GroupsOf(model).Where(g => g.PassAt1.Count > 0).ToList();
        var md = Header(["step", .. groups.Select(g => g.Objective)]);
        foreach (var step in groups.SelectMany(g => g.PassAt1.Select(p => p.Step)).Distinct().Order())
        {
            var cells = new List<string> { step.ToString(Inv) };
            foreach (var g in groups)
            {
                var p = g.PassAt1.FirstOrDefault(x => x.Step == step);
                var seeds = g.Runs.Count(r => r.Evals.Count > 0);
                cells.Add(p == null ? Missing : Cell(p.PassAt1, p.Problems) + (p.Runs < seeds ? $" ({p.Runs} of {seeds} seeds)" : ""));
            }
            Row(md, [.. cells]);
        }
        return md.ToString();
    }

    /// <summary>One row per (model, objective): step-0 and final pass@1, their difference, pass@k at the largest k.</summary>
    public static string Summary(Comparison c)
    {
        var md = Header("model", "objective", "runs", "final step", "step-0 pass@1", "final pass@1", "Δ pass@1", "pass@k (largest k)");
        foreach (var g in c.Groups)
        {
            var f = g.Final;
            var b = g.Baseline;
            var final = f == null ? Missing : Cell(f.PassAt1, f.Problems) + (f.SeedStdDev is double sd ? $" (sd {F3(sd)} over seeds)" : "");
            var delta = f != null && b != null ? (f.PassAt1 - b.PassAt1).ToString("+0.000;-0.000;0.000", Inv) : Missing;
            var passAtK = g.TrainedPassAtK is { } curve ? $"{F3(curve.ByK.Last().Value)} (k={curve.ByK.Last().Key})" : Missing;
            var steps = f == null ? Missing : f.FirstStep == f.LastStep ? f.LastStep.ToString(Inv) : $"{f.FirstStep}–{f.LastStep}";
            Row(md, g.Model, g.Objective, g.Runs.Count.ToString(Inv), steps, b == null ? Missing : Cell(b.PassAt1, b.Problems), final, delta, passAtK);
        }
        return md.ToString();
    }

    /// <summary>pass@k of one model: rows = k, columns = base (step 0) and each objective's latest evaluation with n &gt; 1.</summary>
    public static string PassAtK(Comparison c, string model)
    {
        var columns = new List<(string Name, PassAtKCurve Curve)>();
        if (c.BasePassAtK(model) is { } b) columns.Add(("base (step 0)", b));
        foreach (var g in c.GroupsOf(model)) if (g.TrainedPassAtK is { } t) columns.Add((g.Objective, t));
        if (columns.Count == 0) return "";
        var md = Header(["k", .. columns.Select(x => x.Name)]);
        foreach (var k in columns.SelectMany(x => x.Curve.ByK.Keys).Distinct().Order())
            Row(md, [k.ToString(Inv), .. columns.Select(x => x.Curve.ByK.TryGetValue(k, out var v) ? F3(v) : Missing)]);
        return md.ToString();
    }

    static string F3(double x) => x.ToString("F3", Inv);

    static StringBuilder Header(params string[] columns)
    {
        var md = new StringBuilder();
        Row(md, columns);
        md.Append('|').Append(string.Concat(columns.Select(_ => "---|"))).Append('\n');
        return md;
    }

    static void Row(StringBuilder md, params string[] cells) =>
        md.Append("| ").AppendJoin(" | ", cells.Select(Escape)).Append(" |\n");

    /// <summary>A pipe inside a cell would split it.</summary>
    static string Escape(string cell) => cell.Replace("|", "\\|");
}
