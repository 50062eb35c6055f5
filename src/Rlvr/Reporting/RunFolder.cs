using System.Text.Json.Nodes;
using Rlvr.Evaluation;

namespace Rlvr.Reporting;

/// <summary>One evaluation of a run: pass@1 and, when its EvalSummary was found, pass@k.</summary>
public sealed record EvalPoint(int Step, double PassAt1, int? Problems, int? SamplesPerProblem, IReadOnlyDictionary<int, double> PassAtK);

/// <summary>What a report knows about one run folder.</summary>
public sealed record Run(
    string Dir, string Name, string Model, string Objective, int? Seed, int? PlannedSteps, bool Finished,
    IReadOnlyList<MetricRecord> Train, IReadOnlyList<EvalPoint> Evals);

/// <summary>
/// Reads run folders (docs/run-folder.md) for reports. Never throws on a folder's content: what is
/// missing or broken becomes a line in <c>problems</c> and the rest is used.
/// </summary>
public static class RunFolder
{
    public const string UnknownObjective = "unknown";
    public const string UnknownModel = "unknown model";

    /// <summary>
    /// The run folders among <paramref name="paths"/>: a path that is not a run itself (no config.json,
    /// metrics.jsonl or eval/) but has run folders inside, or in its <c>runs/</c> folder (a sweep's output),
    /// stands for those.
    /// </summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> paths)
    {
        var runs = new List<string>();
        foreach (var path in paths)
        {
            List<string> children = [];
            if (Directory.Exists(path) && !LooksLikeRun(path))
            {
                children = RunsIn(path);
                var sweepRuns = Path.Combine(path, "runs");
                if (children.Count == 0 && Directory.Exists(sweepRuns)) children = RunsIn(sweepRuns);
            }
            if (children.Count > 0) runs.AddRange(children); else runs.Add(path);
        }
        return runs;
    }

    static List<string> RunsIn(string dir) => [.. Directory.GetDirectories(dir).Where(LooksLikeRun).Order(StringComparer.Ordinal)];

    /// <summary>A folder with config.json, metrics.jsonl or eval/.</summary>
    public static bool LooksLikeRun(string dir) =>
        File.Exists(new RunLayout(dir).Config) || File.Exists(new RunLayout(dir).Metrics) || Directory.Exists(new RunLayout(dir).Eval);

    /// <summary>Reads <paramref name="dir"/>; null when the folder does not exist. Problems are added as "DIR: what".</summary>
    public static Run? Load(string dir, ICollection<string> problems)
    {
        if (!Directory.Exists(dir)) { problems.Add($"{dir}: folder not found"); return null; }
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        var config = ReadConfig(dir, problems);
        var model = Str(config, "model_name") ?? LastSegment(Str(config, "model")) ?? UnknownModel;
        var objective = Str(config, "objective")?.ToLowerInvariant() ?? UnknownObjective;
        if (config != null && Str(config, "objective") == null) problems.Add($"{dir}: config.json has no \"objective\"; shown as \"{UnknownObjective}\"");

        var records = ReadMetrics(dir, problems);
        var train = LastPerStep(records.Where(r => r.Type == "train"), dir, "train", problems);
        var evals = ReadEvals(dir, LastPerStep(records.Where(r => r.Type == "eval"), dir, "eval", problems), problems);
        if (evals.Count == 0) problems.Add($"{dir}: no evaluation yet; left out of the pass@1 plots and tables");
        if (train.Count == 0 && records.Count > 0) problems.Add($"{dir}: no training step logged yet");

        return new Run(dir, name, model, objective, Int(config, "seed"), Int(config, "steps"),
            File.Exists(new RunLayout(dir).Summary), train, evals);
    }

