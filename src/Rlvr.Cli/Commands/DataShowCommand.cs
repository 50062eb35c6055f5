using System.CommandLine;
using Rlvr.Data;
using Rlvr.Text;

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
        var prompt = new Option<string?>("--prompt") { Description = "Also print the prompt the model sees with this template: reference, paper, or a file with a {problem} placeholder" };
        var system = new Option<string?>("--system-prompt") { Description = "System prompt replacing the template's (with --prompt)" };
        var model = new Option<string?>("--model") { Description = "Model folder whose chat template and tokenizer render the prompt (default: the bundled Qwen2.5 ones)" };
        var cmd = new Command("show", "Print one problem: its fields, solution and gold answer, and with --prompt the rendered prompt.") { file, id, format, skipInvalid, prompt, system, model };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var wanted = parse.GetValue(id)!;
            var r = DataCommand.Load(path, parse.GetValue(format), parse.GetValue(skipInvalid));
            var p = r.Problems.Concat(r.WithoutGold).FirstOrDefault(p => p.Id == wanted)
                ?? throw new CliException($"{path}: no problem with id '{wanted}' ({r.ProblemCount} problems{IdExamples(r)})");
            Print(Console.Out, p);
            if (parse.GetValue(prompt) is { } template)
            {
                var encoder = PromptEncoder.ForModel(parse.GetValue(model) ?? Assets.QwenTokenizerDir, template, parse.GetValue(system));
                var text = encoder.Render(p.Problem);
                Console.WriteLine();
                Console.WriteLine($"prompt ({template}, {encoder.Tokenizer.Encode(text).Count} tokens):");
                Console.WriteLine(text);
            }
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
