using System.Buffers;
using System.Text.Json;

namespace Rlvr.Reporting;

/// <summary>
/// Appends one JSON object per line to a run's <c>metrics.jsonl</c> (format: docs/run-folder.md).
/// Every line is written in one call and flushed to disk before <see cref="Append"/> returns, so a
/// crash loses at most the line being written. Non-finite numbers (a NaN loss, an infinite gradient
/// norm) have no JSON literal: they are written as the strings "NaN", "Infinity", "-Infinity", which
/// <see cref="MetricsReader"/> reads back as numbers.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    public const string FileName = RunLayout.MetricsFile;

    readonly string path;
    FileStream stream;

    /// <summary>Opens <paramref name="path"/> for appending (creating it and its folder). A half-written last line left by a crash is cut off first, so the next line starts on a line of its own.</summary>
    public MetricsWriter(string path)
    {
        this.path = path;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        RepairLastLine(path);
        stream = OpenForAppend(path);
    }

    /// <summary>Writes <c>{"type":..., "step":..., scalars..., extra...}</c> as one line and flushes it to disk.</summary>
    public void Append(string type, int step, IReadOnlyDictionary<string, double> scalars, IReadOnlyDictionary<string, string>? extra = null)
    {
        stream.Write(FormatLine(type, step, scalars, extra));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// For resuming from a checkpoint at <paramref name="step"/>: drops every line with a larger step
    /// (logged after the checkpoint by the interrupted run), rewriting the file atomically. Returns the
    /// number of lines dropped.
    /// </summary>
    public int TruncateAfter(int step)
    {
        stream.Dispose();
        try { return TruncateAfter(path, step); }
        finally { stream = OpenForAppend(path); }
    }

    /// <summary>
    /// Keeps the lines of a JSON Lines file whose <c>"step"</c> is at most <paramref name="step"/>
    /// (byte for byte, in order) and drops the others and a partial last line; the file is replaced
    /// atomically. Works for any step-keyed JSONL of the run folder (metrics.jsonl, samples.jsonl).
    /// A complete line that is not a JSON object with an integer step is an error naming file:line.
    /// </summary>
    public static int TruncateAfter(string path, int step)
    {
        if (!File.Exists(path)) return 0;
        var lines = File.ReadAllText(path).Split('\n');
        // Split leaves the text after the last '\n' as the last element: empty, a complete object
        // whose newline is missing, or a line a crash cut short (dropped).
        var kept = new System.Text.StringBuilder();
        var dropped = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            if (i == lines.Length - 1 && !IsJsonObject(lines[i])) { dropped++; continue; }
            if (StepOf(lines[i], path, i + 1) <= step) kept.Append(lines[i]).Append('\n');
            else dropped++;
        }
        AtomicFile.WriteAllText(path, kept.ToString());
        return dropped;
    }

    public void Dispose() => stream.Dispose();

    internal static byte[] FormatLine(string type, int step, IReadOnlyDictionary<string, double> scalars, IReadOnlyDictionary<string, string>? extra)
    {
        if (string.IsNullOrEmpty(type)) throw new ArgumentException("metrics line type is empty", nameof(type));
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteNumber("step", step);
            var seen = new HashSet<string> { "type", "step" };
            foreach (var (key, value) in scalars)
            {
                if (!seen.Add(key)) throw new ArgumentException($"metrics key '{key}' given twice (or reserved)", nameof(scalars));
                if (double.IsFinite(value)) json.WriteNumber(key, value);
                else json.WriteString(key, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
            }
            foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            {
                if (!seen.Add(key)) throw new ArgumentException($"metrics key '{key}' given twice (or reserved)", nameof(extra));
                json.WriteString(key, value);
            }
            json.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    static int StepOf(string line, string path, int lineNumber)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("step", out var s) && s.TryGetInt32(out var step))
                return step;
        }
        catch (JsonException) { }
        throw new InvalidDataException($"{path}:{lineNumber}: not a JSON object with an integer \"step\"");
    }

    static FileStream OpenForAppend(string path) => new(path, FileMode.Append, FileAccess.Write, FileShare.Read);

    /// <summary>
    /// Repairs the end of the file before appending: a last line without its newline is either a
    /// complete object (the newline gets added) or what a crash left half-written (it is cut off).
    /// Works on bytes: a crash can also split a multi-byte character.
    /// </summary>
    static void RepairLastLine(string path)
    {
        if (!File.Exists(path)) return;
        var bytes = File.ReadAllBytes(path);
        var tailStart = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (tailStart == bytes.Length) return;
        var tail = System.Text.Encoding.UTF8.GetString(bytes, tailStart, bytes.Length - tailStart);
        if (tail.Trim().Length == 0) return;
        if (IsJsonObject(tail)) File.AppendAllText(path, "\n");
        else using (var f = new FileStream(path, FileMode.Open, FileAccess.Write)) f.SetLength(tailStart);
    }

    internal static bool IsJsonObject(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException) { return false; }
    }
}
