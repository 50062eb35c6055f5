namespace Rlvr.Reporting;

/// <summary>
/// The names inside a run folder (docs/run-folder.md), in one place: the trainer writes them, reports,
/// sweeps and resumes read them.
/// </summary>
public sealed record RunLayout(string Dir)
{
    public const string ConfigFile = "config.json";
    public const string OverridesFile = "overrides.jsonl";
    public const string MetricsFile = "metrics.jsonl";
    public const string SamplesFile = "samples.jsonl";
    public const string SummaryFile = "summary.json";
    public const string EventsFolder = "events";
    public const string EvalFolder = "eval";
    public const string CheckpointsFolder = "checkpoints";

    /// <summary>"step_000080": the name of a step's evaluation files and checkpoint folder.</summary>
    public static string StepName(int step) => $"step_{step:D6}";

    /// <summary>eval/step_NNNNNN.json relative to the run folder (as metrics.jsonl's eval lines name it).</summary>
    public static string EvalSummaryRelative(int step) => Path.Combine(EvalFolder, StepName(step) + ".json");

    public string Config => Path.Combine(Dir, ConfigFile);
    public string Overrides => Path.Combine(Dir, OverridesFile);
    public string Metrics => Path.Combine(Dir, MetricsFile);
    public string Samples => Path.Combine(Dir, SamplesFile);
    public string Summary => Path.Combine(Dir, SummaryFile);
    public string Events => Path.Combine(Dir, EventsFolder);
    public string Eval => Path.Combine(Dir, EvalFolder);
    public string Checkpoints => Path.Combine(Dir, CheckpointsFolder);
    public string EvalSummary(int step) => Path.Combine(Dir, EvalSummaryRelative(step));
    public string EvalSamples(int step) => Path.Combine(Eval, StepName(step) + ".samples.jsonl");
    public string Checkpoint(int step) => Path.Combine(Checkpoints, StepName(step));
}
