using System.CommandLine;
using Rlvr.Data;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr data show FILE --id ID</c>: one problem as rlvr reads it, with its gold answer.</summary>
public static class DataShowCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = DataCommand.PathHelp };
        var id = new Option<string>("--id") { HelpName = "ID", Description = "the problem's id (as `rlvr data prepare` writes it, e.g. train-12 or algebra/1)", Required = true };
        var format = DataCommand.FormatOption();
        var skipInvalid = DataCommand.SkipInvalidOption();
        var cmd = new Command("show", "Print one problem: its fields, solution and gold answer.") { file, id, format, skipInvalid };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var wanted = parse.GetValue(id)!;
            var r = DataCommand.Load(path, parse.GetValue(format), parse.GetValue(skipInvalid));
            var p = r.Problems.Concat(r.WithoutGold).FirstOrDefault(p => p.Id == wanted)
                ?? throw new CliException($"{path}: no problem with id '{wanted}' ({r.ProblemCount} problems{IdExamples(r)})");
            Print(Console.Out, p);
            return 0;
        });
        return cmd;
    }

    static string IdExamples(LoadResult r)
    {
        var ids = r.Problems.Concat(r.WithoutGold).Take(3).Select(p => p.Id).ToList();
        return ids.Count == 0 ? "" : $"; ids look like {string.Join(", ", ids)}";
    }

    static void Print(TextWriter w, MathProblem p)
    {
        w.WriteLine($"id: {p.Id}");
        w.WriteLine($"source: {p.Source}");
        w.WriteLine($"type: {p.Type ?? "(none)"}");
        w.WriteLine($"level: {p.Level ?? "(none)"}");
        w.WriteLine(p.Gold != null
            ? $"gold: {p.Gold}"
            : "gold: none (no extractable answer): excluded from training and evaluation");
        if (p.GivenAnswer != null) w.WriteLine($"answer field: {p.GivenAnswer}");
        w.WriteLine();
        w.WriteLine("problem:");
        w.WriteLine(p.Problem);
        if (p.Solution != null)
        {
            w.WriteLine();
            w.WriteLine("solution:");
            w.WriteLine(p.Solution);
        }
    }
}
