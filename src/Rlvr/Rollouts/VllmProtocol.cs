using System.Globalization;
using System.Text.Json.Nodes;
using Rlvr.Generation;

namespace Rlvr.Rollouts;

/// <summary>
/// vLLM's OpenAI-compatible completions API, <c>POST /v1/completions</c>: the prompt as token ids, n samples, and vLLM's
/// extensions (top_k, min_tokens, stop_token_ids, skip_special_tokens, return_tokens_as_token_ids) so that every
/// sampled token comes back as <c>"token_id:N"</c> with its log-prob (<c>logprobs: 0</c>). Choice index = prompt x n + sample.
/// </summary>
public sealed class VllmProtocol : RolloutProtocol
{
    public static readonly VllmProtocol Instance = new();
    const string TokenIdPrefix = "token_id:";

    public override string Name => "vllm";
    public override string GeneratePath => "/v1/completions";

    public override JsonObject Request(string model, IReadOnlyList<int> prompt, int n, SamplingParams p, ulong seed, IReadOnlyList<int> stopIds) => new()
    {
        ["model"] = model,
        ["prompt"] = Array(prompt),
        ["n"] = n,
        ["max_tokens"] = p.MaxNewTokens,
        ["min_tokens"] = p.MinNewTokens,
        ["temperature"] = p.Temperature,
        ["top_p"] = p.TopP,
        ["top_k"] = EngineTopK(p.TopK),
        ["seed"] = WireSeed(seed),
        ["stop_token_ids"] = Array(stopIds),
        ["logprobs"] = 0,
        ["return_tokens_as_token_ids"] = true,
        ["skip_special_tokens"] = false,
        ["echo"] = false,
        ["stream"] = false,
    };

    public override IReadOnlyList<ServerSample> Samples(JsonNode? body, int n)
    {
        if (body?["choices"] is not JsonArray choices) throw new InvalidDataException("completions response: no 'choices' list");
        if (choices.Count != n) throw new InvalidDataException($"completions response: {choices.Count} choices for n = {n}");
        var samples = new ServerSample[n];
        foreach (var choice in choices)
        {
            int index = Field<int>(choice, "index", "completions response choice");
            var where = $"completions response choice {index}";
            if (index < 0 || index >= n || samples[index] is not null) throw new InvalidDataException($"{where}: index out of range or repeated");
            var logprobs = choice!["logprobs"] ?? throw new InvalidDataException($"{where}: no 'logprobs' (the request asks for logprobs 0)");
            if (logprobs["tokens"] is not JsonArray tokens || logprobs["token_logprobs"] is not JsonArray values || tokens.Count != values.Count)
                throw new InvalidDataException($"{where}: logprobs.tokens and logprobs.token_logprobs must be lists of one length");
            var ids = tokens.Select((t, i) => TokenId(t, $"{where}: logprobs.tokens[{i}]")).ToArray();
            var lps = values.Select((v, i) => v is JsonValue x && x.TryGetValue<double>(out var d) ? (float)d
                : throw new InvalidDataException($"{where}: logprobs.token_logprobs[{i}] is {v?.ToJsonString() ?? "null"}, not a number")).ToArray();
            samples[index] = new ServerSample(ids, lps, Finish((string?)choice["finish_reason"], where));
        }
        return samples;
    }

    /// <summary>"token_id:123" (return_tokens_as_token_ids) as 123.</summary>
    static int TokenId(JsonNode? token, string where) =>
        token is JsonValue v && v.TryGetValue<string>(out var s) && s.StartsWith(TokenIdPrefix, StringComparison.Ordinal)
        && int.TryParse(s.AsSpan(TokenIdPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id : throw new InvalidDataException($"{where} is {token?.ToJsonString() ?? "null"}, not \"token_id:N\" (the server must honour return_tokens_as_token_ids)");

    public override GenerationRequest ParseRequest(JsonObject body, Func<string, int[]> encode)
    {
        if (Bool(body, "stream", false)) throw new ArgumentException("'stream': streaming is not supported");
        if (Bool(body, "echo", false)) throw new ArgumentException("'echo': echoing the prompt is not supported");
        if (body["stop"] is JsonArray { Count: > 0 } or JsonValue) throw new ArgumentException("'stop': stop strings are not supported (use stop_token_ids)");
        int? logprobs = body["logprobs"] is null ? null : Int(body, "logprobs", 0);
        if (logprobs is > 0) throw new ArgumentException("'logprobs': only 0 (the sampled token's log-prob) is supported");
        var sampling = new SamplingParams
        {
            Temperature = Number(body, "temperature", 1.0),
            TopP = Number(body, "top_p", 1.0),
            TopK = RlvrTopK(Int(body, "top_k", -1)),
            MaxNewTokens = Int(body, "max_tokens", 16),
            MinNewTokens = Int(body, "min_tokens", 0),
            StopTokenIds = Ids(body, "stop_token_ids"),
        };
        return new GenerationRequest(Prompts(body["prompt"], "prompt", encode), Int(body, "n", 1), sampling, Seed(body, "seed"),
            logprobs is not null, Bool(body, "return_tokens_as_token_ids", false), Bool(body, "skip_special_tokens", true));
    }

    public override JsonNode Response(GenerationRequest request, IReadOnlyList<Completion> completions, string model,
        Func<IReadOnlyList<int>, bool, string> decode)
    {
        var choices = new JsonArray();
        foreach (var c in completions)
        {
            var choice = new JsonObject
            {
                ["index"] = c.PromptIndex * request.N + c.SampleIndex,
                ["text"] = decode(c.TokenIds, request.SkipSpecialTokens),
                ["finish_reason"] = c.FinishReason.JsonName(),
                ["logprobs"] = null,
                ["stop_reason"] = null,
            };
            if (request.LogProbs)
            {
                var pieces = c.TokenIds.Select(id => decode([id], false)).ToArray();
                var offsets = new List<int>();
                for (int i = 0, at = 0; i < pieces.Length; at += pieces[i].Length, i++) offsets.Add(at);
                choice["logprobs"] = new JsonObject
                {
                    ["tokens"] = Array(request.TokensAsIds ? c.TokenIds.Select(id => TokenIdPrefix + id) : pieces),
                    ["token_logprobs"] = Array(c.LogProbs.Select(x => (double)x)),
                    ["top_logprobs"] = null,
                    ["text_offset"] = Array(offsets),
                };
            }
            choices.Add(choice);
        }
        int promptTokens = request.Prompts.Sum(x => x.Count), completionTokens = completions.Sum(c => c.TokenIds.Length);
        return new JsonObject
        {
            ["id"] = "cmpl-" + Guid.NewGuid().ToString("N"),
            ["object"] = "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = model,
            ["choices"] = choices,
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens },
        };
    }
}
