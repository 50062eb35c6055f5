using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlvr.Model;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr logprobs</c>: teacher-forced token log-probs of token-id sequences under a model, one JSON
/// line in, one out: <c>{"id":..., "input_ids":[...]}</c> → <c>{"id":..., "token_logprobs":[...]}</c>
/// with <c>token_logprobs[t-1] = log p(input_ids[t] | input_ids[&lt;t])</c>.
/// </summary>
public static class LogprobsCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (HuggingFace format) or Hub id found in the local HuggingFace cache", Required = true };
        var input = new Option<string>("--input") { Description = "JSONL file (\"-\" for stdin); each line {\"id\": any, \"input_ids\": [int, ...]}", Required = true };
        var output = new Option<string?>("--output") { Description = "Where to write {\"id\", \"token_logprobs\"} lines, in input order (default stdout)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass (sorted by length, right-padded)", DefaultValueFactory = _ => 8 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var cmd = new Command("logprobs", "Token log-probabilities of token-id sequences under a model (teacher forcing).")
        {
            model, input, output, batchSize, device,
        };
        cmd.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(input)!, parse.GetValue(output), parse.GetValue(batchSize), parse.GetValue(device)!));
        return cmd;
    }

    static int Run(string modelRef, string inputPath, string? outputPath, int batchSize, string deviceName)
    {
        if (batchSize <= 0) throw new CliException($"--batch-size must be positive, got {batchSize}");
        TorchSharp.torch.Device device;
        try { device = ModelDevice.Parse(deviceName); }
        catch (ArgumentException e) { throw new CliException(e.Message); }

        // The input is checked against config.json before the (slow) weight load.
        var dir = ModelReference.Resolve(modelRef);
        var config = Qwen2Config.Load(Path.Combine(dir, "config.json"));
        var requests = JsonLines.Read(inputPath).Select(l => Parse(l.Obj, inputPath, l.Line, config.VocabSize)).ToList();

        var sw = Stopwatch.StartNew();
        using var loaded = ModelFolder.Load(dir, device);
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
            line["token_logprobs"] = new JsonArray(scores[i].Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
            outFile.Write(line);
        }
        outFile.Commit();
        return 0;
    }

    sealed record Request(JsonNode? Id, int[] Ids);

    /// <summary>
    /// One input line → token ids. Lines give <c>input_ids</c>; a text form (<c>prompt</c> + <c>completion</c>
    /// through the chat template) belongs here once the tokenizer exists.
    /// </summary>
    static Request Parse(JsonObject obj, string file, int line, int vocabSize)
    {
        var id = obj["id"]?.DeepClone();
        if (obj["input_ids"] is not JsonArray array)
        {
            if (obj.ContainsKey("prompt") || obj.ContainsKey("completion"))
                throw new CliException($"{file}:{line}: text input (prompt/completion) is not supported yet: give \"input_ids\"");
            throw new CliException($"{file}:{line}: missing \"input_ids\" (an array of token ids)");
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
