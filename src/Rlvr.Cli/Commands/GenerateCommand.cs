using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr generate</c>: n sampled completions per prompt with the batched KV-cache sampler. Input lines
/// <c>{"id", "input_ids"}</c>, <c>{"id", "prompt"}</c> (chat template + generation prompt unless --raw) or
/// <c>{"id", "messages"}</c>; output lines <c>{"id", "completions": [{"text", "ids", "logprobs",
/// "sampling_logprobs", "finish_reason"}]}</c> in input order.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (HuggingFace format) or Hub id found in the local HuggingFace cache", Required = true };
        var input = new Option<string>("--input")
        {
            Description = "JSONL file (\"-\" for stdin); each line {\"id\": any, \"input_ids\": [int, ...]}, {\"id\", \"prompt\": \"text\"} or {\"id\", \"messages\": [{\"role\", \"content\"}, ...]}",
            Required = true,
        };
        var output = new Option<string?>("--output") { Description = "Where to write {\"id\", \"completions\"} lines, in input order (default stdout)" };
        var n = new Option<int>("--n") { Description = "Completions per prompt (the prompt is prefilled once for all of them)", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 1.0 }.Range(0.0, 100.0);
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling: keep the most likely tokens up to this probability mass (1 = off)", DefaultValueFactory = _ => 1.0 }.Above(0.0, 1.0);
        var topK = new Option<int>("--top-k") { Description = "Keep only the k most likely tokens (0 = off)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens per completion (then finish_reason \"length\")", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var minNew = new Option<int>("--min-new-tokens") { Description = "Stop tokens and stop strings cannot end a completion before this many tokens", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var seed = new Option<ulong>("--seed") { Description = "Random seed: with the line and sample index it fixes every draw, whatever the batch size", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences decoded together (rows of the KV cache)", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var bf16 = new Option<bool>("--bf16-weights") { Description = "Decode with bf16 copies of the weights (fp32 accumulation) where rlvr's kernel runs the products (non-Intel CPUs with AVX2): fewer bytes per token, slightly different log-probs" };
        var raw = new Option<bool>("--raw") { Description = "Tokenize \"prompt\" text as it is, without the chat template" };
        var stopIds = new Option<string?>("--stop-token-ids") { Description = "Comma-separated token ids that end a completion, or \"none\"; default: the eos ids of the model's generation_config.json" };
        var stop = new Option<string[]>("--stop") { Description = "A string that ends a completion (repeatable); the text is cut before it", AllowMultipleArgumentsPerToken = false };
        var tokenizerDir = new Option<string?>("--tokenizer") { Description = "Tokenizer folder for text input and output; default: the model folder" };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var cmd = new Command("generate", "Sample completions of prompts with a model (batched, KV cache); --temperature 0 is greedy.")
        {
            model, input, output, n, temperature, topP, topK, maxNew, minNew, seed, batchSize, bf16, raw, stopIds, stop, tokenizerDir, device,
        };
        cmd.SetAction(parse =>
        {
            var p = new SamplingParams
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK),
                MaxNewTokens = parse.GetValue(maxNew), MinNewTokens = parse.GetValue(minNew), Seed = parse.GetValue(seed), Bf16Weights = parse.GetValue(bf16),
                StopTokenIds = ParseStopIds(parse.GetValue(stopIds)),
                StopStrings = parse.GetValue(stop) is { Length: > 0 } strings ? strings : null,
            };
            return Run(parse.GetValue(model)!, parse.GetValue(input)!, parse.GetValue(output), parse.GetValue(n), p,
                parse.GetValue(batchSize), parse.GetValue(raw), parse.GetValue(tokenizerDir), parse.GetValue(device)!);
        });
        return cmd;
    }

    static int Run(string modelRef, string inputPath, string? outputPath, int n, SamplingParams p, int batchSize, bool raw,
        string? tokenizerDir, string deviceName)
    {
        if (n < 1) throw new CliException($"--n must be at least 1, got {n}");
        if (batchSize < 1) throw new CliException($"--batch-size must be at least 1, got {batchSize}");
        try { p.Validate(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        if (p.Bf16Weights && Rlvr.Kernels.GemmPath.Bf16WeightsIgnored() is { } ignored) Console.Error.WriteLine($"generate: {ignored}");
        TorchSharp.torch.Device device;
        try { device = ModelDevice.Parse(deviceName); }
        catch (ArgumentException e) { throw new CliException(e.Message); }

        // Everything about the input is checked before the (slow) weight load.
        var dir = ModelReference.Resolve(modelRef);
        var config = Qwen2Config.Load(Path.Combine(dir, "config.json"));
        var text = new TextSide(tokenizerDir ?? dir, explicitly: tokenizerDir != null);
        var requests = JsonLines.Read(inputPath).Select(l => Parse(l.Obj, inputPath, l.Line, config.VocabSize, text, raw)).ToList();
        if (p.StopStrings != null && text.Tokenizer is null) throw new CliException($"--stop needs a tokenizer: {text.Directory} has none (pass --tokenizer)");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var loaded = ModelFolder.Load(dir, device);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generate: loaded {loaded.Directory} in {clock.Elapsed.TotalSeconds:F1} s"));
        var tokenizer = text.Tokenizer;
        var sampler = new Sampler(loaded, tokenizer is null ? null : ids => tokenizer.Decode(ids, skipSpecialTokens: true), batchSize);
        var prompts = requests.Select(r => (IReadOnlyList<int>)r.Ids).ToList();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"generate: {prompts.Count} prompts x {n} samples, KV cache {sampler.CacheBytes(prompts, n, p) / 1e9:F2} GB"));

        var progress = new ConsoleProgress();
        IReadOnlyList<Completion> completions;
        try { completions = sampler.Generate(prompts, n, p, progress); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        progress.Finish();
        var stats = sampler.LastStats!;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"generate: prefill {stats.PrefilledTokens} tokens in {stats.PrefillSeconds:F1} s ({stats.PrefillTokensPerSecond:F0} tokens/s), "
            + $"decode {stats.GeneratedTokens} tokens in {stats.DecodeSeconds:F1} s ({stats.DecodeTokensPerSecond:F1} tokens/s), total {stats.TotalSeconds:F1} s"));

        using var sink = JsonLines.Create(outputPath);
        for (var i = 0; i < requests.Count; i++)
        {
            var line = new JsonObject();
            if (requests[i].Id is { } id) line["id"] = id;
            line["completions"] = new JsonArray(completions.Skip(i * n).Take(n).Select(c => (JsonNode?)ToJson(c)).ToArray());
            sink.Write(line);
        }
        sink.Commit();
        return 0;
    }

    static JsonObject ToJson(Completion c) => new()
    {
        ["text"] = c.Text,
        ["ids"] = new JsonArray(c.TokenIds.Select(x => (JsonNode?)x).ToArray()),
        ["logprobs"] = new JsonArray(c.LogProbs.Select(x => (JsonNode?)x).ToArray()),
        ["sampling_logprobs"] = new JsonArray(c.SamplingLogProbs.Select(x => (JsonNode?)x).ToArray()),
        ["finish_reason"] = c.FinishReason.JsonName(),
    };

    static IReadOnlyList<int>? ParseStopIds(string? text)
    {
        if (text is null) return null;
        if (text.Trim() == "none") return [];
        var ids = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            ids.Add(int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) && id >= 0 ? id
                : throw new CliException($"--stop-token-ids: \"{part}\" is not a token id (expected comma-separated non-negative integers, or \"none\")"));
        return ids;
    }

    sealed record Request(JsonNode? Id, int[] Ids);

    /// <summary>The tokenizer and chat template, loaded on first use (input_ids lines need neither).</summary>
    sealed class TextSide(string directory, bool explicitly)
    {
        QwenTokenizer? tokenizer;
        ChatTemplate? template;
        bool looked;

        public string Directory { get; } = directory;

        /// <summary>The folder's tokenizer; null when it has none (texts are then left empty).</summary>
        public QwenTokenizer? Tokenizer
        {
            get
            {
                if (looked) return tokenizer;
                looked = true;
                var has = File.Exists(Path.Combine(Directory, "tokenizer.json")) || File.Exists(Path.Combine(Directory, "vocab.json"));
                if (has || explicitly) tokenizer = QwenTokenizer.Load(Directory);
                return tokenizer;
            }
        }

        public ChatTemplate Template => template ??= ChatTemplate.ForModel(Directory);

        public QwenTokenizer Require(string file, int line) => Tokenizer
            ?? throw new CliException($"{file}:{line}: text input needs a tokenizer, and {Directory} has none (tokenizer.json or vocab.json + merges.txt); pass --tokenizer DIR");
    }

    static Request Parse(JsonObject obj, string file, int line, int vocabSize, TextSide text, bool raw)
    {
        var id = obj["id"]?.DeepClone();
        var forms = new[] { "input_ids", "prompt", "messages" }.Where(obj.ContainsKey).ToList();
        if (forms.Count != 1)
            throw new CliException($"{file}:{line}: expected exactly one of \"input_ids\", \"prompt\" or \"messages\"" + (forms.Count > 1 ? $", found {string.Join(" and ", forms)}" : ""));
        int[] ids = forms[0] switch
        {
            "input_ids" => ReadIds(obj["input_ids"], file, line),
            "prompt" => Encode(text, file, line, raw
                ? ReadString(obj["prompt"], "prompt", file, line)
                : text.Template.Render([new ChatMessage("user", ReadString(obj["prompt"], "prompt", file, line))], addGenerationPrompt: true)),
            _ => Encode(text, file, line, text.Template.Render(ReadMessages(obj["messages"], file, line), addGenerationPrompt: true)),
        };
        if (ids.Length == 0) throw new CliException($"{file}:{line}: the prompt has no tokens");
        for (var i = 0; i < ids.Length; i++)
            if (ids[i] >= vocabSize) throw new CliException($"{file}:{line}: token id {ids[i]} (position {i}) is outside the model's vocabulary (0..{vocabSize - 1})");
        return new Request(id, ids);
    }

    static int[] Encode(TextSide text, string file, int line, string prompt) => [.. text.Require(file, line).Encode(prompt)];

    static int[] ReadIds(JsonNode? node, string file, int line)
    {
        if (node is not JsonArray array) throw new CliException($"{file}:{line}: \"input_ids\" must be an array of token ids");
        var ids = new int[array.Count];
        for (var i = 0; i < array.Count; i++)
            ids[i] = array[i] is JsonValue v && v.TryGetValue<int>(out var t) && t >= 0 ? t
                : throw new CliException($"{file}:{line}: input_ids[{i}] is not a non-negative integer: {array[i]?.ToJsonString() ?? "null"}");
        return ids;
    }

    static string ReadString(JsonNode? node, string field, string file, int line) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw new CliException($"{file}:{line}: \"{field}\" must be a string");

    static List<ChatMessage> ReadMessages(JsonNode? node, string file, int line)
    {
        if (node is not JsonArray array || array.Count == 0) throw new CliException($"{file}:{line}: \"messages\" must be a non-empty array of {{\"role\", \"content\"}} objects");
        return array.Select((m, i) => m is JsonObject o
            ? new ChatMessage(ReadString(o["role"], $"messages[{i}].role", file, line), ReadString(o["content"], $"messages[{i}].content", file, line))
            : throw new CliException($"{file}:{line}: messages[{i}] is not an object")).ToList();
    }
}
