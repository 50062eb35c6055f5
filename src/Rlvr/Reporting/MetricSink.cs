namespace Rlvr.Reporting;

/// <summary>
/// Where the trainer sends its metrics: one call per step or evaluation goes to metrics.jsonl
/// (flushed per line), to TensorBoard (RUN_DIR/events/) and as one plain line to the console.
/// </summary>
public sealed class MetricSink : IDisposable
{
    readonly MetricsWriter jsonl;
    readonly TensorBoardLog? tensorBoard;
    readonly TextWriter? console;
    readonly int totalSteps;
    readonly string metricsPath;

    /// <param name="runDir">the run folder (created if missing)</param>
    /// <param name="totalSteps">printed as "step i/total"</param>
    /// <param name="console">where step lines go (null: nowhere)</param>
    /// <param name="tensorBoard">false: no event files</param>
    public MetricSink(string runDir, int totalSteps, TextWriter? console, bool tensorBoard = true)
    {
        metricsPath = Path.Combine(runDir, MetricsWriter.FileName);
        jsonl = new MetricsWriter(metricsPath);
        this.tensorBoard = tensorBoard ? new TensorBoardLog(Path.Combine(runDir, TensorBoardLog.FolderName)) : null;
        this.console = console;
        this.totalSteps = totalSteps;
    }

    /// <summary>A training step (step counts from 1, after the update); keys as in docs/run-folder.md. <paramref name="extra"/> holds strings such as <c>skipped</c>.</summary>
    public void Train(int step, IReadOnlyDictionary<string, double> scalars, IReadOnlyDictionary<string, string>? extra = null)
    {
        jsonl.Append("train", step, scalars, extra);
        tensorBoard?.Scalars("train", step, scalars);
        console?.WriteLine(ConsoleLine.TrainStep(step, totalSteps, scalars, extra));
    }

    /// <summary>
    /// An evaluation at <paramref name="step"/> (0 = before training) whose EvalSummary was written to
    /// <paramref name="summaryPath"/> (relative to the run folder, e.g. eval/step_000010.json);
    /// <paramref name="samples"/> (a few) go to TensorBoard's text tab.
    /// </summary>
    public void Eval(int step, double passAt1, int problems, int samplesPerProblem, string summaryPath, IReadOnlyList<EvalSampleText>? samples = null)
    {
        var scalars = new Dictionary<string, double> { ["pass@1"] = passAt1, ["n_problems"] = problems, ["n_samples"] = samplesPerProblem };
        jsonl.Append("eval", step, scalars, new Dictionary<string, string> { ["summary"] = summaryPath });
        tensorBoard?.Scalars("eval", step, scalars);
        if (samples is { Count: > 0 }) tensorBoard?.Text("eval/samples", step, TensorBoardLog.FormatSamples(samples));
        console?.WriteLine(ConsoleLine.Eval(step, scalars));
    }

    /// <summary>Resuming from a checkpoint at <paramref name="step"/>: forgets every metric logged after it (metrics.jsonl and TensorBoard).</summary>
    public void ResumeAt(int step)
    {
        jsonl.TruncateAfter(step);
        tensorBoard?.Rebuild(MetricsReader.Read(metricsPath).Records);
    }

    public void Dispose() => jsonl.Dispose();
}
