using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlvr.Model;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr init-model</c>: a randomly initialised Qwen2 model folder (HuggingFace format) of any shape, with the
/// real Qwen2.5 tokenizer files or those of a tokenizer folder (e.g. one from <c>rlvr train-tokenizer</c>), for
/// tests, benchmarks and as the starting point of supervised fine-tuning.
/// </summary>
public static class InitModelCommand
{
    /// <summary>Shape options; null = the base config's value.</summary>
    public sealed record ShapeOptions(
        int? Layers = null, int? HiddenSize = null, int? Heads = null, int? KvHeads = null, int? IntermediateSize = null,
        int? MaxPositionEmbeddings = null, double? RopeTheta = null, bool? TieWordEmbeddings = null);

    public static Command Create()
    {
        var config = new Option<string>("--config")
        {
            Description = $"The base config: a bundled one ({string.Join(", ", Qwen2Config.NamedConfigs)}) or the path of a Qwen2 config.json; the options below override it",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "Folder to write the model into", Required = true };
        var seed = new Option<long>("--seed") { Description = "Random seed for the weights (same seed, same weights)", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype: float32, bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        var force = new Option<bool>("--force") { Description = "Overwrite a folder that already holds a model" };
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "Tokenizer folder whose files the model gets instead of the bundled Qwen2.5 ones (e.g. from rlvr train-tokenizer); " +
                          "vocab_size becomes its number of ids, eos/pad/bos come from its <|im_end|> and <|endoftext|>",
        };
        var layers = new Option<int?>("--layers") { Description = "num_hidden_layers" };
        var hidden = new Option<int?>("--hidden-size") { Description = "hidden_size (head_dim becomes hidden-size / heads when this or --heads is given)" };
        var heads = new Option<int?>("--heads") { Description = "num_attention_heads" };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "num_key_value_heads (must divide --heads)" };
        var intermediate = new Option<int?>("--intermediate-size") { Description = "intermediate_size of the MLP" };
        var maxPositions = new Option<int?>("--max-position-embeddings") { Description = "max_position_embeddings" };
        var ropeTheta = new Option<double?>("--rope-theta") { Description = "rope_theta" };
        var tie = new Option<bool?>("--tie-word-embeddings") { Description = "tie_word_embeddings: true (the LM head is the embedding) or false" };
        var cmd = new Command("init-model", "Write a randomly initialised Qwen2 model folder (normal(0, initializer_range) weights, unit norms, zero biases).")
        {
            config, output, seed, dtype, force, tokenizer, layers, hidden, heads, kvHeads, intermediate, maxPositions, ropeTheta, tie,
        };
        cmd.SetAction(parse => Run(parse.GetValue(config)!, parse.GetValue(output)!, parse.GetValue(seed), parse.GetValue(dtype)!, parse.GetValue(force),
            parse.GetValue(tokenizer),
            new ShapeOptions(parse.GetValue(layers), parse.GetValue(hidden), parse.GetValue(heads), parse.GetValue(kvHeads), parse.GetValue(intermediate),
                parse.GetValue(maxPositions), parse.GetValue(ropeTheta), parse.GetValue(tie))));
        return cmd;
    }

    static int Run(string configName, string outDir, long seed, string dtypeName, bool force, string? tokenizerDir, ShapeOptions shape)
    {
        var dtype = ModelFolder.ParseDtype(dtypeName);
        var isNamed = Qwen2Config.NamedConfigs.Contains(configName);
        if (!isNamed && !File.Exists(configName))
            throw new CliException($"--config {configName}: neither a bundled config ({string.Join(", ", Qwen2Config.NamedConfigs)}) nor an existing config.json");
        if (!force && File.Exists(Path.Combine(outDir, "config.json")))
            throw new CliException($"{outDir} already holds a model (config.json); pass --force to overwrite it");
        var config = WithShape(Qwen2Config.LoadNamedOrPath(configName), shape);

        GenerationConfig generation;
        if (tokenizerDir != null)
        {
            var tokenizer = LoadTokenizer(tokenizerDir);
            (config, generation) = ForTokenizer(config, tokenizer, tokenizerDir);
        }
        else
        {
            if (config.VocabSize < 151665)
                Console.Error.WriteLine($"warning: vocab_size {config.VocabSize} is smaller than the bundled Qwen2.5 tokenizer's (151665 ids)");
            generation = GenerationConfigFor(configName, isNamed);
        }

        var sw = Stopwatch.StartNew();
        using var model = new Qwen2ForCausalLM(config);
        model.InitializeWeights(seed);
        var parameters = model.parameters().Sum(p => p.numel());
        Console.Error.WriteLine($"init-model: {parameters:N0} parameters initialised in {sw.Elapsed.TotalSeconds:F1} s (seed {seed}; " +
                                $"{config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} KV heads, " +
                                $"intermediate {config.IntermediateSize}, vocab {config.VocabSize})");

        sw.Restart();
        ModelFolder.Save(model, outDir, dtype, tokenizerDir ?? Assets.QwenTokenizerDir, generation);
        Console.Error.WriteLine($"init-model: saved {outDir} ({ModelFolder.TorchDtypeName(dtype)}) in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>
    /// <paramref name="config"/> with the shape options applied, checked so that every error names the option at fault.
    /// head_dim is recomputed as hidden / heads when either is given; otherwise the base config's stays.
    /// </summary>
    public static Qwen2Config WithShape(Qwen2Config config, ShapeOptions o)
    {
        foreach (var (name, value) in new[] { ("--layers", o.Layers), ("--hidden-size", o.HiddenSize), ("--heads", o.Heads), ("--kv-heads", o.KvHeads),
                     ("--intermediate-size", o.IntermediateSize), ("--max-position-embeddings", o.MaxPositionEmbeddings) })
            if (value is <= 0) throw new CliException($"{name} {value}: must be positive");
        if (o.RopeTheta is { } theta && !(theta > 0 && double.IsFinite(theta)))
            throw new CliException($"--rope-theta {theta}: must be a positive number");

        var hidden = o.HiddenSize ?? config.HiddenSize;
        var heads = o.Heads ?? config.NumAttentionHeads;
        var kvHeads = o.KvHeads ?? config.NumKeyValueHeads;
        var headDim = config.HeadDim;
        if (o.HiddenSize != null || o.Heads != null)
        {
            if (hidden % heads != 0)
                throw new CliException($"--hidden-size {hidden} is not divisible by --heads {heads}{Given(o.HiddenSize, o.Heads)}");
            headDim = hidden / heads;
            if (headDim % 2 != 0)
                throw new CliException($"--hidden-size {hidden} / --heads {heads} gives a head dim of {headDim}; rotary embeddings need it even{Given(o.HiddenSize, o.Heads)}");
        }
        if (heads % kvHeads != 0)
            throw new CliException($"--heads {heads} is not a multiple of --kv-heads {kvHeads}{Given(o.Heads, o.KvHeads)}");
        return config with
        {
            NumHiddenLayers = o.Layers ?? config.NumHiddenLayers,
            HiddenSize = hidden,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            IntermediateSize = o.IntermediateSize ?? config.IntermediateSize,
            MaxPositionEmbeddings = o.MaxPositionEmbeddings ?? config.MaxPositionEmbeddings,
            RopeTheta = o.RopeTheta ?? config.RopeTheta,
            TieWordEmbeddings = o.TieWordEmbeddings ?? config.TieWordEmbeddings,
        };
    }

    /// <summary>Says which of two values came from --config rather than the command line.</summary>
    static string Given(object? first, object? second) =>
        first != null && second != null ? "" : " (the value not given on the command line comes from --config)";

    static QwenTokenizer LoadTokenizer(string dir)
    {
        try { return QwenTokenizer.Load(dir); }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new CliException($"--tokenizer {dir}: {e.Message}", e);
        }
    }

    /// <summary>
    /// vocab_size = the tokenizer's number of ids exactly (no padding to a multiple of 64 or 128: at the sizes of
    /// trained tokenizers every row counts, and train-tokenizer's --vocab-size already is the row count).
    /// Stop ids: &lt;|im_end|&gt; (a chat turn's end) then &lt;|endoftext|&gt;, pad and bos &lt;|endoftext|&gt;, as Qwen2.5-Instruct.
    /// </summary>
    static (Qwen2Config, GenerationConfig) ForTokenizer(Qwen2Config config, QwenTokenizer tokenizer, string dir)
    {
        var imEnd = tokenizer.TokenId("<|im_end|>");
        var endOfText = tokenizer.TokenId("<|endoftext|>");
        int[] eos = [.. new[] { imEnd, endOfText }.OfType<int>()];
        if (eos.Length == 0) throw new CliException($"--tokenizer {dir}: has neither <|im_end|> nor <|endoftext|>, so generation would have no stop token");
        config = config with { VocabSize = tokenizer.VocabSize, BosTokenId = endOfText, EosTokenIds = [eos[0]] };
        var json = new JsonObject
        {
            ["bos_token_id"] = endOfText,
            ["eos_token_id"] = new JsonArray(eos.Select(i => (JsonNode?)i).ToArray()),
            ["pad_token_id"] = endOfText ?? eos[0],
        };
        return (config, GenerationConfig.FromJson(json, $"generation config for {dir}"));
    }

    /// <summary>The generation_config.json next to the config when there is one; else Qwen2.5-Instruct's (the tokenizer written is Qwen2.5's).</summary>
    static GenerationConfig GenerationConfigFor(string configName, bool isNamed)
    {
        var configPath = isNamed ? Qwen2Config.NamedConfigPath(configName) : configName;
        var dir = configPath is null ? null : Path.GetDirectoryName(Path.GetFullPath(configPath));
        return dir != null && File.Exists(Path.Combine(dir, GenerationConfig.FileName))
            ? GenerationConfig.Load(dir, Qwen2Config.LoadNamedOrPath(configName))
            : GenerationConfig.Qwen25Instruct;
    }
}
