using System.Globalization;
using System.Text;

namespace Rlvr.Reporting;

/// <summary>
/// The one-line console summaries of a training step and an evaluation, e.g.
/// <c>step 12/80 | loss 0.0123 | grad_norm 0.41 | reward 0.44±0.50 | correct 0.44 | kept 64 | len 312 | clipped 0.05 | entropy 0.61 | 35.2s (sample 30.1, grade 0.1, logprobs 1.2, backward 3.5, opt 0.3)</c>.
/// Plain text, so it reads the same in a terminal, a log file or a pipe. Metrics that are absent are left out.
/// </summary>
public static class ConsoleLine
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>(metrics key, label, format) in the order they are printed.</summary>
    static readonly (string Key, string Label, string Format)[] TrainFields =
    [
        ("loss", "loss", "G3"),           // losses span orders of magnitude: significant digits
        ("grad_norm", "grad_norm", "F2"),
        ("reward", "reward", "F2"),       // followed by ±reward_std
        ("correct_ratio", "correct", "F2"),
        ("samples_kept", "kept", "F0"),
        ("completions/mean_length", "len", "F0"),
        ("completions/clipped_ratio", "clipped", "F2"),
        ("entropy", "entropy", "F2"),
    ];

    static readonly (string Key, string Label)[] Timings =
    [
        ("time/sampling", "sample"), ("time/grading", "grade"), ("time/forward", "forward"),
        ("time/backward", "backward"), ("time/optimizer", "opt"),
    ];

    public static string TrainStep(int step, int totalSteps, IReadOnlyDictionary<string, double> m, IReadOnlyDictionary<string, string>? extra = null)
    {
        var parts = new List<string> { $"step {step}/{totalSteps}" };
        foreach (var (key, label, format) in TrainFields)
        {
            if (!m.TryGetValue(key, out var v)) continue;
            var text = $"{label} {v.ToString(format, Inv)}";
            if (key == "reward" && m.TryGetValue("reward_std", out var std)) text += "±" + std.ToString("F2", Inv);
            parts.Add(text);
        }
        var time = new StringBuilder();
        if (m.TryGetValue("time/step", out var total)) time.Append(total.ToString("F1", Inv)).Append('s');
        var split = Timings.Where(t => m.ContainsKey(t.Key)).Select(t => $"{t.Label} {m[t.Key].ToString("F1", Inv)}").ToList();
        if (split.Count > 0) time.Append(time.Length > 0 ? " " : "").Append('(').AppendJoin(", ", split).Append(')');
        if (time.Length > 0) parts.Add(time.ToString());
        if (extra != null && extra.TryGetValue("skipped", out var reason)) parts.Add($"skipped: {reason}");
        return string.Join(" | ", parts);
    }

    /// <summary><c>eval step 10 | pass@1 0.412 ± 0.014 | 1246 problems x 4 samples</c>.</summary>
    public static string Eval(int step, IReadOnlyDictionary<string, double> m)
    {
        var parts = new List<string> { $"eval step {step}" };
        if (m.TryGetValue("pass@1", out var p))
        {
            var text = $"pass@1 {p.ToString("F3", Inv)}";
            if (m.TryGetValue("n_problems", out var n) && n > 0)
                text += " ± " + Accuracy.StandardError(p, (int)n).ToString("F3", Inv);
            parts.Add(text);
        }
        if (m.TryGetValue("n_problems", out var problems))
            parts.Add(m.TryGetValue("n_samples", out var k)
                ? $"{problems.ToString("F0", Inv)} problems x {k.ToString("F0", Inv)} samples"
                : $"{problems.ToString("F0", Inv)} problems");
        return string.Join(" | ", parts);
    }
}
