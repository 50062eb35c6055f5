using System.CommandLine;
using Rlvr.Data;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr data</c>: read, inspect and subset MATH-style datasets (see docs/data.md).</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var cmd = new Command("data", "Read, inspect and subset MATH-style datasets (JSONL, parquet, verl, MATH folders; bundled:NAME for the bundled sets).");
        cmd.Subcommands.Add(DataStatsCommand.Create());
        cmd.Subcommands.Add(DataPrepareCommand.Create());
        cmd.Subcommands.Add(DataShowCommand.Create());
        cmd.Subcommands.Add(DataSynthCommand.Create());
        return cmd;
    }

    internal const string PathHelp =
        "a .jsonl/.json/.parquet file, a MATH folder (MATH/train), or bundled:train|test|math-full-train|math-full-test|aime2025|amc23";

    /// <summary>How many examples of a list (problems without gold, invalid rows, disagreements) are printed.</summary>
    internal const int Examples = 5;

    internal static Option<string?> FormatOption()
    {
        var option = new Option<string?>("--format")
        {
            Description = "record format: jsonl|hf (problem/solution rows), verl, math-dir, qa (question + answer only); detected from the file when omitted",
        };
        option.AcceptOnlyFromAmong([.. DataFormats.Names.Keys]);
        return option;
    }

    internal static Option<bool> SkipInvalidOption() => new("--skip-invalid")
    {
        Description = "skip malformed records (and report how many and why) instead of stopping at the first",
    };

    internal static LoadResult Load(string path, string? format, bool skipInvalid) =>
        MathDataset.Load(path, format == null ? null : DataFormats.Parse(format), skipInvalid);

    /// <summary>One line of counts, then the first few invalid rows and problems without gold.</summary>
    internal static void PrintLoadSummary(TextWriter w, LoadResult r)
    {
        w.WriteLine($"{r.Path} ({r.Format.Name()}): {r.ProblemCount} problems, {r.Problems.Count} with a gold answer, " +
                    $"{r.WithoutGold.Count} without (excluded), {r.Invalid.Count} invalid records skipped");
        if (r.Invalid.Count > 0)
        {
            w.WriteLine($"invalid records skipped: {r.Invalid.Count}");
            foreach (var row in r.Invalid.Take(Examples)) w.WriteLine($"  {row}");
        }
        if (r.WithoutGold.Count > 0)
        {
            w.WriteLine($"without a gold answer (excluded): {r.WithoutGold.Count}");
            foreach (var p in r.WithoutGold.Take(Examples))
                w.WriteLine($"  {p.Id}: {(p.Solution == null ? "no solution and no answer" : "no \\boxed{} answer in the solution")}");
        }
    }
}
