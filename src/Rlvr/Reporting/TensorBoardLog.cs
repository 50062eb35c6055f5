using System.Globalization;
using System.Text;
using TorchSharp.Modules;
using static TorchSharp.torch.utils;

namespace Rlvr.Reporting;

/// <summary>
/// TensorBoard event files of a run (RUN_DIR/events/), written with TorchSharp's SummaryWriter:
/// the scalars of metrics.jsonl as <c>train/KEY</c> and <c>eval/KEY</c> (TRL's names, e.g.
/// <c>train/completions/mean_length</c>), and eval sample texts as text summaries.
/// metrics.jsonl stays the source of truth: on resume the events are rebuilt from it.
/// </summary>
public sealed class TensorBoardLog
{
    public const string FolderName = RunLayout.EventsFolder;

    readonly string dir;
    SummaryWriter writer;

    public TensorBoardLog(string eventsDir)
    {
        dir = eventsDir;
        Directory.CreateDirectory(dir);
        writer = tensorboard.SummaryWriter(dir);
    }

    /// <summary>Every scalar as <c>{type}/{key}</c> at <paramref name="step"/>.</summary>
    public void Scalars(string type, int step, IReadOnlyDictionary<string, double> scalars)
    {
        foreach (var (key, value) in scalars) writer.add_scalar($"{type}/{key}", (float)value, step);
    }

    public void Text(string tag, int step, string markdown) => writer.add_text(tag, markdown, step);

    /// <summary>
    /// Replaces the event files by the given metrics lines (after <see cref="MetricsWriter.TruncateAfter(int)"/>
    /// on resume), so TensorBoard shows no points from after the checkpoint. Text summaries of
    /// earlier evaluations are not in metrics.jsonl and are not rebuilt.
    /// </summary>
    public void Rebuild(IEnumerable<MetricRecord> records)
    {
        foreach (var file in Directory.GetFiles(dir, "events.out.tfevents.*")) File.Delete(file);
        writer = tensorboard.SummaryWriter(dir);
        foreach (var r in records) Scalars(r.Type, r.Step, r.Scalars);
    }

    /// <summary>Markdown for TensorBoard's text tab: one block per sample, texts as code blocks so LaTeX and newlines show as written.</summary>
    public static string FormatSamples(IEnumerable<EvalSampleText> samples)
    {
        var md = new StringBuilder();
        var i = 0;
        foreach (var s in samples)
        {
            if (i++ > 0) md.Append("\n---\n\n");
            md.Append("**sample ").Append(i).Append("**, reward ").Append(s.Reward.ToString("G4", CultureInfo.InvariantCulture)).Append("\n\n");
            md.Append("problem:\n\n").Append(Indent(s.Problem)).Append("\n\ncompletion:\n\n").Append(Indent(s.Completion)).Append('\n');
        }
        return md.ToString();
    }

    static string Indent(string text) => string.Join("\n", text.Replace("\r\n", "\n").Split('\n').Select(l => "    " + l));
}

/// <summary>One evaluation sample shown in TensorBoard's text tab.</summary>
public sealed record EvalSampleText(string Problem, string Completion, double Reward);
