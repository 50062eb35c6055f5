using System.Text.Json.Nodes;
using Rlvr.Generation;
using Rlvr.Rollouts;

namespace Rlvr.Tests.Rollouts;

/// <summary>
/// The two engines' HTTP shapes, written by hand from their documentation (vLLM's OpenAI-compatible completions with
/// its extensions; SGLang's native /generate): what rlvr sends must be these bodies, and what the engines answer must
/// read back as the right ids, log-probs and finish reasons. A change that breaks compatibility with the real engines fails here.
/// </summary>
public class ProtocolContractTests
{
    static readonly SamplingParams Sampling = new() { Temperature = 1.0, TopP = 0.95, MaxNewTokens = 16, MinNewTokens = 1 };
    static readonly int[] Prompt = [151644, 872, 198];
    static readonly int[] Stops = [151645, 151643];

    /// <summary>Key order and number spelling (1 vs 1.0) do not matter to a JSON reader; everything else does.</summary>
    static string Canonical(JsonNode? node) => node switch
    {
        JsonObject o => "{" + string.Join(",", o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"\"{kv.Key}\":{Canonical(kv.Value)}")) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(Canonical)) + "]",
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        null => "null",
        _ => node.ToJsonString(),
    };

    static void SameJson(string expected, JsonNode actual) => Assert.Equal(Canonical(JsonNode.Parse(expected)), Canonical(actual));

    [Fact]
    public void Vllm_request_is_a_token_id_completions_request_with_the_extensions()
    {
        var body = VllmProtocol.Instance.Request("Qwen/Qwen2.5-0.5B-Instruct", Prompt, 2, Sampling, 7, Stops);
        SameJson("""
            {"model": "Qwen/Qwen2.5-0.5B-Instruct", "prompt": [151644, 872, 198], "n": 2, "max_tokens": 16, "min_tokens": 1,
             "temperature": 1.0, "top_p": 0.95, "top_k": -1, "seed": 7, "stop_token_ids": [151645, 151643],
             "logprobs": 0, "return_tokens_as_token_ids": true, "skip_special_tokens": false, "echo": false, "stream": false}
            """, body);
        Assert.Equal("/v1/completions", VllmProtocol.Instance.GeneratePath);
    }

    [Fact]
    public void Vllm_seeds_above_int64_travel_as_their_signed_bits()
    {
        var body = VllmProtocol.Instance.Request("m", Prompt, 1, Sampling, ulong.MaxValue, Stops);
        Assert.Equal(-1L, body["seed"]!.GetValue<long>());
    }

    const string VllmResponse = """
        {"id": "cmpl-8f3c2a", "object": "text_completion", "created": 1733250000, "model": "Qwen/Qwen2.5-0.5B-Instruct",
         "choices": [
          {"index": 1, "text": " 4", "finish_reason": "length", "stop_reason": null,
           "logprobs": {"text_offset": [0, 1], "token_logprobs": [-0.25, -0.5], "tokens": ["token_id:220", "token_id:19"], "top_logprobs": null}},
          {"index": 0, "text": "2", "finish_reason": "stop", "stop_reason": 151645,
           "logprobs": {"text_offset": [0, 1], "token_logprobs": [-1.5, -0.125], "tokens": ["token_id:17", "token_id:151645"], "top_logprobs": null}}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
        """;

    [Fact]
    public void Vllm_response_choices_are_read_by_index_with_token_ids_log_probs_and_finish_reasons()
    {
        var samples = VllmProtocol.Instance.Samples(JsonNode.Parse(VllmResponse), 2);
        Assert.Equal([17, 151645], samples[0].TokenIds);
        Assert.Equal([-1.5f, -0.125f], samples[0].LogProbs);
        Assert.Equal(FinishReason.Stop, samples[0].FinishReason);
        Assert.Equal([220, 19], samples[1].TokenIds);
        Assert.Equal([-0.25f, -0.5f], samples[1].LogProbs);
        Assert.Equal(FinishReason.Length, samples[1].FinishReason);
    }

    [Fact]
    public void Vllm_responses_that_rlvr_cannot_train_on_are_refused_naming_the_field()
    {
        var textTokens = VllmResponse.Replace("\"token_id:220\"", "\" \"");
        Assert.Contains("return_tokens_as_token_ids", Assert.Throws<InvalidDataException>(() => VllmProtocol.Instance.Samples(JsonNode.Parse(textTokens), 2)).Message);
        var aborted = VllmResponse.Replace("\"finish_reason\": \"length\"", "\"finish_reason\": \"abort\"");
        Assert.Contains("abort", Assert.Throws<InvalidDataException>(() => VllmProtocol.Instance.Samples(JsonNode.Parse(aborted), 2)).Message);
        Assert.Contains("2 choices for n = 3", Assert.Throws<InvalidDataException>(() => VllmProtocol.Instance.Samples(JsonNode.Parse(VllmResponse), 3)).Message);
        var error = """{"object": "error", "message": "bad", "type": "BadRequestError", "code": 400}""";
        Assert.Contains("choices", Assert.Throws<InvalidDataException>(() => VllmProtocol.Instance.Samples(JsonNode.Parse(error), 1)).Message);
    }

    [Fact]
    public void Sglang_request_is_a_generate_request_with_sampling_params_and_logprobs()
    {
        var body = SglangProtocol.Instance.Request("ignored", Prompt, 2, Sampling with { TopK = 20 }, 7, Stops);
        SameJson("""
            {"input_ids": [151644, 872, 198],
             "sampling_params": {"n": 2, "max_new_tokens": 16, "min_new_tokens": 1, "temperature": 1.0, "top_p": 0.95, "top_k": 20,
                                 "stop_token_ids": [151645, 151643], "skip_special_tokens": false, "sampling_seed": 7},
             "return_logprob": true, "logprob_start_len": -1, "stream": false}
            """, body);
        Assert.Equal("/generate", SglangProtocol.Instance.GeneratePath);
    }

    [Fact]
    public void Sglang_responses_are_a_list_for_n_samples_and_one_object_for_one()
    {
        const string two = """
            [{"text": "2", "output_ids": [17, 151645],
              "meta_info": {"id": "a1", "finish_reason": {"type": "stop", "matched": 151645}, "prompt_tokens": 3, "completion_tokens": 2,
                            "output_token_logprobs": [[-1.5, 17, null], [-0.125, 151645, null]]}},
             {"text": " 4", "output_ids": [220, 19],
              "meta_info": {"id": "a2", "finish_reason": {"type": "length", "matched": null}, "prompt_tokens": 3, "completion_tokens": 2,
                            "output_token_logprobs": [[-0.25, 220, null], [-0.5, 19, null]]}}]
            """;
        var samples = SglangProtocol.Instance.Samples(JsonNode.Parse(two), 2);
        Assert.Equal([17, 151645], samples[0].TokenIds);
        Assert.Equal([-1.5f, -0.125f], samples[0].LogProbs);
        Assert.Equal(FinishReason.Stop, samples[0].FinishReason);
        Assert.Equal([220, 19], samples[1].TokenIds);
        Assert.Equal(FinishReason.Length, samples[1].FinishReason);

        var one = JsonNode.Parse(two)!.AsArray()[1]!.ToJsonString();
        Assert.Equal([220, 19], SglangProtocol.Instance.Samples(JsonNode.Parse(one), 1)[0].TokenIds);

        var aborted = two.Replace("\"type\": \"length\"", "\"type\": \"abort\"");
        Assert.Contains("abort", Assert.Throws<InvalidDataException>(() => SglangProtocol.Instance.Samples(JsonNode.Parse(aborted), 2)).Message);
        var noLogprobs = """{"text": "x", "meta_info": {"id": "b", "finish_reason": {"type": "length"}}}""";
        Assert.Contains("return_logprob", Assert.Throws<InvalidDataException>(() => SglangProtocol.Instance.Samples(JsonNode.Parse(noLogprobs), 1)).Message);
    }

    [Fact]
    public void Serve_reads_an_ordinary_openai_request_and_the_vllm_extensions()
    {
        // What the openai Python client sends for client.completions.create(model=..., prompt="Hello", max_tokens=7, temperature=0).
        var plain = VllmProtocol.Instance.ParseRequest(JsonNode.Parse("""{"model": "tiny", "prompt": "Hello", "max_tokens": 7, "temperature": 0}""")!.AsObject(),
            text => text == "Hello" ? [9707] : throw new ArgumentException(text));
        Assert.Equal([9707], plain.Prompts.Single());
        Assert.Equal(1, plain.N);
        Assert.Equal(7, plain.Sampling.MaxNewTokens);
        Assert.True(plain.Sampling.IsGreedy);
        Assert.Null(plain.Seed);
        Assert.False(plain.LogProbs);
        Assert.True(plain.SkipSpecialTokens);

        var rlvr = VllmProtocol.Instance.ParseRequest(VllmProtocol.Instance.Request("tiny", Prompt, 2, Sampling with { TopK = 5 }, 7, Stops), _ => []);
        Assert.Equal(Prompt, rlvr.Prompts.Single());
        Assert.Equal((2, 0.95, 5, 16, 1, 7UL), (rlvr.N, rlvr.Sampling.TopP, rlvr.Sampling.TopK, rlvr.Sampling.MaxNewTokens, rlvr.Sampling.MinNewTokens, rlvr.Seed!.Value));
        Assert.Equal(Stops, rlvr.Sampling.StopTokenIds);
        Assert.True(rlvr.LogProbs && rlvr.TokensAsIds && !rlvr.SkipSpecialTokens);

        var batch = VllmProtocol.Instance.ParseRequest(JsonNode.Parse("""{"model": "m", "prompt": [[1, 2], [3]], "top_k": -1}""")!.AsObject(), _ => []);
        Assert.Equal(2, batch.Prompts.Count);
        Assert.Equal(0, batch.Sampling.TopK);
        Assert.Contains("stream", Assert.Throws<ArgumentException>(() => VllmProtocol.Instance.ParseRequest(JsonNode.Parse("""{"prompt": [1], "stream": true}""")!.AsObject(), _ => [])).Message);
        Assert.Contains("prompt", Assert.Throws<ArgumentException>(() => VllmProtocol.Instance.ParseRequest(JsonNode.Parse("""{"model": "m"}""")!.AsObject(), _ => [])).Message);
    }

    static readonly Completion[] Served =
    [
        new(0, 0, [17, 151645], [-1.5f, -0.125f], [], "2", FinishReason.Stop),
        new(0, 1, [220, 19], [-0.25f, -0.5f], [], " 4", FinishReason.Length),
    ];

    [Fact]
    public void Serve_answers_completions_in_vllms_shape_and_the_client_reads_them_back()
    {
        var request = VllmProtocol.Instance.ParseRequest(VllmProtocol.Instance.Request("tiny", Prompt, 2, Sampling, 7, Stops), _ => []);
        var body = VllmProtocol.Instance.Response(request, Served, "tiny", (ids, _) => string.Concat(ids.Select(i => $"<{i}>")));
        Assert.Equal("text_completion", (string)body["object"]!);
        Assert.Equal("tiny", (string)body["model"]!);
        Assert.StartsWith("cmpl-", (string)body["id"]!);
        Assert.Equal(3, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(4, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal(7, (int)body["usage"]!["total_tokens"]!);
        var first = body["choices"]![0]!;
        Assert.Equal("<17><151645>", (string)first["text"]!);
        Assert.Equal([0, 4], first["logprobs"]!["text_offset"]!.AsArray().Select(x => (int)x!));
        Assert.Equal(["token_id:17", "token_id:151645"], first["logprobs"]!["tokens"]!.AsArray().Select(x => (string)x!));
        var back = VllmProtocol.Instance.Samples(JsonNode.Parse(body.ToJsonString()), 2);
        Assert.Equal(Served.Select(c => c.TokenIds), back.Select(s => s.TokenIds));
        Assert.Equal(Served.Select(c => c.LogProbs), back.Select(s => s.LogProbs));
        Assert.Equal(Served.Select(c => c.FinishReason), back.Select(s => s.FinishReason));
    }

    [Fact]
    public void Serve_answers_generate_in_sglangs_shape_and_the_client_reads_them_back()
    {
        var request = SglangProtocol.Instance.ParseRequest(SglangProtocol.Instance.Request("", Prompt, 2, Sampling, 7, Stops), _ => []);
        Assert.Equal((2, 16, 1, 7UL), (request.N, request.Sampling.MaxNewTokens, request.Sampling.MinNewTokens, request.Seed!.Value));
        var body = SglangProtocol.Instance.Response(request, Served, "tiny", (ids, _) => "");
        Assert.Equal(2, body.AsArray().Count);
        Assert.Equal(151645, (int)body[0]!["meta_info"]!["finish_reason"]!["matched"]!);
        Assert.Equal([17, 151645], body[0]!["output_ids"]!.AsArray().Select(x => (int)x!));
        var back = SglangProtocol.Instance.Samples(JsonNode.Parse(body.ToJsonString()), 2);
        Assert.Equal(Served.Select(c => c.TokenIds), back.Select(s => s.TokenIds));
        Assert.Equal(Served.Select(c => c.LogProbs), back.Select(s => s.LogProbs));

        var single = SglangProtocol.Instance.ParseRequest(JsonNode.Parse("""{"text": "Hi", "sampling_params": {"max_new_tokens": 3}}""")!.AsObject(), _ => [5]);
        var one = SglangProtocol.Instance.Response(single, [Served[1] with { SampleIndex = 0 }], "tiny", (ids, _) => "");
        Assert.IsType<JsonObject>(one);
        Assert.Null(one["meta_info"]!["output_token_logprobs"]);
    }

    [Fact]
    public void Server_urls_are_checked()
    {
        Assert.Equal(["http://a:1", "http://b:2"], RemoteRolloutOptions.ParseServers("http://a:1/, http://b:2"));
        Assert.Contains("ftp://x", Assert.Throws<ArgumentException>(() => RemoteRolloutOptions.ParseServers("ftp://x")).Message);
    }
}
