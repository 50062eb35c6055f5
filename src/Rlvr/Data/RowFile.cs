using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Serialization;

namespace Rlvr.Data;

/// <summary>One record of a data file before it is interpreted: where it is, its number (JSONL line, 1-based
/// row or item), and its fields, or why it could not be read.</summary>
internal sealed record SourceRow(string Location, long Number, JsonObject? Fields, string? Error);

/// <summary>The records of one file as JSON objects, whatever the container: JSON Lines, a JSON array or a
/// single JSON object, or parquet (nested structs and lists become JSON objects and arrays).</summary>
internal sealed record RowFile(IReadOnlyList<string> Columns, IReadOnlyList<SourceRow> Rows)
{
    public static RowFile Read(string path) =>
        System.IO.Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase) ? ReadParquet(path) : ReadJson(path);

    static RowFile ReadJson(string path)
    {
        var text = ReadUtf8(path);
        var first = text.AsSpan().TrimStart();
        if (first.Length > 0 && first[0] == '[') return ReadJsonArray(path, text);
        // A .json file may hold one (pretty-printed) object, as the MATH release's files do; HuggingFace's
        // .json exports are usually JSON Lines, which do not parse as one object and fall through.
        if (System.IO.Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase)
            && first.Length > 0 && first[0] == '{' && TryParseObject(text) is { } single)
            return new RowFile([.. single.Select(kv => kv.Key)], [new SourceRow($"{path}:1", 1, single, null)]);
        return ReadJsonLines(path, text);
    }

    static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The file as UTF-8 text; invalid bytes are an error naming the line, not silently replaced.</summary>
    internal static string ReadUtf8(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var start = bytes.AsSpan().StartsWith(new byte[] { 0xEF, 0xBB, 0xBF }) ? 3 : 0;
        try { return StrictUtf8.GetString(bytes, start, bytes.Length - start); }
        catch (System.Text.DecoderFallbackException)
        {
            int line = 1, lineStart = start;
            for (int i = start; i <= bytes.Length; i++)
            {
                if (i < bytes.Length && bytes[i] != (byte)'\n') continue;
                try { StrictUtf8.GetString(bytes, lineStart, i - lineStart); }
                catch (System.Text.DecoderFallbackException) { break; }
                line++;
                lineStart = i + 1;
            }
            throw new InvalidDataException($"{path}:{line}: not valid UTF-8 text");
        }
    }

    static JsonObject? TryParseObject(string text)
    {
        try { return JsonNode.Parse(text) as JsonObject; }
        catch (JsonException) { return null; }
    }

    static RowFile ReadJsonLines(string path, string text)
    {
        var rows = new List<SourceRow>();
        using var reader = new StringReader(text);
        string? line;
        for (var number = 1; (line = reader.ReadLine()) != null; number++)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var location = $"{path}:{number}";
            try
            {
                rows.Add(JsonNode.Parse(line) is JsonObject obj
                    ? new SourceRow(location, number, obj, null)
                    : new SourceRow(location, number, null, "expected a JSON object"));
            }
            catch (JsonException e) { rows.Add(new SourceRow(location, number, null, $"malformed JSON: {e.Message}")); }
        }
        return new RowFile(ColumnsOfFirst(rows), rows);
    }

    static RowFile ReadJsonArray(string path, string text)
    {
        JsonArray array;
        try { array = JsonNode.Parse(text)!.AsArray(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: malformed JSON array: {e.Message}");
        }
        var rows = new List<SourceRow>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            var location = $"{path}: item {i + 1}";
            rows.Add(array[i] is JsonObject obj
                ? new SourceRow(location, i + 1, obj, null)
                : new SourceRow(location, i + 1, null, "expected a JSON object"));
        }
        return new RowFile(ColumnsOfFirst(rows), rows);
    }

    static IReadOnlyList<string> ColumnsOfFirst(List<SourceRow> rows) =>
        rows.FirstOrDefault(r => r.Fields != null)?.Fields!.Select(kv => kv.Key).ToList() ?? [];

    static RowFile ReadParquet(string path)
    {
        DeserializationResult<Dictionary<string, object>> table;
        using (var probe = File.OpenRead(path))
        {
            Span<byte> magic = stackalloc byte[4];
            if (probe.Length < 12 || probe.Read(magic) < 4 || !magic.SequenceEqual("PAR1"u8))
                throw new InvalidDataException($"{path}: not a parquet file (it does not start with the PAR1 magic bytes); JSONL files need a .jsonl extension");
        }
        try
        {
            using var stream = File.OpenRead(path);
            table = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not FileNotFoundException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: not a readable parquet file: {e.Message}", e);
        }
        var rows = new List<SourceRow>(table.Data.Count);
        for (var i = 0; i < table.Data.Count; i++)
        {
            rows.Add(new SourceRow($"{path}: row {i + 1}", i + 1, (JsonObject)ToJson(table.Data[i])!, null));
        }
        return new RowFile([.. table.Schema.Fields.Select(f => f.Name)], rows);
    }

    /// <summary>A parquet value (as Parquet.Net's untyped reader gives it) as JSON.</summary>
    static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        long or int or short or sbyte or byte or ushort or uint or ulong => JsonValue.Create(Convert.ToInt64(value)),
        double or float or decimal => JsonValue.Create(Convert.ToDouble(value)),
        IDictionary<string, object> dict => new JsonObject(dict.Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value)))),
        IEnumerable list => new JsonArray([.. list.Cast<object?>().Select(ToJson)]),
        _ => JsonValue.Create(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)),
    };
}
