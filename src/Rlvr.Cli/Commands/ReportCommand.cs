using System.CommandLine;
using Rlvr.Reporting;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr report RUN_DIR... --out DIR</c>: plots and a markdown report comparing training runs (docs/reports.md).</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("RUN_DIR")
        {
            Description = "Run folders written by 'rlvr train' (or folders holding run folders, e.g. a sweep's output).",
            Arity = ArgumentArity.OneOrMore,
        };
        var outDir = new Option<string>("--out") { Description = "Folder for report.md and the PNG figures (created).", Required = true };
        var smooth = new Option<int>("--smooth")
        {
            Description = "Trailing moving-average window for the pass@1 curves, in evaluations (1 = no smoothing).",
            DefaultValueFactory = _ => 2,
        }.AtLeast(1);
        var smoothTrain = new Option<int>("--smooth-train")
        {
            Description = "Trailing moving-average window for the training curves (reward, entropy, ...), in steps (1 = no smoothing).",
            DefaultValueFactory = _ => 10,
        }.AtLeast(1);
        var cmd = new Command("report", "Plot and tabulate training runs: pass@1 during training, final pass@1, pass@k, training curves, into report.md with PNGs.")
        {
            runs, outDir, smooth, smoothTrain,
        };
        cmd.SetAction(parse =>
        {
            var options = new ReportOptions(parse.GetValue(smooth), parse.GetValue(smoothTrain));
            // Nothing is written unless at least one run can be read.
            var given = parse.GetValue(runs)!;
            if (!RunFolder.Expand(given).Any(d => Directory.Exists(d) && RunFolder.LooksLikeRun(d)))
                throw new CliException($"no run folder could be read in {string.Join(", ", given)} (a run folder holds config.json, metrics.jsonl or eval/)");
            Training.RunOutput.CheckOutputFolder("--out", parse.GetValue(outDir)!);
            var result = Report.Write(given, parse.GetValue(outDir)!, options);
            foreach (var p in result.Problems) Console.Error.WriteLine($"warning: {p}");
            Console.WriteLine($"wrote {result.ReportPath} and {result.Figures.Count} figure(s) from {result.RunsRead} run(s)"
                + (result.Problems.Count > 0 ? $"; {result.Problems.Count} problem(s) listed in it" : ""));
            return 0;
        });
        return cmd;
    }
}
