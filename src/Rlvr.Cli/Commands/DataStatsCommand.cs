using System.CommandLine;
using System.Text.RegularExpressions;
using Rlvr.Data;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr data stats FILE...</c>: counts by type and level, problems without gold, answer-field
/// disagreements, and length statistics of each dataset.</summary>
public static class DataStatsCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("files") { Description = DataCommand.PathHelp, Arity = ArgumentArity.OneOrMore };
        var format = DataCommand.FormatOption();
        var skipInvalid = DataCommand.SkipInvalidOption();
        var model = new Option<string?>("--model") { Description = "Also give lengths in tokens with this model folder's tokenizer (problem, solution, and the prompt as the model sees it)" };
        var prompt = new Option<string>("--prompt") { Description = "Prompt template for the prompt length in tokens (with --model): reference, paper or a file", DefaultValueFactory = _ => "reference" };
        var cmd = new Command("stats", "Counts by type and level, problems without a gold answer, answer-field disagreements, lengths.")
        {
            files, format, skipInvalid, model, prompt,
        };
        cmd.SetAction(parse =>
        {
            var first = true;
            foreach (var file in parse.GetValue(files)!)
            {
                if (!first) Console.WriteLine();
                first = false;
                var r = DataCommand.Load(file, parse.GetValue(format), parse.GetValue(skipInvalid));
                Print(Console.Out, r);
                if (parse.GetValue(model) is { } dir) PrintTokenLengths(Console.Out, r, PromptEncoder.ForModel(dir, parse.GetValue(prompt)!));
            }
            return 0;
        });
        return cmd;
    }

    static void Print(TextWriter w, LoadResult r)
    {
        DataCommand.PrintLoadSummary(w, r);
        if (r.Disagreements.Count > 0)
        {
            w.WriteLine($"answer field differs from the gold derived from the solution: {r.Disagreements.Count}");
            foreach (var d in r.Disagreements.Take(DataCommand.Examples))
                w.WriteLine($"  {d.Id}: answer field \"{d.Given}\", last box \"{d.Derived}\"");
        }
        var severalBoxes = r.Problems.Count(p => p.Solution != null && BoxCommand.Count(p.Solution) > 1);
        if (severalBoxes > 0)
            w.WriteLine($"solutions with more than one box (the gold is the last): {severalBoxes}");
        PrintCounts(w, "by type (problems with gold)", r.Problems.Select(p => p.Type ?? "(no type)"));
        PrintCounts(w, "by level (problems with gold)", r.Problems.Select(p => p.Level ?? "(no level)"));
        w.WriteLine($"{"length in characters",-32} {"mean",8} {"median",7} {"p90",7} {"max",7}");
        PrintLengths(w, "problem", r.Problems.Select(p => p.Problem.Length));
        if (r.Problems.Any(p => p.Solution != null))
            PrintLengths(w, "solution", r.Problems.Where(p => p.Solution != null).Select(p => p.Solution!.Length));
        PrintLengths(w, "gold answer", r.Problems.Select(p => p.Gold!.Length));
    }

    static void PrintTokenLengths(TextWriter w, LoadResult r, PromptEncoder encoder)
    {
        w.WriteLine($"{"length in tokens",-32} {"mean",8} {"median",7} {"p90",7} {"max",7}");
        PrintLengths(w, "problem", r.Problems.Select(p => encoder.Tokenizer.Encode(p.Problem).Count));
        if (r.Problems.Any(p => p.Solution != null))
            PrintLengths(w, "solution", r.Problems.Where(p => p.Solution != null).Select(p => encoder.Tokenizer.Encode(p.Solution!).Count));
        PrintLengths(w, "prompt (chat template)", r.Problems.Select(p => encoder.Encode(p.Problem).Length));
    }

    /// <summary>\boxed or \fbox commands in a text: a solution with several boxes may have an answer the last box
    /// alone does not hold ("x = -3/2 and x = -3/4").</summary>
    static readonly Regex BoxCommand = new(@"\\(boxed|fbox)(?![A-Za-z])", RegexOptions.Compiled);

    static void PrintCounts(TextWriter w, string title, IEnumerable<string> keys)
    {
        var counts = keys.CountBy(k => k).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var total = counts.Sum(kv => kv.Value);
        w.WriteLine($"{title}:");
        foreach (var (key, n) in counts) w.WriteLine($"  {key,-30} {n,6} {100.0 * n / total,6:0.0}%");
    }

    static void PrintLengths(TextWriter w, string what, IEnumerable<int> lengths)
    {
        var s = LengthSummary.Of(lengths);
        w.WriteLine($"  {what,-30} {s.Mean,8:0.0} {s.Median,7} {s.P90,7} {s.Max,7}");
    }
}
