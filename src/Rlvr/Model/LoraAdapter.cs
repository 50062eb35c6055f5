using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>LoRA hyper-parameters, with PEFT's names in <c>adapter_config.json</c> (r, lora_alpha, lora_dropout, target_modules).</summary>
public sealed record LoraOptions(int Rank, double Alpha, double Dropout, IReadOnlyList<string> Targets)
{
    /// <summary>Every projection of a Qwen2 decoder layer: the target list of PEFT's common Qwen recipes.</summary>
    public static readonly string[] AllProjections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>alpha / r: the factor of B A.</summary>
    public double Scale => Alpha / Rank;

    /// <summary>Checks the values; messages name the training option.</summary>
    public void Validate()
    {
        if (Rank < 1) throw new ArgumentException($"lora_rank: {Rank} must be >= 1");
        if (!(Alpha > 0)) throw new ArgumentException($"lora_alpha: {Alpha} must be > 0");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"lora_dropout: {Dropout} must be in [0, 1)");
        if (Targets.Count == 0) throw new ArgumentException("lora_targets: empty");
        foreach (var t in Targets)
            if (!AllProjections.Contains(t))
                throw new ArgumentException($"lora_targets: '{t}' is not a Qwen2 projection ({string.Join(", ", AllProjections)})");
    }

    /// <summary>A comma-separated target list (spaces ignored).</summary>
    public static string[] ParseTargets(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>
/// LoRA adapter folders in PEFT's layout: <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>, whose
/// tensors are named <c>base_model.model.{module}.lora_A.weight</c> [r, in] and <c>...lora_B.weight</c> [out, r]
/// for each adapted module (<c>model.layers.3.self_attn.q_proj</c>). PEFT's <c>PeftModel.from_pretrained</c> and
/// vLLM's LoRA loading read these folders; <see cref="Load"/> reads PEFT's.
/// </summary>
public static class LoraAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    /// <summary>The prefix PEFT puts before the base model's module names in saved adapters.</summary>
    public const string NamePrefix = "base_model.model.";

    public static bool IsAdapterFolder(string dir) => File.Exists(Path.Combine(dir, ConfigFile));

    /// <summary>Writes the model's adapters (atomically, file by file) with <paramref name="baseModel"/> as base_model_name_or_path.</summary>
    public static void Save(Qwen2ForCausalLM model, string dir, string baseModel)
    {
        var options = model.Lora ?? throw new InvalidOperationException("the model has no LoRA adapters to save");
        Directory.CreateDirectory(dir);
        SafeTensors.Write(Path.Combine(dir, WeightsFile),
            model.AdapterParameters().Select(p => (NamePrefix + p.Name, (Tensor)p.Parameter)).ToList());
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["r"] = options.Rank,
            ["lora_alpha"] = options.Alpha,
            ["lora_dropout"] = options.Dropout,
            ["target_modules"] = new JsonArray(options.Targets.Select(t => (JsonNode?)t).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["modules_to_save"] = null,
            ["base_model_name_or_path"] = baseModel,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["use_rslora"] = false,
            ["use_dora"] = false,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>The options and base model of an adapter folder; what rlvr cannot apply (DoRA, rsLoRA, biases, other
    /// target modules, extra trained modules) is an error naming the file and the key.</summary>
    public static (LoraOptions Options, string? BaseModel) ReadConfig(string dir)
    {
        var path = Path.Combine(dir, ConfigFile);
        var json = JsonText.ReadObject(path);
        T Get<T>(string key, T fallback)
        {
            try { return json[key] is { } node ? node.GetValue<T>() : fallback; }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            { throw new InvalidDataException($"{path}: '{key}' is not {typeof(T).Name}"); }
        }
        if (Get("peft_type", "LORA") != "LORA") throw new InvalidDataException($"{path}: peft_type '{json["peft_type"]}' is not LORA");
        foreach (var flag in new[] { "use_dora", "use_rslora", "fan_in_fan_out" })
            if (Get(flag, false)) throw new InvalidDataException($"{path}: '{flag}' is true; rlvr applies plain LoRA only");
        if (Get("bias", "none") != "none") throw new InvalidDataException($"{path}: bias '{json["bias"]}' is not supported (only \"none\")");
        if (json["modules_to_save"] is JsonArray { Count: > 0 }) throw new InvalidDataException($"{path}: modules_to_save is not supported");
        var targets = json["target_modules"] switch
        {
            JsonArray a => a.Select(n => n?.GetValue<string>() ?? "").ToArray(),
            JsonValue v when v.TryGetValue<string>(out var s) => throw new InvalidDataException($"{path}: target_modules as a pattern ('{s}') is not supported; list the module names"),
            _ => throw new InvalidDataException($"{path}: no target_modules"),
        };
        var options = new LoraOptions(Get("r", 0), Get("lora_alpha", 0.0), Get("lora_dropout", 0.0), targets);
        try { options.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
        return (options, json["base_model_name_or_path"]?.GetValue<string>());
    }

    /// <summary>
    /// Adds the adapter of <paramref name="dir"/> to <paramref name="model"/> (which must have none) and fills it from
    /// adapter_model.safetensors; a tensor the adapter should have and the file lacks, one it should not have, or a
    /// shape that disagrees with the model is an error naming the file and the tensor.
    /// </summary>
    public static void Load(Qwen2ForCausalLM model, string dir)
    {
        var (options, _) = ReadConfig(dir);
        model.AddAdapters(options, seed: 0);
        LoadWeights(model, dir);
    }

    /// <summary>Fills the model's existing adapters from <paramref name="dir"/>'s adapter_model.safetensors.</summary>
    public static void LoadWeights(Qwen2ForCausalLM model, string dir)
    {
        var path = Path.Combine(dir, WeightsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{dir}: no {WeightsFile}", path);
        var expected = model.AdapterParameters().ToDictionary(p => NamePrefix + p.Name, p => p.Parameter);
        using var file = SafeTensorsFile.Open(path);
        foreach (var name in file.Tensors.Keys)
            if (!expected.ContainsKey(name))
                throw new InvalidDataException($"{path}: unexpected tensor {name} (not an adapter of the modules adapter_config.json targets)");
        foreach (var (name, parameter) in expected)
        {
            if (!file.Tensors.ContainsKey(name)) throw new InvalidDataException($"{path}: missing tensor {name}");
            file.ReadInto(name, parameter);
        }
    }

    /// <summary>
    /// The policy of a LoRA run: the base in <paramref name="baseDtype"/> with new adapters (A drawn from <paramref name="seed"/>),
    /// or, resuming, the adapters of the checkpoint folder <paramref name="checkpoint"/> (which must have the same options).
    /// </summary>
    public static LoadedModel LoadForTraining(string baseModel, LoraOptions options, ScalarType baseDtype, long seed, string? checkpoint, Device? device = null)
    {
        var loaded = ModelFolder.Load(baseModel, device, baseDtype);
        try
        {
            loaded.Model.AddAdapters(options, seed);
            if (checkpoint is not null)
            {
                var (saved, _) = ReadConfig(checkpoint);
                if (saved.Rank != options.Rank || saved.Alpha != options.Alpha || !saved.Targets.SequenceEqual(options.Targets))
                    throw new InvalidDataException($"{Path.Combine(checkpoint, ConfigFile)}: r {saved.Rank}, alpha {saved.Alpha}, targets {string.Join(",", saved.Targets)} differ from the run's config");
                LoadWeights(loaded.Model, checkpoint);
            }
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        return loaded;
    }

    /// <summary>
    /// A base model with an adapter applied: the base named by the adapter's base_model_name_or_path (or
    /// <paramref name="baseModel"/> when given), its weights in <paramref name="dtype"/>, then the adapter. The
    /// LoadedModel's Directory is the base's (tokenizer, generation config).
    /// </summary>
    public static LoadedModel LoadWithBase(string adapterDir, string? baseModel = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var (_, configured) = ReadConfig(adapterDir);
        var baseRef = baseModel ?? configured
            ?? throw new InvalidDataException($"{Path.Combine(adapterDir, ConfigFile)}: no base_model_name_or_path; give the base model");
        var loaded = ModelFolder.Load(baseRef, device, dtype);
        try
        {
            Load(loaded.Model, adapterDir);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        return loaded;
    }
}
