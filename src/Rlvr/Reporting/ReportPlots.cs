using System.Globalization;
using System.Text.RegularExpressions;
using ScottPlot;

namespace Rlvr.Reporting;

/// <summary>A per-step training metric drawn as one line per run.</summary>
public sealed record TrainingMetric(string Key, string Title, string YLabel, string FileName)
{
    public static readonly TrainingMetric[] All =
    [
        new("reward", "Mean reward of the rollouts", "reward (mean per rollout)", "train_reward.png"),
        new("correct_ratio", "Fraction of rollouts graded correct", "correct ratio (fraction)", "train_correct_ratio.png"),
        new("entropy", "Policy entropy on the trained samples", "entropy (nats per token)", "train_entropy.png"),
        new("completions/mean_length", "Mean response length", "response length (tokens)", "train_response_length.png"),
        new("grad_norm", "Gradient norm before clipping", "gradient norm (L2)", "train_grad_norm.png"),
    ];
}

/// <summary>
/// The report's figures (PNG, ScottPlot): colour = objective (<see cref="ObjectiveStyle"/>), line
/// pattern = model where several models share a figure. Each method returns the file name it wrote
/// in the output folder, or null when there is nothing to draw.
/// </summary>
public sealed partial class ReportPlots(Comparison comparison, ObjectiveStyle style, ReportOptions options, string outDir)
{
    public const int Width = 960, Height = 540;

    static readonly LinePattern[] ModelPatterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    /// <summary>pass@1 against step for one model: each run's evaluations as markers, the seed mean smoothed as a line, the step-0 baseline dashed grey.</summary>
    public string? PassAt1(string model)
    {
        var groups = comparison.GroupsOf(model).Where(g => g.PassAt1.Count > 0).ToList();
        if (groups.Count == 0) return null;
        var plot = NewPlot($"pass@1 during training: {model}", "training step", "pass@1 (fraction)");
        if (comparison.Baseline(model) is { } baseline)
        {
            var line = plot.Add.HorizontalLine(baseline.PassAt1, 1.5f, Colour(ObjectiveStyle.Base), LinePattern.Dashed);
            line.LegendText = $"base (step 0): {baseline.PassAt1.ToString("F3", CultureInfo.InvariantCulture)}";
        }
        foreach (var g in groups)
        {
            var colour = Colour(g.Objective);
            foreach (var run in g.Runs.Where(r => r.Evals.Count > 0))
                plot.Add.Markers(run.Evals.Select(e => (double)e.Step).ToArray(), run.Evals.Select(e => e.PassAt1).ToArray(), MarkerShape.OpenCircle, 8, colour);
            var steps = g.PassAt1.Select(p => (double)p.Step).ToArray();
            var mean = Accuracy.TrailingMean(g.PassAt1.Select(p => p.PassAt1).ToList(), options.Smooth);
            var curve = plot.Add.ScatterLine(steps, mean, colour);
            curve.LineWidth = 2.5f;
            var seeds = g.Runs.Count(r => r.Evals.Count > 0);
            curve.LegendText = g.Objective + (seeds > 1 ? $" (mean of {seeds} seeds)" : "");
        }
        if (options.Smooth > 1) plot.Axes.Bottom.Label.Text = $"training step (line: trailing mean of the last {options.Smooth} evaluations)";
        return Save(plot, $"pass1_{FileSafe(model)}.png");
    }

