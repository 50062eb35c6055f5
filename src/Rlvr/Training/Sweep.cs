using System.Text.Json;
using System.Text.Json.Nodes;
using Rlvr.Reporting;

namespace Rlvr.Training;

/// <summary>One run of a sweep: a (model, objective, seed) cell of the grid.</summary>
public sealed record SweepRun(string Model, string Objective, int Seed)
{
    /// <summary>The run's folder name: <c>MODEL__OBJECTIVE__seedSEED</c>.</summary>
    public string Name => $"{Sweep.ModelFolderName(Model)}__{Objective}__seed{Seed}";
}

/// <summary>The grid of a sweep: every model x objective x seed is one run.</summary>
public sealed record SweepGrid(IReadOnlyList<string> Models, IReadOnlyList<string> Objectives, IReadOnlyList<int> Seeds)
{
    /// <summary>The runs in the order they are trained: model, then objective, then seed (the last varies fastest).</summary>
    public IReadOnlyList<SweepRun> Runs()
    {
        void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Models.Count > 0 && Objectives.Count > 0 && Seeds.Count > 0, "a sweep needs at least one model, one objective and one seed");
        Check(Models.Distinct().Count() == Models.Count, $"models: listed twice in {string.Join(",", Models)}");
        Check(Objectives.Distinct().Count() == Objectives.Count, $"objectives: listed twice in {string.Join(",", Objectives)}");
        Check(Seeds.Distinct().Count() == Seeds.Count, $"seeds: listed twice in {string.Join(",", Seeds)}");
        foreach (var clash in Models.GroupBy(Sweep.ModelFolderName).Where(g => g.Count() > 1))
            throw new ArgumentException($"models: {string.Join(" and ", clash)} would share the run folder name '{clash.Key}' (rename a model folder)");
        return [.. from m in Models from o in Objectives from s in Seeds select new SweepRun(m, o, s)];
    }
}

/// <summary>Where a run folder stands.</summary>
public enum RunState
{
    /// <summary>No config.json: the run has not started (it is started).</summary>
    New,
    /// <summary>config.json but no summary.json: stopped before the end (it is continued from its last checkpoint).</summary>
    Partial,
    /// <summary>summary.json: the run finished (it is skipped).</summary>
    Finished,
}

public sealed record SweepFailure(string Run, string Error);

/// <summary>What <see cref="Sweep.Run"/> did: the runs of this invocation, those that failed, and the report.</summary>
public sealed record SweepResult(IReadOnlyList<SweepRun> Runs, IReadOnlyList<SweepFailure> Failures, ReportResult Report);

