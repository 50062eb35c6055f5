using System.CommandLine;
using System.Text.Json.Nodes;
using Rlvr.Model;
using Rlvr.Reporting;
using Rlvr.Training;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr sweep --models A,B --objectives psr,nsr [--seeds 1,2] [train options] --out DIR</c>: trains the
/// grid one run after the other (resumable) and writes the report (docs/reports.md).
/// </summary>
public static class SweepCommand
{
    /// <summary>The list options that replace these single-run train options.</summary>
    static readonly Dictionary<string, string> ReplacedBy = new()
    {
        ["model"] = "--models", ["model_name"] = "--models (each run is named after its model folder)",
        ["objective"] = "--objectives", ["seed"] = "--seeds",
    };

    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Comma-separated model folders or Hub ids (one run per model x objective x seed)", Required = true };
        var objectives = new Option<string>("--objectives") { Description = $"Comma-separated objectives: {string.Join(", ", Objectives.Names)}", Required = true };
        var seeds = new Option<string>("--seeds") { Description = "Comma-separated random seeds", DefaultValueFactory = _ => new TrainConfig().Seed.ToString() };
        var outDir = new Option<string>("--out") { Description = "Sweep folder: sweep.json, runs/MODEL__OBJECTIVE__seedS/, report/ (running the same command again continues it)", Required = true };
        var configFile = new Option<string?>("--config") { Description = "JSON config file with any of the training options below (snake_case or dashed keys; not model, objective, seed, out); flags given here override it" };
        var smooth = new Option<int>("--smooth") { Description = "Report: trailing moving-average window of the pass@1 curves, in evaluations (1 = no smoothing)", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var smoothTrain = new Option<int>("--smooth-train") { Description = "Report: the same for the training curves, in steps", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var jobs = new Option<int>("--jobs") { Description = "Runs trained at once in this process (each with --threads torch threads; on a machine with C cores, jobs x threads = C)", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var cmd = new Command("sweep", "Train every model x objective x seed (one after the other, or --jobs at once; finished runs are skipped, partial ones continued), then write the report.")
        {
            models, objectives, seeds, outDir, configFile, jobs, smooth, smoothTrain,
        };
        // Every train option except --out (the sweep's own); the single-run ones only to reject them clearly.
        var trainOptions = new ConfigOptions<TrainConfig>(cmd, p => TrainConfig.Key(p) != "out");
        var perRun = TrainConfig.Options.Where(p => ReplacedBy.ContainsKey(TrainConfig.Key(p))).ToList();
        trainOptions.Hide(perRun);

        cmd.SetAction(parse =>
        {
            foreach (var p in trainOptions.Given(parse).Where(perRun.Contains))
                throw new CliException($"{TrainConfig.Flag(p)}: a sweep sets it per run; use {ReplacedBy[TrainConfig.Key(p)]} (or 'rlvr train' for a single run)");
            var grid = new SweepGrid(List(parse.GetValue(models)!, "--models"), List(parse.GetValue(objectives)!, "--objectives"),
                List(parse.GetValue(seeds)!, "--seeds").Select(s => int.TryParse(s, out var v) ? v : throw new CliException($"--seeds: '{s}' is not an integer")).ToList());
            var shared = SharedConfig(parse.GetValue(configFile), parse, trainOptions);
            var report = new ReportOptions(parse.GetValue(smooth), parse.GetValue(smoothTrain));
            if (report.Smooth < 1 || report.SmoothTrain < 1) throw new CliException("--smooth and --smooth-train: the window is at least 1 (1 = no smoothing)");
            foreach (var model in grid.Models)
            {
                // Before the first run: a typo in the last model must not surface hours later.
                try { ModelReference.Resolve(model); }
                catch (Exception e) when (e is IOException or ArgumentException) { throw new CliException($"--models: {e.Message}"); }
            }

            SweepResult result;
            RunOutput.CheckOutputFolder("--out", parse.GetValue(outDir)!);
            int parallel = parse.GetValue(jobs);
            // Runs trained at once print plain progress lines: redrawn bars would overwrite each other.
            try { result = Sweep.Run(grid, shared, parse.GetValue(outDir)!, report, Console.Out,
                progress: label => new Rlvr.Generation.ConsoleProgress(label, terminal: parallel > 1 ? false : null), jobs: parallel); }
            catch (ArgumentException e) { throw new CliException(e.Message); }

            foreach (var p in result.Report.Problems) Console.Error.WriteLine($"warning: {p}");
            Console.WriteLine($"wrote {result.Report.ReportPath} and {result.Report.Figures.Count} figure(s) from {result.Report.RunsRead} run(s)"
                + (result.Report.Problems.Count > 0 ? $"; {result.Report.Problems.Count} problem(s) listed in it" : ""));
            if (result.Failures.Count > 0)
                throw new CliException($"{result.Failures.Count} of {result.Runs.Count} run(s) failed: "
                    + string.Join("; ", result.Failures.Select(f => $"{f.Run}: {f.Error}")) + ". Run the same command again to retry them.");
            return 0;
        });
        return cmd;
    }

    /// <summary>The training options every run shares: the config file, then the flags given.</summary>
    static TrainConfig SharedConfig(string? file, ParseResult parse, ConfigOptions<TrainConfig> options)
    {
        TrainConfig config;
        try { config = file is null ? new TrainConfig() : TrainConfig.Load(file); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
        if (file is not null && JsonNode.Parse(File.ReadAllText(file)) is JsonObject obj)
            foreach (var key in obj.Select(kv => kv.Key.Replace('-', '_')).Where(k => Sweep.PerRunOptions.Contains(k)))
                throw new CliException($"{file}: '{key}' is set per run by a sweep; remove it from the file"
                    + (ReplacedBy.TryGetValue(key, out var flag) ? $" and use {flag}" : " (the sweep's --out holds the run folders)"));
        options.Apply(parse, config);
        return config;
    }

    /// <summary>A comma-separated list: items trimmed, empty ones an error.</summary>
    static List<string> List(string text, string option)
    {
        var items = text.Split(',').Select(s => s.Trim()).ToList();
        if (items.Any(s => s.Length == 0)) throw new CliException($"{option}: empty item in '{text}'");
        return items;
    }
}
