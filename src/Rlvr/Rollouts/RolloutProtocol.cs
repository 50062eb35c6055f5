using System.Text.Json.Nodes;
using Rlvr.Generation;

namespace Rlvr.Rollouts;

/// <summary>The samples of one prompt as a server returned them: exact token ids, their log-probs, why each ended.</summary>
public sealed record ServerSample(int[] TokenIds, float[] LogProbs, FinishReason FinishReason);

/// <summary>What a generation request asks for, as <c>rlvr serve</c> reads it: prompts (token ids), n per prompt, sampling,
/// the request's seed (null = the server picks one), whether log-probs and token ids come back.</summary>
public sealed record GenerationRequest(IReadOnlyList<IReadOnlyList<int>> Prompts, int N, SamplingParams Sampling, ulong? Seed,
    bool LogProbs, bool TokensAsIds, bool SkipSpecialTokens);

/// <summary>
/// One inference server protocol, both sides: the body rlvr sends and the samples it reads back (client), and the
/// request it accepts and the body it answers (<c>rlvr serve</c>). Shapes follow the engines' documentation
/// (docs/scale-out.md); the contract tests hold recorded bodies of both engines against this code.
/// </summary>
public abstract class RolloutProtocol
{
    public abstract string Name { get; }
    /// <summary>The generation endpoint's path.</summary>
    public abstract string GeneratePath { get; }

    /// <summary>The request body for n samples of one prompt; <paramref name="stopIds"/> end a completion (kept as its last id).</summary>
    public abstract JsonObject Request(string model, IReadOnlyList<int> prompt, int n, SamplingParams p, ulong seed, IReadOnlyList<int> stopIds);

    /// <summary>The n samples in a response body; <see cref="InvalidDataException"/> naming the field that does not fit.</summary>
    public abstract IReadOnlyList<ServerSample> Samples(JsonNode? body, int n);

    /// <summary>Server side: a request body as prompts and sampling; <paramref name="encode"/> tokenizes text prompts.
    /// <see cref="ArgumentException"/> naming the field for a bad request.</summary>
    public abstract GenerationRequest ParseRequest(JsonObject body, Func<string, int[]> encode);

    /// <summary>Server side: the response body for completions ordered by (prompt, sample); <paramref name="decode"/> renders text.</summary>
    public abstract JsonNode Response(GenerationRequest request, IReadOnlyList<Completion> completions, string model,
        Func<IReadOnlyList<int>, bool, string> decode);

    public static RolloutProtocol Parse(string name) => name switch
    {
        "vllm" or "openai" => VllmProtocol.Instance,
        "sglang" => SglangProtocol.Instance,
        _ => throw new ArgumentException($"rollout protocol '{name}' is not vllm or sglang"),
    };

    /// <summary>Top-k as both engines write "off": -1 (rlvr's 0).</summary>
    protected static int EngineTopK(int topK) => topK > 0 ? topK : -1;

    protected static int RlvrTopK(int? topK) => topK is > 0 ? topK.Value : 0;

    protected static FinishReason Finish(string? reason, string where) => reason switch
    {
        "stop" => FinishReason.Stop,
        "length" => FinishReason.Length,
        _ => throw new InvalidDataException($"{where}: finish reason '{reason ?? "null"}' (expected stop or length: the server aborted the request)"),
    };

    protected static T Field<T>(JsonNode? node, string name, string where)
    {
        var value = node?[name] ?? throw new InvalidDataException($"{where}: no '{name}'");
        try { return value.GetValue<T>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new InvalidDataException($"{where}: '{name}' is {value.ToJsonString()}, not a {typeof(T).Name}"); }
    }

    /// <summary>Token-id prompts: a list of ints (one prompt) or a list of lists (a batch); text through <paramref name="encode"/>.</summary>
    protected static IReadOnlyList<IReadOnlyList<int>> Prompts(JsonNode? node, string field, Func<string, int[]> encode)
    {
        IReadOnlyList<int> One(JsonNode? x) => x switch
        {
            JsonValue v when v.TryGetValue<string>(out var text) => encode(text),
            JsonArray a => a.Select(t => t is JsonValue tv && tv.TryGetValue<int>(out var id) ? id
                : throw new ArgumentException($"{field}: {t?.ToJsonString() ?? "null"} is not a token id")).ToArray(),
            _ => throw new ArgumentException($"{field}: expected text, a list of token ids, or a list of those"),
        };
        return node switch
        {
            null => throw new ArgumentException($"'{field}' is required"),
            JsonArray a when a.Count > 0 && a.All(x => x is JsonArray || (x is JsonValue v && v.TryGetValue<string>(out _))) => a.Select(One).ToArray(),
            _ => [One(node)],
        };
    }

    protected static int Int(JsonNode? node, string name, int fallback) =>
        node?[name] is null ? fallback : node[name] is JsonValue v && v.TryGetValue<int>(out var i) ? i : throw new ArgumentException($"'{name}' must be an integer");

    protected static double Number(JsonNode? node, string name, double fallback) =>
        node?[name] is null ? fallback : node[name] is JsonValue v && v.TryGetValue<double>(out var d) ? d : throw new ArgumentException($"'{name}' must be a number");

    protected static bool Bool(JsonNode? node, string name, bool fallback) =>
        node?[name] is null ? fallback : node[name] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : throw new ArgumentException($"'{name}' must be true or false");

    /// <summary>Seeds travel as signed 64-bit integers (vLLM bounds them to int64); rlvr's 64-bit seeds keep their bits.</summary>
    protected static long WireSeed(ulong seed) => unchecked((long)seed);

    protected static ulong? Seed(JsonNode? node, string name) => node?[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<long>(out var s) => unchecked((ulong)s),
        _ => throw new ArgumentException($"'{name}' must be a 64-bit integer"),
    };

    protected static IReadOnlyList<int>? Ids(JsonNode? node, string name) => node?[name] switch
    {
        null => null,
        JsonArray a => a.Select(x => x is JsonValue v && v.TryGetValue<int>(out var i) ? i : throw new ArgumentException($"'{name}' must be a list of token ids")).ToArray(),
        _ => throw new ArgumentException($"'{name}' must be a list of token ids"),
    };

    protected static JsonArray Array<T>(IEnumerable<T> items) => new(items.Select(x => JsonValue.Create(x) as JsonNode).ToArray());
}
