using System.Text.Json;

namespace Rlvr.Reporting;

/// <summary>One line of metrics.jsonl: its kind ("train" or "eval"), step, numbers and strings.</summary>
public sealed record MetricRecord(
    int Line, string Type, int Step,
    IReadOnlyDictionary<string, double> Scalars,
    IReadOnlyDictionary<string, string> Text)
{
    public double? Get(string key) => Scalars.TryGetValue(key, out var v) ? v : null;
}

/// <summary>What could be read from a metrics.jsonl, and what was wrong with the rest (file:line messages).</summary>
public sealed record MetricsLog(IReadOnlyList<MetricRecord> Records, IReadOnlyList<string> Problems);

/// <summary>
/// Reads metrics.jsonl without ever failing on its content: a malformed line, a line without
/// type/step, or a last line cut short by a crash is skipped and named in <see cref="MetricsLog.Problems"/>.
/// </summary>
public static class MetricsReader
{
    public static MetricsLog Read(string path)
    {
        var records = new List<MetricRecord>();
        var problems = new List<string>();
        var lines = File.ReadAllText(path).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            var lineNumber = i + 1;
            var isLast = i == lines.Length - 1; // text after the last newline: the line being written
            var record = Parse(lines[i], lineNumber, out var error);
            if (record != null) records.Add(record);
            else if (isLast && error == "malformed JSON")
                problems.Add($"{path}:{lineNumber}: last line is truncated (the run was interrupted while writing it); ignored");
            else
                problems.Add($"{path}:{lineNumber}: {error}; line skipped");
        }
        return new MetricsLog(records, problems);
    }

    static MetricRecord? Parse(string line, int lineNumber, out string error)
    {
        error = "";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException) { error = "malformed JSON"; return null; }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) { error = "not a JSON object"; return null; }
            if (!root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            { error = "no \"type\""; return null; }
            if (!root.TryGetProperty("step", out var stepElement) || !stepElement.TryGetInt32(out var step))
            { error = "no integer \"step\""; return null; }
            var scalars = new Dictionary<string, double>();
            var text = new Dictionary<string, string>();
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name is "type" or "step") continue;
                switch (p.Value.ValueKind)
                {
                    case JsonValueKind.Number: scalars[p.Name] = p.Value.GetDouble(); break;
                    case JsonValueKind.String when NonFinite(p.Value.GetString()!) is double v: scalars[p.Name] = v; break;
                    case JsonValueKind.String: text[p.Name] = p.Value.GetString()!; break;
                    default: text[p.Name] = p.Value.GetRawText(); break;
                }
            }
            return new MetricRecord(lineNumber, type.GetString()!, step, scalars, text);
        }
    }

    /// <summary>The strings <see cref="MetricsWriter"/> writes for non-finite numbers.</summary>
    static double? NonFinite(string s) => s switch
    {
        "NaN" => double.NaN,
        "Infinity" => double.PositiveInfinity,
        "-Infinity" => double.NegativeInfinity,
        _ => null,
    };
}
