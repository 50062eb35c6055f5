using System.CommandLine;
using System.Text.Json.Nodes;
using Rlvr.Data;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr data prepare</c>: each input is subset (stratified, seeded) and written in the canonical
/// JSONL format as <c>OUT/&lt;name&gt;.jsonl</c>, with a manifest <c>OUT/prepare.json</c>.</summary>
public static class DataPrepareCommand
{
    public static Command Create()
    {
        var inputs = new Option<string[]>("--input")
        {
            Description = "datasets to prepare, each written to OUT/<name>.jsonl (name: the file stem, or the bundled name): " + DataCommand.PathHelp,
            HelpName = "PATH",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var ratio = new Option<double?>("--subset") { HelpName = "RATIO", Description = "keep this fraction of each stratum: floor(n x ratio), at least 1 (default 1: everything)" }.Above(0.0, 1.0);
        var size = new Option<int?>("--size") { HelpName = "N", Description = "keep exactly N problems of each input, split over the strata in proportion (instead of --subset)" }.AtLeast(1);
        var stratify = new Option<string>("--stratify") { HelpName = "type|level|type,level", Description = "strata: type, level, or type,level", DefaultValueFactory = _ => "type" };
        var seed = new Option<int>("--seed") { HelpName = "S", Description = "seed of the per-stratum shuffles", DefaultValueFactory = _ => 42 };
        var outDir = new Option<string>("--out") { HelpName = "DIR", Description = "output folder", Required = true };
        var format = DataCommand.FormatOption();
        var skipInvalid = DataCommand.SkipInvalidOption();
        var cmd = new Command("prepare", "Write stratified subsets of datasets in rlvr's canonical JSONL (id, problem, solution, answer = derived gold, level, type, source).")
        {
            inputs, ratio, size, stratify, seed, outDir, format, skipInvalid,
        };
        cmd.SetAction(parse =>
        {
            var paths = parse.GetValue(inputs)!;
            var subsetRatio = parse.GetValue(ratio);
            var subsetSize = parse.GetValue(size);
            if (subsetRatio != null && subsetSize != null) throw new CliException("give --subset or --size, not both");
            var strata = StratifiedSubset.ParseStrata(parse.GetValue(stratify)!);
            var seedValue = parse.GetValue(seed);
            var dir = parse.GetValue(outDir)!;
            Training.RunOutput.CheckOutputFolder("--out", dir);

            var names = paths.Select(MathDataset.NameOf).ToList();
            var clash = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
            if (clash != null)
                throw new CliException($"two inputs would both be written to {Path.Combine(dir, clash.Key + ".jsonl")}; prepare them into different --out folders");

            var manifest = new JsonObject
            {
                ["seed"] = seedValue,
                ["stratify"] = parse.GetValue(stratify),
                ["subset"] = subsetRatio,
                ["size"] = subsetSize,
                ["outputs"] = new JsonObject(),
            };
            for (var i = 0; i < paths.Length; i++)
            {
                var loaded = DataCommand.Load(paths[i], parse.GetValue(format), parse.GetValue(skipInvalid));
                DataCommand.PrintLoadSummary(Console.Out, loaded);
                if (loaded.Problems.Count == 0) throw new CliException($"{paths[i]}: no problems with a gold answer to prepare");
                if (subsetSize > loaded.Problems.Count)
                    throw new CliException($"--size {subsetSize}: {paths[i]} has only {loaded.Problems.Count} problems with a gold answer");
                var subset = subsetSize is { } n
                    ? StratifiedSubset.OfSize(loaded.Problems, n, strata, seedValue)
                    : StratifiedSubset.ByRatio(loaded.Problems, subsetRatio ?? 1.0, strata, seedValue);

                var outPath = Path.Combine(dir, names[i] + ".jsonl");
                using (var output = JsonLines.Create(outPath))
                {
                    foreach (var p in subset.Problems) output.Write(CanonicalFormat.ToJson(p));
                    output.Commit();
                }
                PrintStrata(Console.Out, subset, outPath);
                manifest["outputs"]![names[i] + ".jsonl"] = new JsonObject
                {
                    ["input"] = paths[i],
                    ["format"] = loaded.Format.Name(),
                    ["problems"] = loaded.ProblemCount,
                    ["without_gold"] = loaded.WithoutGold.Count,
                    ["invalid_skipped"] = loaded.Invalid.Count,
                    ["written"] = subset.Problems.Count,
                    ["strata"] = new JsonObject(subset.Strata.Select(s => KeyValuePair.Create(s.Stratum,
                        (JsonNode?)new JsonObject { ["available"] = s.Available, ["taken"] = s.Taken }))),
                };
            }
            var manifestPath = Path.Combine(dir, "prepare.json");
            AtomicFile.WriteAllText(manifestPath, manifest.ToJsonString(new(JsonText.Options) { WriteIndented = true }) + "\n");
            return 0;
        });
        return cmd;
    }

    static void PrintStrata(TextWriter w, Subset subset, string outPath)
    {
        w.WriteLine($"wrote {subset.Problems.Count} problems to {outPath}");
        w.WriteLine($"  {"stratum",-40} {"available",9} {"taken",6}");
        foreach (var s in subset.Strata) w.WriteLine($"  {s.Stratum,-40} {s.Available,9} {s.Taken,6}");
    }
}