    static JsonObject? ReadConfig(string dir, ICollection<string> problems)
    {
        var path = new RunLayout(dir).Config;
        if (!File.Exists(path))
        {
            problems.Add($"{dir}: no config.json; objective \"{UnknownObjective}\", model \"{UnknownModel}\"");
            return null;
        }
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path)) is JsonObject obj) return obj;
            problems.Add($"{path}: not a JSON object; objective \"{UnknownObjective}\", model \"{UnknownModel}\"");
        }
        catch (System.Text.Json.JsonException e)
        {
            problems.Add($"{path}: malformed JSON ({e.Message}); objective \"{UnknownObjective}\", model \"{UnknownModel}\"");
        }
        return null;
    }

    static IReadOnlyList<MetricRecord> ReadMetrics(string dir, ICollection<string> problems)
    {
        var path = Path.Combine(dir, MetricsWriter.FileName);
        if (!File.Exists(path)) { problems.Add($"{dir}: no {MetricsWriter.FileName} (the run has not logged anything)"); return []; }
        var log = MetricsReader.Read(path);
        foreach (var p in log.Problems) problems.Add(p);
        return log.Records;
    }

    /// <summary>One record per step, the last one written: a run resumed without truncation logs some steps twice.</summary>
    static List<MetricRecord> LastPerStep(IEnumerable<MetricRecord> records, string dir, string type, ICollection<string> problems)
    {
        var byStep = new SortedDictionary<int, MetricRecord>();
        var repeated = 0;
        foreach (var r in records)
        {
            if (byStep.ContainsKey(r.Step)) repeated++;
            byStep[r.Step] = r;
        }
        if (repeated > 0) problems.Add($"{dir}: {repeated} {type} line(s) repeat an earlier step (resumed without truncation?); the last line of each step is used");
        return [.. byStep.Values];
    }

    /// <summary>
    /// Evaluations from the metrics eval lines and the eval/*.json summaries, one per step. pass@1
    /// comes from the summary when there is one (it also has pass@k), else from the metrics line.
    /// </summary>
    static List<EvalPoint> ReadEvals(string dir, List<MetricRecord> evalLines, ICollection<string> problems)
    {
        var summaries = new SortedDictionary<int, EvalSummary>();
        var evalDir = new RunLayout(dir).Eval;
        if (Directory.Exists(evalDir))
            foreach (var file in Directory.GetFiles(evalDir).Where(f => Path.GetExtension(f) == ".json").Order(StringComparer.Ordinal))
            {
                try { var s = EvalSummary.Load(file); summaries[s.Step] = s; }
                catch (Exception e) when (e is InvalidDataException or IOException) { problems.Add($"{e.Message}; summary ignored"); }
            }

        var points = new SortedDictionary<int, EvalPoint>();
        foreach (var line in evalLines)
        {
            if (summaries.ContainsKey(line.Step)) continue;
            var named = line.Text.GetValueOrDefault("summary");
            problems.Add(named != null
                ? $"{dir}: eval summary {named} (step {line.Step}) missing; pass@1 taken from {MetricsWriter.FileName}, no pass@k"
                : $"{dir}: eval line at step {line.Step} names no summary; pass@1 taken from {MetricsWriter.FileName}, no pass@k");
            if (line.Get("pass@1") is not double p)
            {
                problems.Add($"{dir}/{MetricsWriter.FileName}:{line.Line}: eval line without pass@1; ignored");
                continue;
            }
            points[line.Step] = new EvalPoint(line.Step, p, ToInt(line.Get("n_problems")), ToInt(line.Get("n_samples")), new Dictionary<int, double>());
        }
        foreach (var s in summaries.Values)
        {
            var fromLine = evalLines.FirstOrDefault(l => l.Step == s.Step)?.Get("pass@1");
            var p = s.PassAtK.TryGetValue(1, out var p1) ? p1 : fromLine;
            if (p is not double passAt1) { problems.Add($"{dir}: eval summary at step {s.Step} has no pass@1; ignored"); continue; }
            points[s.Step] = new EvalPoint(s.Step, passAt1, s.NProblems, s.N, s.PassAtK);
        }
        return [.. points.Values];
    }

    static string? Str(JsonObject? obj, string key) =>
        obj?[key] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;

    static int? Int(JsonObject? obj, string key) =>
        obj?[key] is JsonValue v && v.TryGetValue<double>(out var d) ? ToInt(d) : null;

    static int? ToInt(double? d) => d is double x && x == System.Math.Floor(x) && System.Math.Abs(x) < int.MaxValue ? (int)x : null;

    static string? LastSegment(string? model) =>
        model == null ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Replace('\\', '/')));
}
