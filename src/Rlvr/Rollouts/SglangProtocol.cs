using System.Text.Json.Nodes;
using Rlvr.Generation;

namespace Rlvr.Rollouts;

/// <summary>
/// SGLang's native <c>POST /generate</c>: <c>input_ids</c>, <c>sampling_params</c> and <c>return_logprob</c>; each sample
/// comes back as an object whose <c>meta_info.output_token_logprobs</c> holds [log-prob, token id, null] per output token.
/// One prompt with n = 1 answers one object; a batch or n > 1 answers a list in prompt-major order.
/// </summary>
public sealed class SglangProtocol : RolloutProtocol
{
    public static readonly SglangProtocol Instance = new();

    public override string Name => "sglang";
    public override string GeneratePath => "/generate";

    public override JsonObject Request(string model, IReadOnlyList<int> prompt, int n, SamplingParams p, ulong seed, IReadOnlyList<int> stopIds) => new()
    {
        ["input_ids"] = Array(prompt),
        ["sampling_params"] = new JsonObject
        {
            ["n"] = n,
            ["max_new_tokens"] = p.MaxNewTokens,
            ["min_new_tokens"] = p.MinNewTokens,
            ["temperature"] = p.Temperature,
            ["top_p"] = p.TopP,
            ["top_k"] = EngineTopK(p.TopK),
            ["stop_token_ids"] = Array(stopIds),
            ["skip_special_tokens"] = false,
            ["sampling_seed"] = WireSeed(seed),
        },
        ["return_logprob"] = true,
        ["logprob_start_len"] = -1,
        ["stream"] = false,
    };

    public override IReadOnlyList<ServerSample> Samples(JsonNode? body, int n)
    {
        var items = body switch
        {
            JsonArray a => a.ToArray(),
            JsonObject o => [o],
            _ => throw new InvalidDataException("generate response: expected an object or a list of objects"),
        };
        if (items.Length != n) throw new InvalidDataException($"generate response: {items.Length} results for n = {n}");
        return items.Select((item, i) =>
        {
            var where = $"generate response [{i}]";
            var meta = item?["meta_info"] ?? throw new InvalidDataException($"{where}: no 'meta_info'");
            if (meta["output_token_logprobs"] is not JsonArray tokens)
                throw new InvalidDataException($"{where}: no meta_info.output_token_logprobs (the request asks for return_logprob)");
            var ids = new int[tokens.Count];
            var lps = new float[tokens.Count];
            for (int t = 0; t < tokens.Count; t++)
            {
                if (tokens[t] is not JsonArray { Count: >= 2 } entry || entry[0] is not JsonValue lp || !lp.TryGetValue<double>(out var value)
                    || entry[1] is not JsonValue id || !id.TryGetValue<int>(out ids[t]))
                    throw new InvalidDataException($"{where}: meta_info.output_token_logprobs[{t}] is {tokens[t]?.ToJsonString() ?? "null"}, not [logprob, token_id, ...]");
                lps[t] = (float)value;
            }
            return new ServerSample(ids, lps, Finish((string?)meta["finish_reason"]?["type"], where));
        }).ToArray();
    }

    public override GenerationRequest ParseRequest(JsonObject body, Func<string, int[]> encode)
    {
        if (Bool(body, "stream", false)) throw new ArgumentException("'stream': streaming is not supported");
        var sp = body["sampling_params"] ?? new JsonObject();
        if (sp["stop"] is JsonArray { Count: > 0 } or JsonValue) throw new ArgumentException("'sampling_params.stop': stop strings are not supported (use stop_token_ids)");
        var sampling = new SamplingParams
        {
            Temperature = Number(sp, "temperature", 1.0),
            TopP = Number(sp, "top_p", 1.0),
            TopK = RlvrTopK(Int(sp, "top_k", -1)),
            MaxNewTokens = Int(sp, "max_new_tokens", 128),
            MinNewTokens = Int(sp, "min_new_tokens", 0),
            StopTokenIds = Ids(sp, "stop_token_ids"),
        };
        var prompts = body["input_ids"] is { } ids ? Prompts(ids, "input_ids", encode) : Prompts(body["text"], "text", encode);
        return new GenerationRequest(prompts, Int(sp, "n", 1), sampling, Seed(sp, "sampling_seed"),
            Bool(body, "return_logprob", false), true, Bool(sp, "skip_special_tokens", true));
    }

    public override JsonNode Response(GenerationRequest request, IReadOnlyList<Completion> completions, string model,
        Func<IReadOnlyList<int>, bool, string> decode)
    {
        var items = completions.Select(c =>
        {
            var meta = new JsonObject
            {
                ["id"] = Guid.NewGuid().ToString("N"),
                ["finish_reason"] = new JsonObject
                {
                    ["type"] = c.FinishReason.JsonName(),
                    ["matched"] = c.FinishReason == FinishReason.Stop && c.TokenIds.Length > 0 ? c.TokenIds[^1] : null,
                },
                ["prompt_tokens"] = request.Prompts[c.PromptIndex].Count,
                ["completion_tokens"] = c.TokenIds.Length,
            };
            if (request.LogProbs)
                meta["output_token_logprobs"] = new JsonArray(c.TokenIds.Select((id, t) => (JsonNode)new JsonArray((double)c.LogProbs[t], id, null)).ToArray());
            return (JsonNode)new JsonObject { ["text"] = decode(c.TokenIds, request.SkipSpecialTokens), ["output_ids"] = Array(c.TokenIds), ["meta_info"] = meta };
        }).ToArray();
        return items.Length == 1 && request.Prompts.Count == 1 && request.N == 1 ? items[0] : new JsonArray(items);
    }
}
