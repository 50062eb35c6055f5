using System.Text.Json.Nodes;

namespace Rlvr.Model;

/// <summary>
/// The shape and constants of a Qwen2-architecture model, read from a HuggingFace <c>config.json</c>
/// in either form found in the wild: transformers 4.x (top-level <c>rope_theta</c>, <c>torch_dtype</c>)
/// or 5.x (<c>rope_parameters: {rope_theta, rope_type}</c>, <c>dtype</c>). Keys that are absent take
/// the defaults of transformers' <c>Qwen2Config</c>, so a file reads the way transformers reads it.
/// </summary>
public sealed record Qwen2Config
{
    public int VocabSize { get; init; } = 151936;
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 22016;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 32;
    /// <summary>Per-head width: <c>head_dim</c> when the file gives it, else hidden / heads.</summary>
    public int HeadDim { get; init; } = 128;
    public int MaxPositionEmbeddings { get; init; } = 32768;
    public double RopeTheta { get; init; } = 10000.0;
    public double RmsNormEps { get; init; } = 1e-6;
    public double InitializerRange { get; init; } = 0.02;
    /// <summary>Whether the LM head reuses the token embedding (then the checkpoint has no <c>lm_head.weight</c>).</summary>
    public bool TieWordEmbeddings { get; init; }
    public int? BosTokenId { get; init; }
    /// <summary>End-of-sequence ids from config.json (an int or a list there); generation_config.json usually has more.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>The dtype the config says the weights are stored in (informational: the safetensors header decides).</summary>
    public string TorchDtype { get; init; } = "float32";

    /// <summary>Query heads per key/value head (grouped-query attention).</summary>
    public int QueriesPerKeyValue => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>Named configs bundled in <c>assets/qwen2.5/configs/</c>, plus <c>tiny</c>.</summary>
    public static IReadOnlyList<string> NamedConfigs { get; } = ["qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "tiny"];

    /// <summary>
    /// A small Qwen2 with the real vocabulary (so the real tokenizer works with it): quick enough for
    /// end-to-end tests of sampling and training.
    /// </summary>
    public static Qwen2Config Tiny { get; } = new()
    {
        VocabSize = 151936, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16, MaxPositionEmbeddings = 32768,
        RopeTheta = 1000000.0, RmsNormEps = 1e-6, TieWordEmbeddings = true,
        BosTokenId = 151643, EosTokenIds = [151645],
    };

    /// <summary>Reads <paramref name="path"/> (a config.json); errors name the file and the key.</summary>
    public static Qwen2Config Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found", path);
        return FromJson(JsonText.ReadObject(path), path);
    }

    /// <summary>A named config (<see cref="NamedConfigs"/>) or the path of a config.json.</summary>
    public static Qwen2Config LoadNamedOrPath(string nameOrPath) =>
        nameOrPath == "tiny" ? Tiny : Load(NamedConfigPath(nameOrPath) ?? nameOrPath);

    /// <summary>The bundled config.json for a name like <c>qwen2.5-0.5b</c>, or null when there is none.</summary>
    public static string? NamedConfigPath(string name)
    {
        if (!NamedConfigs.Contains(name) || name == "tiny") return null;
        return Assets.Path("assets", "qwen2.5", "configs", name, "config.json");
    }

    public static Qwen2Config FromJson(JsonObject obj, string source)
    {
        var modelType = Str(obj, "model_type", source);
        if (modelType != null && modelType != "qwen2")
            throw new InvalidDataException($"{source}: model_type \"{modelType}\" is not supported (only qwen2)");
        var act = Str(obj, "hidden_act", source);
        if (act != null && act != "silu")
            throw new InvalidDataException($"{source}: hidden_act \"{act}\" is not supported (Qwen2 uses silu)");
        if (Bool(obj, "use_sliding_window", source) == true)
            throw new InvalidDataException($"{source}: use_sliding_window true is not supported (sliding-window attention is not implemented)");

        var d = new Qwen2Config();
        var hidden = Int(obj, "hidden_size", source) ?? d.HiddenSize;
        var heads = Int(obj, "num_attention_heads", source) ?? d.NumAttentionHeads;
        // transformers: num_key_value_heads None means multi-head attention (as many KV heads as heads).
        var kvHeads = Int(obj, "num_key_value_heads", source) ?? heads;
        var headDim = Int(obj, "head_dim", source);
        if (headDim == null && hidden % heads != 0)
            throw new InvalidDataException($"{source}: hidden_size {hidden} is not divisible by num_attention_heads {heads} and no head_dim is given");
        if (heads % kvHeads != 0)
            throw new InvalidDataException($"{source}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");

        var config = new Qwen2Config
        {
            VocabSize = Int(obj, "vocab_size", source) ?? d.VocabSize,
            HiddenSize = hidden,
            IntermediateSize = Int(obj, "intermediate_size", source) ?? d.IntermediateSize,
            NumHiddenLayers = Int(obj, "num_hidden_layers", source) ?? d.NumHiddenLayers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim ?? hidden / heads,
            MaxPositionEmbeddings = Int(obj, "max_position_embeddings", source) ?? d.MaxPositionEmbeddings,
            RopeTheta = RopeThetaOf(obj, source) ?? d.RopeTheta,
            RmsNormEps = Num(obj, "rms_norm_eps", source) ?? d.RmsNormEps,
            InitializerRange = Num(obj, "initializer_range", source) ?? d.InitializerRange,
            TieWordEmbeddings = Bool(obj, "tie_word_embeddings", source) ?? false,
            BosTokenId = Int(obj, "bos_token_id", source),
            EosTokenIds = IdList(obj, "eos_token_id", source),
            TorchDtype = Str(obj, "torch_dtype", source) ?? Str(obj, "dtype", source) ?? "float32",
        };
        foreach (var (key, value) in new[] { ("vocab_size", config.VocabSize), ("hidden_size", hidden), ("intermediate_size", config.IntermediateSize),
                     ("num_hidden_layers", config.NumHiddenLayers), ("num_attention_heads", heads), ("num_key_value_heads", kvHeads), ("head_dim", config.HeadDim) })
            if (value <= 0) throw new InvalidDataException($"{source}: {key} must be positive, got {value}");
        if (config.HeadDim % 2 != 0) throw new InvalidDataException($"{source}: head_dim {config.HeadDim} must be even for rotary embeddings");
        return config;
    }

