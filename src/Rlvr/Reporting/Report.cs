using System.Text;

namespace Rlvr.Reporting;

/// <summary>
/// Smoothing windows (trailing moving average, in points; 1 = none): <see cref="Smooth"/> for the
/// pass@1 curves (one point per evaluation), <see cref="SmoothTrain"/> for the per-step training curves.
/// </summary>
public sealed record ReportOptions(int Smooth = 2, int SmoothTrain = 10)
{
    public void Validate()
    {
        if (Smooth < 1) throw new ArgumentOutOfRangeException(nameof(Smooth), Smooth, "the smoothing window is at least 1 (1 = no smoothing)");
        if (SmoothTrain < 1) throw new ArgumentOutOfRangeException(nameof(SmoothTrain), SmoothTrain, "the smoothing window is at least 1 (1 = no smoothing)");
    }
}

/// <summary>What <see cref="Report.Write"/> produced.</summary>
public sealed record ReportResult(string ReportPath, IReadOnlyList<string> Figures, IReadOnlyList<string> Problems, int RunsRead);

/// <summary>
/// <c>rlvr report</c>: reads run folders and writes PNG figures and one report.md that embeds them
/// (docs/reports.md). Missing or partial runs never stop it: they are listed under "Problems".
/// </summary>
public static class Report
{
    public const string FileName = "report.md";

    /// <param name="runDirs">run folders, or folders of run folders</param>
    /// <param name="outDir">where report.md and the PNGs go (created)</param>
    public static ReportResult Write(IEnumerable<string> runDirs, string outDir, ReportOptions? options = null)
    {
        options ??= new ReportOptions();
        options.Validate();
        var problems = new List<string>();
        var runs = RunFolder.Expand(runDirs).DistinctBy(Path.GetFullPath)
            .Select(d => RunFolder.Load(d, problems)).OfType<Run>().ToList();
        var comparison = new Comparison(runs);
        var style = new ObjectiveStyle(runs.Select(r => r.Objective));
        var plots = new ReportPlots(comparison, style, options, outDir);
        Directory.CreateDirectory(outDir);

        var figures = new List<string>();
        string? Figure(string? file) { if (file != null) figures.Add(file); return file; }
        var md = new StringBuilder();
        md.Append("# RLVR report\n\n");
        md.Append($"{runs.Count} run folder(s). pass@1 is the mean accuracy over all evaluation samples; \"±\" is its standard error over problems, sqrt(p(1-p)/problems). ");
        md.Append("Runs of the same model and objective (seeds) are averaged. ");
        md.Append(options.Smooth > 1 ? $"pass@1 curves are trailing means over the last {options.Smooth} evaluations (markers: the raw evaluations); " : "pass@1 curves are not smoothed; ");
        md.Append(options.SmoothTrain > 1 ? $"training curves are trailing means over the last {options.SmoothTrain} steps (faint: raw).\n\n" : "training curves are not smoothed.\n\n");

        if (problems.Count > 0)
        {
            md.Append("## Problems\n\n");
            foreach (var p in problems) md.Append("- ").Append(p).Append('\n');
            md.Append('\n');
        }

        md.Append("## Runs\n\n").Append(runs.Count > 0 ? ReportTables.Runs(comparison) : "No run folder could be read.\n").Append('\n');
        if (runs.Count == 0) return Finish(md, outDir, figures, problems, 0);

        md.Append("## Final pass@1\n\n");
        if (Figure(plots.FinalPassAt1()) is { } final) md.Append(Image("Final pass@1 by objective and model", final));
        md.Append("Final = each run's last evaluation; Δ = final − step 0 (same objective's runs); pass@k from the latest evaluation with more than one sample per problem.\n\n");
        md.Append(ReportTables.Summary(comparison)).Append('\n');

        md.Append("## Findings\n\n").Append(Findings.Markdown(Findings.Compute(comparison, problems))).Append('\n');

        md.Append("## pass@1 during training\n\n");
        foreach (var model in comparison.Models)
        {
            md.Append("### ").Append(model).Append("\n\n");
            if (Figure(plots.PassAt1(model)) is { } f) md.Append(Image($"pass@1 during training, {model}", f)).Append(ReportTables.AccuracyByStep(comparison, model)).Append('\n');
            else md.Append("No evaluation yet.\n\n");
        }

        var passAtKModels = comparison.Models.Where(m => ReportTables.PassAtK(comparison, m).Length > 0).ToList();
        md.Append("## pass@k\n\n");
        if (passAtKModels.Count == 0) md.Append("No evaluation with more than one sample per problem.\n\n");
        foreach (var model in passAtKModels)
        {
            md.Append("### ").Append(model).Append("\n\n");
            md.Append(Image($"pass@k, {model}", Figure(plots.PassAtK(model))!)).Append(ReportTables.PassAtK(comparison, model)).Append('\n');
        }

        md.Append("## Training curves\n\n");
        var anyTraining = false;
        foreach (var metric in TrainingMetric.All)
            if (Figure(plots.Training(metric)) is { } f) { md.Append(Image(metric.Title, f)); anyTraining = true; }
        if (!anyTraining) md.Append("No training step logged yet.\n\n");
        return Finish(md, outDir, figures, problems, runs.Count);
    }

    static string Image(string alt, string file) => $"![{alt}]({file})\n\n";

    static ReportResult Finish(StringBuilder md, string outDir, List<string> figures, List<string> problems, int runs)
    {
        var path = Path.Combine(outDir, FileName);
        AtomicFile.WriteAllText(path, md.ToString());
        return new ReportResult(path, figures, problems, runs);
    }
}
