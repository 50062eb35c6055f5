using System.CommandLine;
using Rlvr.Data;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr data synth</c>: synthetic MATH-format problems (train.jsonl, test.jsonl) for the embedded demo
/// and for tests; see <see cref="SyntheticMath"/> and docs/demo.md.</summary>
public static class DataSynthCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { HelpName = "DIR", Description = "output folder for train.jsonl and test.jsonl", Required = true };
        var train = new Option<int>("--train") { HelpName = "N", Description = "training problems", DefaultValueFactory = _ => 20000 };
        var test = new Option<int>("--test") { HelpName = "N", Description = "test problems (none of their texts is in the training split)", DefaultValueFactory = _ => 500 };
        var seed = new Option<int>("--seed") { HelpName = "S", Description = "random seed: the same seed and sizes give the same files", DefaultValueFactory = _ => 1 };
        var families = new Option<string?>("--families")
        {
            HelpName = "A,B,...",
            Description = $"comma-separated problem families (default: all: {string.Join(", ", SyntheticMath.Families)})",
        };
        var cmd = new Command("synth", "Write synthetic MATH-format problems (LaTeX problem, worked solution ending in \\boxed{}, type = family, level 1-5) as train.jsonl and test.jsonl.")
        {
            outDir, train, test, seed, families,
        };
        cmd.SetAction(parse =>
        {
            int trainSize = parse.GetValue(train), testSize = parse.GetValue(test);
            if (trainSize < 1) throw new CliException($"--train {trainSize}: must be at least 1");
            if (testSize < 1) throw new CliException($"--test {testSize}: must be at least 1");
            var names = parse.GetValue(families)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> Test) data;
            try { data = SyntheticMath.Generate(new SyntheticOptions(trainSize, testSize, parse.GetValue(seed), names)); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { throw new CliException(e.Message); }
            var dir = parse.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            foreach (var (name, rows) in new[] { ("test", data.Test), ("train", data.Train) })
            {
                var path = Path.Combine(dir, name + ".jsonl");
                using (var output = JsonLines.Create(path))
                {
                    foreach (var p in rows) output.Write(CanonicalFormat.ToJson(p));
                    output.Commit();
                }
                Console.WriteLine($"wrote {rows.Count} problems to {path}");
            }
            return 0;
        });
        return cmd;
    }
}