    /// <summary>
    /// The config.json that transformers 4.x and vLLM load, with <c>torch_dtype</c> set to the dtype the
    /// weights are saved in.
    /// </summary>
    public JsonObject ToJson(string torchDtype)
    {
        var obj = new JsonObject
        {
            ["architectures"] = new JsonArray("Qwen2ForCausalLM"),
            ["model_type"] = "qwen2",
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Count == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(i => (JsonNode?)i).ToArray()),
            ["hidden_act"] = "silu",
            ["hidden_size"] = HiddenSize,
            ["initializer_range"] = InitializerRange,
            ["intermediate_size"] = IntermediateSize,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["max_window_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_scaling"] = null,
            ["rope_theta"] = RopeTheta,
            ["sliding_window"] = MaxPositionEmbeddings,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["torch_dtype"] = torchDtype,
            ["transformers_version"] = "4.49.0",
            ["use_cache"] = true,
            ["use_sliding_window"] = false,
            ["vocab_size"] = VocabSize,
        };
        // Only where it differs from hidden/heads: older transformers versions ignore head_dim for qwen2.
        if (HeadDim * NumAttentionHeads != HiddenSize) obj["head_dim"] = HeadDim;
        return obj;
    }

    /// <summary>4.x has top-level rope_theta; 5.x nests it in rope_parameters. Scaled rope types are not implemented.</summary>
    static double? RopeThetaOf(JsonObject obj, string source)
    {
        foreach (var key in new[] { "rope_scaling", "rope_parameters" })
        {
            if (obj[key] is not JsonObject rope) continue;
            var type = Str(rope, "rope_type", source) ?? Str(rope, "type", source) ?? "default";
            if (type != "default")
                throw new InvalidDataException($"{source}: {key}.rope_type \"{type}\" is not supported (only default rotary embeddings)");
            if (Num(rope, "rope_theta", source) is { } nested) return nested;
        }
        return Num(obj, "rope_theta", source);
    }

    static JsonNode? Present(JsonObject obj, string key) =>
        obj.TryGetPropertyValue(key, out var n) && n != null ? n : null;

    static string? Str(JsonObject obj, string key, string source) => Present(obj, key) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new InvalidDataException($"{source}: {key} must be a string"),
    };

    static double? Num(JsonObject obj, string key, string source) => Present(obj, key) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<double>(out var x) => x,
        _ => throw new InvalidDataException($"{source}: {key} must be a number"),
    };

    static int? Int(JsonObject obj, string key, string source) => Present(obj, key) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        JsonValue v when v.TryGetValue<double>(out var x) && x == System.Math.Floor(x) && System.Math.Abs(x) < int.MaxValue => (int)x,
        _ => throw new InvalidDataException($"{source}: {key} must be an integer"),
    };

    static bool? Bool(JsonObject obj, string key, string source) => Present(obj, key) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new InvalidDataException($"{source}: {key} must be true or false"),
    };

    /// <summary>An id or a list of ids (eos_token_id takes both forms).</summary>
    internal static IReadOnlyList<int> IdList(JsonObject obj, string key, string source) => Present(obj, key) switch
    {
        null => [],
        JsonArray a => a.Select((n, i) => n is JsonValue v && v.TryGetValue<int>(out var id) ? id
            : throw new InvalidDataException($"{source}: {key}[{i}] must be an integer")).ToArray(),
        _ => [Int(obj, key, source)!.Value],
    };

    internal static int? OptionalInt(JsonObject obj, string key, string source) => Int(obj, key, source);
}
