using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlvr.Model;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr logprobs</c>: teacher-forced token log-probs of token-id sequences under a model, one JSON
/// line in, one out: <c>{"id":..., "input_ids":[...]}</c> → <c>{"id":..., "token_logprobs":[...]}</c>
/// with <c>token_logprobs[t-1] = log p(input_ids[t] | input_ids[&lt;t])</c>; or <c>{"id":..., "prompt": "...",
/// "completion": "..."}</c> → the log-probs of the completion's tokens only, after the prompt rendered with
/// the model's chat template and generation prompt (with <c>--raw</c>, the prompt text as it is).
/// </summary>
public static class LogprobsCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (HuggingFace format) or Hub id found in the local HuggingFace cache", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL file (\"-\" for stdin); each line {\"id\": any, \"input_ids\": [int, ...]} or {\"id\": any, \"prompt\": text, \"completion\": text}", Required = true };
        var raw = new Option<bool>("--raw") { Description = "Text lines: tokenize the prompt as it is instead of rendering it with the chat template" };
        var output = new Option<string?>("--output") { Description = "Where to write {\"id\", \"token_logprobs\"} lines, in input order (default stdout)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass (sorted by length, right-padded)", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var cmd = new Command("logprobs", "Token log-probabilities of token-id sequences under a model (teacher forcing).")
        {
            model, input, output, batchSize, device, raw,
        };
        cmd.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(input)!, parse.GetValue(output), parse.GetValue(batchSize), parse.GetValue(device)!, parse.GetValue(raw)));
        return cmd;
    }

    static int Run(string modelRef, string inputPath, string? outputPath, int batchSize, string deviceName, bool raw)
    {
        if (batchSize <= 0) throw new CliException($"--batch-size must be positive, got {batchSize}");
        TorchSharp.torch.Device device;
        try { device = ModelDevice.Parse(deviceName); }
        catch (ArgumentException e) { throw new CliException(e.Message); }

        // The input is checked against config.json before the (slow) weight load.
        // A LoRA adapter folder is scored with its base model's config and tokenizer, the adapter applied.
        var (dir, weights) = ModelReference.ResolveWithAdapter(modelRef);
        var config = Qwen2Config.Load(Path.Combine(dir, "config.json"));
        var text = new Lazy<(QwenTokenizer Tokenizer, ChatTemplate Chat)>(() => (QwenTokenizer.Load(dir), ChatTemplate.ForModel(dir)));
        var requests = JsonLines.Read(inputPath).Select(l => Parse(l.Obj, inputPath, l.Line, config.VocabSize, text, raw)).ToList();

        var sw = Stopwatch.StartNew();
        using var loaded = ModelFolder.Load(weights, device);
        Console.Error.WriteLine($"logprobs: loaded {loaded.Directory} in {sw.Elapsed.TotalSeconds:F1} s");
        sw.Restart();
        var scores = SequenceLogProbs.Compute(loaded.Model, requests.Select(r => r.Ids).ToList(), batchSize);
        var tokens = requests.Sum(r => (long)r.Ids.Length);
        Console.Error.WriteLine($"logprobs: {requests.Count} sequences, {tokens} tokens in {sw.Elapsed.TotalSeconds:F1} s ({tokens / System.Math.Max(sw.Elapsed.TotalSeconds, 1e-9):F0} tokens/s)");

        using var outFile = JsonLines.Create(outputPath);
        for (var i = 0; i < requests.Count; i++)
        {
            var line = new JsonObject();
            if (requests[i].Id is { } id) line["id"] = id;
            line["token_logprobs"] = new JsonArray(scores[i].Skip(requests[i].Skip).Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
            outFile.Write(line);
        }
        outFile.Commit();
        return 0;
    }

    /// <summary>A sequence to score; the first <paramref name="Skip"/> log-probs (the prompt's) are not reported.</summary>
    sealed record Request(JsonNode? Id, int[] Ids, int Skip = 0);

    /// <summary>One input line → token ids: <c>input_ids</c> as given, or prompt + completion text tokenized
    /// (the completion on its own, so its tokens are exactly those a sampler would have produced after the prompt).</summary>
    static Request Parse(JsonObject obj, string file, int line, int vocabSize, Lazy<(QwenTokenizer Tokenizer, ChatTemplate Chat)> text, bool raw)
    {
        var id = obj["id"]?.DeepClone();
        if (obj["input_ids"] is not JsonArray array)
        {
            if (obj["prompt"] is JsonValue p && p.TryGetValue<string>(out var prompt) && obj["completion"] is JsonValue c && c.TryGetValue<string>(out var completion))
            {
                var (tokenizer, chat) = text.Value;
                var promptText = raw ? prompt : chat.Render([new ChatMessage("user", prompt)], addGenerationPrompt: true);
                var promptIds = tokenizer.Encode(promptText);
                var completionIds = tokenizer.Encode(completion);
                if (promptIds.Count == 0) throw new CliException($"{file}:{line}: the prompt is empty: its completion's first token has no context to be scored in");
                if (completionIds.Count == 0) throw new CliException($"{file}:{line}: the completion is empty");
                return new Request(id, [.. promptIds, .. completionIds], promptIds.Count - 1);
            }
            if (obj.ContainsKey("prompt") || obj.ContainsKey("completion"))
                throw new CliException($"{file}:{line}: text input needs both \"prompt\" and \"completion\" as strings");
            throw new CliException($"{file}:{line}: missing \"input_ids\" (an array of token ids) or \"prompt\" + \"completion\"");
        }
        if (array.Count == 0) throw new CliException($"{file}:{line}: \"input_ids\" is empty");
        var ids = new int[array.Count];
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || !v.TryGetValue<int>(out var tokenId))
                throw new CliException($"{file}:{line}: input_ids[{i}] is not an integer: {array[i]?.ToJsonString() ?? "null"}");
            if (tokenId < 0 || tokenId >= vocabSize)
                throw new CliException($"{file}:{line}: input_ids[{i}] = {tokenId} is outside the model's vocabulary (0..{vocabSize - 1})");
            ids[i] = tokenId;
        }
        return new Request(id, ids);
    }
}