/// <summary>
/// <c>sweep.json</c>: what a sweep folder was made with. <see cref="Options"/> are the training options
/// shared by every run (the per-run ones, model, model_name, objective, seed, out, are not kept).
/// Models, objectives, seeds and runs accumulate over the invocations that extended the sweep.
/// </summary>
public sealed record SweepManifest(IReadOnlyList<string> Models, IReadOnlyList<string> Objectives, IReadOnlyList<int> Seeds,
    IReadOnlyList<string> Runs, TrainConfig Options)
{
    /// <summary>Options that change how fast a run goes, not what it computes: they may differ between invocations.</summary>
    public static readonly IReadOnlyList<string> ExecutionOptions = ["device", "threads"];

    public static SweepManifest For(SweepGrid grid, TrainConfig shared) =>
        new(grid.Models, grid.Objectives, grid.Seeds, grid.Runs().Select(r => r.Name).ToList(), shared);

    /// <summary>
    /// This manifest extended by a new invocation: the union of its grid and runs (this one's first), and
    /// the new invocation's options. Refused when a training option differs (execution options aside):
    /// runs of one sweep must be comparable.
    /// </summary>
    public SweepManifest Extend(SweepManifest next, string source)
    {
        var ours = SharedOptions(Options);
        var theirs = SharedOptions(next.Options);
        var differ = ours.Select(kv => kv.Key).Union(theirs.Select(kv => kv.Key))
            .Where(k => !ExecutionOptions.Contains(k) && !JsonNode.DeepEquals(ours[k], theirs[k]))
            .Select(k => $"{k}: {Text(ours[k])} there, {Text(theirs[k])} here").ToList();
        if (differ.Count > 0)
            throw new InvalidDataException($"{source}: this sweep folder was made with other training options ({string.Join("; ", differ)}). "
                + "Give the same options to extend or continue it, or choose another --out.");
        return new(Models.Union(next.Models).ToList(), Objectives.Union(next.Objectives).ToList(), Seeds.Union(next.Seeds).ToList(),
            Runs.Union(next.Runs).ToList(), next.Options);
    }

    static string Text(JsonNode? node) => node?.ToJsonString() ?? "absent";

    /// <summary>The options as JSON without the per-run ones (a missing key reads as its default, so manifests of older versions still compare).</summary>
    static JsonObject SharedOptions(TrainConfig options)
    {
        var obj = (JsonObject)JsonNode.Parse(options.ToJson())!;
        foreach (var key in Sweep.PerRunOptions) obj.Remove(key);
        return obj;
    }

    public string ToJson() => new JsonObject
    {
        ["models"] = new JsonArray([.. Models.Select(m => (JsonNode?)m)]),
        ["objectives"] = new JsonArray([.. Objectives.Select(o => (JsonNode?)o)]),
        ["seeds"] = new JsonArray([.. Seeds.Select(s => (JsonNode?)s)]),
        ["runs"] = new JsonArray([.. Runs.Select(r => (JsonNode?)r)]),
        ["options"] = SharedOptions(Options),
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static SweepManifest Load(string path)
    {
        try
        {
            var obj = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
            List<T> List<T>(string key) => obj[key] is JsonArray a
                ? a.Select(x => x is JsonValue v ? v.GetValue<T>() : throw new InvalidDataException($"{path}: \"{key}\" holds {x?.ToJsonString() ?? "null"}")).ToList()
                : throw new InvalidDataException($"{path}: \"{key}\" is not a list");
            var options = obj["options"] as JsonObject ?? throw new InvalidDataException($"{path}: no \"options\" object");
            return new(List<string>("models"), List<string>("objectives"), List<int>("seeds"), List<string>("runs"),
                TrainConfig.FromJson(options.ToJsonString(), path));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: malformed sweep manifest: {e.Message}");
        }
    }
}

/// <summary>
/// <c>rlvr sweep</c>: trains every (model, objective, seed) of a grid one after the other into
/// <c>DIR/runs/NAME/</c> and writes the report of all of them into <c>DIR/report/</c>. Resumable: a
/// finished run is skipped, a partial one continued from its last checkpoint, so running the same
/// command again after an interruption carries on where it stopped.
/// </summary>
public static class Sweep
{
    public const string ManifestFile = "sweep.json";
    public const string RunsFolder = "runs";
    public const string ReportFolder = "report";

    /// <summary>Config keys set per run by the grid (and the run folder), not shared by the runs.</summary>
    public static readonly IReadOnlyList<string> PerRunOptions = ["model", "model_name", "objective", "seed", "out"];

    /// <summary>
    /// The model's part of a run folder name: the folder name of a local model folder, or a Hub id with
    /// "/" replaced by "--" (Qwen/Qwen2.5-0.5B-Instruct -> Qwen--Qwen2.5-0.5B-Instruct, as in the Hub cache);
    /// characters other than letters, digits, '.', '-', '_' become '_'.
    /// </summary>
    public static string ModelFolderName(string model)
    {
        var trimmed = model.TrimEnd('/', '\\');
        var name = !Directory.Exists(trimmed) && LooksLikeHubId(trimmed) ? trimmed.Replace("/", "--") : Path.GetFileName(trimmed);
        return ReportPlots.FileSafe(name);
    }

    /// <summary>org/name (as <see cref="Model.ModelReference"/> reads it): two non-empty parts, not a path like ./x or /x.</summary>
    static bool LooksLikeHubId(string s)
    {
        var parts = s.Split('/');
        return parts.Length == 2 && parts.All(p => p.Length > 0 && p != "." && p != "..");
    }

    public static RunState State(string runDir) =>
        File.Exists(Path.Combine(runDir, Trainer.SummaryFile)) ? RunState.Finished
        : File.Exists(Path.Combine(runDir, Trainer.ConfigFile)) ? RunState.Partial
        : RunState.New;

    /// <summary>The shared options with the run's model, display name, objective, seed and folder.</summary>
    public static TrainConfig RunConfig(TrainConfig shared, SweepRun run, string sweepDir)
    {
        var config = shared.Clone();
        config.Model = run.Model;
        config.ModelName = null;                     // the model's own display name, not one given for another model
        config.ModelName = config.DisplayModelName;
        config.Objective = run.Objective;
        config.Seed = run.Seed;
        config.Out = Path.Combine(sweepDir, RunsFolder, run.Name);
        return config;
    }

    /// <summary>Trains one run: (config, resume, console). <see cref="Trainer.Run"/> unless a test gives another.</summary>
    public delegate void TrainRun(TrainConfig config, bool resume, TextWriter console);

    /// <summary>
    /// Runs the grid into <paramref name="sweepDir"/> and writes the report. A run that throws is recorded
    /// in <see cref="SweepResult.Failures"/> and the next one starts; the report covers every run folder
    /// in <c>DIR/runs/</c> (also those of earlier invocations that extended the sweep). With
    /// <paramref name="jobs"/> &gt; 1 that many runs train at once in this process, each line of theirs
    /// prefixed with the run's name; every run draws only from its own seeded streams, so it computes what it
    /// computes alone (LoRA dropout, which draws from torch's global generator, is refused then).
    /// </summary>
    /// <exception cref="ArgumentException">a bad grid or option (before anything is written)</exception>
    /// <exception cref="InvalidDataException">the folder's sweep.json has other training options</exception>
    public static SweepResult Run(SweepGrid grid, TrainConfig shared, string sweepDir, ReportOptions report, TextWriter console, TrainRun? train = null,
        Func<string, IProgress<Generation.GenerationProgress>?>? progress = null, int jobs = 1)
    {
        if (jobs < 1) throw new ArgumentException("jobs: at least 1");
        if (jobs > 1 && shared.LoraRank > 0 && shared.LoraDropout > 0)
            throw new ArgumentException("jobs: LoRA dropout draws from torch's global generator, so runs trained at once would not be reproducible; use jobs 1 or lora_dropout 0");
        report.Validate();
        var runs = grid.Runs();
        var configs = runs.Select(r => RunConfig(shared, r, sweepDir)).ToList();
        foreach (var c in configs) c.Validate();

        var manifestPath = Path.Combine(sweepDir, ManifestFile);
        var manifest = SweepManifest.For(grid, shared);
        if (File.Exists(manifestPath)) manifest = SweepManifest.Load(manifestPath).Extend(manifest, manifestPath);
        AtomicFile.WriteAllText(manifestPath, manifest.ToJson());

        console = TextWriter.Synchronized(console);
        var failures = new List<(int Index, SweepFailure Failure)>();
        void Train(int i)
        {
            var config = configs[i];
            var state = State(config.Out);
            var head = $"[{i + 1}/{runs.Count}] {runs[i].Name}";
            console.WriteLine(state switch
            {
                RunState.Finished => $"{head}: skip (finished)",
                RunState.Partial => $"{head}: continue (from its last checkpoint)",
                _ => $"{head}: start",
            });
            if (state == RunState.Finished) return;
            var prefixed = jobs > 1 ? new LinePrefixWriter(console, $"{runs[i].Name}: ") : null;
            var runConsole = prefixed ?? console;
            var runProgress = jobs > 1 && progress != null ? label => progress($"{runs[i].Name}: {label}") : progress;
            try
            {
                if (train != null) train(config, resume: state == RunState.Partial, runConsole);
                else Trainer.Run(config, state == RunState.Partial, runConsole, runProgress);
            }
            catch (Exception e)
            {
                // One broken run (out of memory, a diverged update, a bad model file) must not cost the rest of the grid.
                lock (failures) failures.Add((i, new SweepFailure(runs[i].Name, e.Message)));
                console.WriteLine($"{head}: failed: {e.GetType().Name}: {e.Message}");
            }
            finally { prefixed?.Dispose(); }
        }
        if (jobs == 1) for (int i = 0; i < runs.Count; i++) Train(i);
        else Parallel.For(0, runs.Count, new ParallelOptions { MaxDegreeOfParallelism = jobs }, Train);
        var written = Report.Write([Path.Combine(sweepDir, RunsFolder)], Path.Combine(sweepDir, ReportFolder), report);
        return new SweepResult(runs, [.. failures.OrderBy(f => f.Index).Select(f => f.Failure)], written);
    }
}

/// <summary>Writes whole lines to another writer, each after a prefix (the lines of runs trained at once stay readable).</summary>
sealed class LinePrefixWriter(TextWriter inner, string prefix) : TextWriter
{
    readonly System.Text.StringBuilder line = new();
    public override System.Text.Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        if (value == '\n') { inner.WriteLine(prefix + line.ToString().TrimEnd('\r')); line.Clear(); }
        else line.Append(value);
    }

    public override void Flush() => inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing && line.Length > 0) { inner.WriteLine(prefix + line); line.Clear(); }
        base.Dispose(disposing);
    }
}
