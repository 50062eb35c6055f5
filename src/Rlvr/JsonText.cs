using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlvr;

/// <summary>JSON text as every stage reads and writes it.</summary>
public static class JsonText
{
    /// <summary>For the JSON rlvr writes (JSONL records, manifests): non-ASCII and LaTeX kept readable.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A file holding one JSON object (a config, a state file); <see cref="InvalidDataException"/> naming the file otherwise.</summary>
    public static JsonObject ReadObject(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed JSON: {e.Message}"); }
        return node as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
    }
}
