using System.Text.Json.Nodes;

namespace Rlvr.Model;

/// <summary>
/// What <c>generation_config.json</c> says about stopping and padding. The sampler uses
/// <see cref="EosTokenIds"/> as its default stop tokens (Qwen2.5-Instruct: [151645 &lt;|im_end|&gt;, 151643 &lt;|endoftext|&gt;]).
/// The file's other keys (temperature, top_p, ...) are kept verbatim in <see cref="Json"/> so a saved
/// folder carries them on.
/// </summary>
public sealed record GenerationConfig(IReadOnlyList<int> EosTokenIds, int? BosTokenId, int? PadTokenId, JsonObject Json)
{
    public const string FileName = "generation_config.json";

    /// <summary>Qwen2.5-Instruct's generation config (the bundled 3B folder lacks the file; the values are the published ones).</summary>
    public static GenerationConfig Qwen25Instruct => FromJson(new JsonObject
    {
        ["bos_token_id"] = 151643,
        ["do_sample"] = true,
        ["eos_token_id"] = new JsonArray(151645, 151643),
        ["pad_token_id"] = 151643,
        ["repetition_penalty"] = 1.05,
        ["temperature"] = 0.7,
        ["top_k"] = 20,
        ["top_p"] = 0.8,
        ["transformers_version"] = "4.49.0",
    }, "built-in Qwen2.5 generation config");

    /// <summary>
    /// <c>generation_config.json</c> in <paramref name="dir"/>; without it, what transformers derives from
    /// config.json (its bos and eos ids).
    /// </summary>
    public static GenerationConfig Load(string dir, Qwen2Config config)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return FromModelConfig(config);
        var loaded = FromJson(JsonText.ReadObject(path), path);
        return loaded.EosTokenIds.Count > 0 ? loaded : loaded with { EosTokenIds = config.EosTokenIds };
    }

    public static GenerationConfig FromModelConfig(Qwen2Config config)
    {
        var obj = new JsonObject { ["bos_token_id"] = config.BosTokenId };
        obj["eos_token_id"] = config.EosTokenIds.Count == 1 ? JsonValue.Create(config.EosTokenIds[0]) : new JsonArray(config.EosTokenIds.Select(i => (JsonNode?)i).ToArray());
        return new GenerationConfig(config.EosTokenIds, config.BosTokenId, null, obj);
    }

    public static GenerationConfig FromJson(JsonObject obj, string source) => new(
        Qwen2Config.IdList(obj, "eos_token_id", source),
        Qwen2Config.OptionalInt(obj, "bos_token_id", source),
        Qwen2Config.OptionalInt(obj, "pad_token_id", source),
        obj);
}