    /// <summary>Final pass@1 as bars grouped by model (± standard error), the step-0 baseline as a dashed segment over each group.</summary>
    public string? FinalPassAt1()
    {
        var plot = NewPlot("Final pass@1 by objective", "", "pass@1 (fraction)");
        var bars = new List<Bar>();
        var baselines = new List<(double From, double To, double PassAt1)>();
        var ticks = new List<(double, string)>();
        var objectivesShown = new List<string>();
        double position = 0;
        foreach (var model in comparison.Models)
        {
            var groups = comparison.GroupsOf(model).Where(g => g.Final != null).ToList();
            if (groups.Count == 0) continue;
            var first = position;
            foreach (var g in groups)
            {
                var f = g.Final!;
                bars.Add(new Bar
                {
                    Position = position++, Value = f.PassAt1, FillColor = Colour(g.Objective),
                    Error = f.Problems is int n ? Accuracy.StandardError(f.PassAt1, n) : 0,
                    LineWidth = 1.5f, LineColor = Colors.Black.WithAlpha(0.7), // the error bar
                });
                if (!objectivesShown.Contains(g.Objective)) objectivesShown.Add(g.Objective);
            }
            ticks.Add(((first + position - 1) / 2, model));
            if (comparison.Baseline(model) is { } baseline) baselines.Add((first - 0.5, position - 0.5, baseline.PassAt1));
            position += 1; // a gap between models
        }
        if (bars.Count == 0) return null;
        plot.Add.Bars(bars);
        // Drawn after the bars, so the baseline shows across them.
        foreach (var (from, to, passAt1) in baselines)
        {
            var segment = plot.Add.Line(from, passAt1, to, passAt1);
            segment.LineColor = Colour(ObjectiveStyle.Base);
            segment.LineWidth = 2.5f;
            segment.LinePattern = LinePattern.Dashed;
            segment.MarkerSize = 0;
            if (baselines[0].From == from) segment.LegendText = "base (step 0)";
        }
        foreach (var o in objectivesShown)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = o, FillColor = Colour(o), OutlineWidth = 0 });
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.Select(t => t.Item1).ToArray(), ticks.Select(t => t.Item2).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Grid.XAxisStyle.MajorLineStyle.Width = 0;
        plot.Axes.Margins(bottom: 0);
        plot.Axes.Bottom.Label.Text = "model (bars: last evaluation of each run, mean over seeds, ± standard error)";
        return Save(plot, "final_pass1.png");
    }

    /// <summary>pass@k against k (log2 axis) for one model: the base model (step 0) and each objective's trained model (latest evaluation with n &gt; 1).</summary>
    public string? PassAtK(string model)
    {
        var curves = new List<(string Objective, string Label, PassAtKCurve Curve)>();
        if (comparison.BasePassAtK(model) is { } b) curves.Add((ObjectiveStyle.Base, "base (step 0)", b));
        foreach (var g in comparison.GroupsOf(model))
            if (g.TrainedPassAtK is { } c) curves.Add((g.Objective, $"{g.Objective} (step {c.Step}" + (c.Runs > 1 ? $", mean of {c.Runs} seeds)" : ")"), c));
        if (curves.Count == 0) return null;
        var plot = NewPlot($"pass@k: {model}", "k (samples per problem, log2 scale)", "pass@k (fraction)");
        var ks = new SortedSet<int>();
        foreach (var (objective, label, curve) in curves)
        {
            var xs = curve.ByK.Keys.Select(k => System.Math.Log2(k)).ToArray();
            var line = plot.Add.Scatter(xs, curve.ByK.Values.ToArray(), Colour(objective));
            line.LineWidth = 2;
            line.MarkerSize = 7;
            if (objective == ObjectiveStyle.Base) line.LinePattern = LinePattern.Dashed;
            line.LegendText = label;
            ks.UnionWith(curve.ByK.Keys);
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            ks.Select(k => System.Math.Log2(k)).ToArray(), ks.Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray());
        return Save(plot, $"passk_{FileSafe(model)}.png");
    }

    /// <summary>One training metric against step, one line per run (smoothed, raw values faint behind).</summary>
    public string? Training(TrainingMetric metric)
    {
        // With one model, the title names it (the legend then shows only objective and seed).
        var title = comparison.Models.Count == 1 ? $"{metric.Title}: {comparison.Models[0]}" : metric.Title;
        var plot = NewPlot(title, "training step", metric.YLabel);
        var drawn = 0;
        foreach (var run in comparison.Runs)
        {
            var points = run.Train.Where(r => r.Get(metric.Key) is double v && double.IsFinite(v)).ToList();
            if (points.Count == 0) continue;
            var colour = Colour(run.Objective);
            var xs = points.Select(p => (double)p.Step).ToArray();
            var ys = points.Select(p => p.Get(metric.Key)!.Value).ToList();
            var pattern = ModelPatterns[comparison.Models.ToList().IndexOf(run.Model) % ModelPatterns.Length];
            if (options.SmoothTrain > 1)
            {
                var raw = plot.Add.ScatterLine(xs, ys.ToArray(), colour.WithAlpha(0.25));
                raw.LineWidth = 1;
                raw.LinePattern = pattern;
            }
            var line = plot.Add.ScatterLine(xs, Accuracy.TrailingMean(ys, options.SmoothTrain), colour);
            line.LineWidth = 2;
            line.LinePattern = pattern;
            line.LegendText = comparison.ShortLabel(run);
            drawn++;
        }
        if (drawn == 0) return null;
        if (options.SmoothTrain > 1) plot.Axes.Bottom.Label.Text = $"training step (line: trailing mean of the last {options.SmoothTrain} steps; faint: raw)";
        return Save(plot, metric.FileName);
    }

    /// <summary>
    /// ScottPlot falls back to a serif face where its preferred fonts are missing (Debian has DejaVu
    /// only); use the first sans-serif family installed.
    /// </summary>
    static readonly string? SansFont = new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }
        .FirstOrDefault(SkiaSharp.SKFontManager.Default.FontFamilies.Contains);

    Color Colour(string objective) => Color.FromHex(style.Hex(objective));

    static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        if (SansFont != null) plot.Font.Set(SansFont);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    string Save(Plot plot, string fileName)
    {
        AtomicFile.WriteAllBytes(Path.Combine(outDir, fileName), plot.GetImageBytes(Width, Height, ImageFormat.Png));
        return fileName;
    }

    /// <summary>A model name as a file name: letters, digits, '.', '-', '_' kept, the rest '_'.</summary>
    public static string FileSafe(string name) => Unsafe().Replace(name, "_");

    [GeneratedRegex(@"[^A-Za-z0-9._-]")]
    private static partial Regex Unsafe();
}
