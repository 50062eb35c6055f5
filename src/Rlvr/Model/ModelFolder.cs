using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>A model loaded from a folder: where it came from, its config, weights and generation config.</summary>
public sealed record LoadedModel(string Directory, Qwen2Config Config, Qwen2ForCausalLM Model, GenerationConfig Generation) : IDisposable
{
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// HuggingFace model folders: config.json, generation_config.json, model.safetensors (or shards with
/// model.safetensors.index.json) and the tokenizer files. What <see cref="Save"/> writes, transformers'
/// <c>from_pretrained</c> and vLLM load.
/// </summary>
public static class ModelFolder
{
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>transformers' default max_shard_size: bigger saves are split into shards with an index.</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>Tokenizer files of a HuggingFace folder, copied along when saving.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } =
        ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja"];

    /// <summary>
    /// Loads a model folder or Hub id (see <see cref="ModelReference"/>) onto <paramref name="device"/>,
    /// computing in <paramref name="dtype"/> (fp32 by default, whatever the weights are stored in). A PEFT LoRA adapter
    /// folder (adapter_config.json, no config.json) loads its base model with the adapter applied.
    /// </summary>
    public static LoadedModel Load(string dirOrHubId, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (Directory.Exists(dirOrHubId) && LoraAdapter.IsAdapterFolder(dirOrHubId) && !File.Exists(Path.Combine(dirOrHubId, "config.json")))
            return LoraAdapter.LoadWithBase(dirOrHubId, device: device, dtype: dtype);
        var dir = ModelReference.Resolve(dirOrHubId);
        var config = Qwen2Config.Load(Path.Combine(dir, "config.json"));
        var generation = GenerationConfig.Load(dir, config);
        var model = new Qwen2ForCausalLM(config, device, dtype);
        try
        {
            LoadWeights(model, dir);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return new LoadedModel(dir, config, model, generation);
    }

    /// <summary>A model with seeded random weights for a bundled config name (qwen2.5-0.5b, tiny, ...) or a config.json
    /// path: timings do not depend on the weights, so benchmarks need no checkpoint.</summary>
    public static LoadedModel Random(string configNameOrPath, long seed = 0, ScalarType dtype = ScalarType.Float32)
    {
        if (!Qwen2Config.NamedConfigs.Contains(configNameOrPath) && !File.Exists(configNameOrPath))
            throw new FileNotFoundException($"{configNameOrPath}: neither a bundled config ({string.Join(", ", Qwen2Config.NamedConfigs)}) nor an existing config.json");
        var config = Qwen2Config.LoadNamedOrPath(configNameOrPath);
        var model = new Qwen2ForCausalLM(config, dtype: dtype);
        model.InitializeWeights(seed);
        model.eval();
        return new LoadedModel($"random {configNameOrPath}", config, model, GenerationConfig.FromModelConfig(config));
    }

    /// <summary>
    /// Fills every parameter of <paramref name="model"/> from the safetensors in <paramref name="dir"/>,
    /// tensor by tensor (no whole-file buffer). Errors name the file and the tensor: a shape that
    /// disagrees with config.json, an integer dtype where a float is expected, NaN or infinite values,
    /// a tensor the model lacks, a parameter no file has.
    /// </summary>
    public static void LoadWeights(Qwen2ForCausalLM model, string dir)
    {
        var expected = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var loadedFrom = new Dictionary<string, string>();
        foreach (var file in WeightFiles(dir))
        {
            using var st = SafeTensorsFile.Open(file);
            foreach (var name in st.Tensors.Keys)
            {
                if (!expected.TryGetValue(name, out var parameter))
                {
                    if (IsIgnorable(name, model.Config)) continue;
                    throw new InvalidDataException($"{file}: unexpected tensor {name} (not a parameter of the Qwen2 model that config.json describes)");
                }
                if (loadedFrom.TryGetValue(name, out var other))
                    throw new InvalidDataException($"{file}: tensor {name} is also in {other}");
                st.ReadInto(name, parameter);
                using (torch.no_grad())
                    if (!parameter.isfinite().all().item<bool>())
                        throw new InvalidDataException($"{file}: tensor {name} holds NaN or infinite values (the weights of a diverged run?)");
                loadedFrom[name] = file;
            }
        }
        var missing = expected.Keys.Where(n => !loadedFrom.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{dir}: missing tensor{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Take(5))}"
                + (missing.Count > 5 ? $" and {missing.Count - 5} more" : "") + " (no weight file has it)");
    }

    /// <summary>
    /// Tensors checkpoints carry that are not parameters here: rotary inv_freq buffers (old
    /// transformers), and lm_head.weight of a tied model (the head is the embedding; vLLM skips it too).
    /// </summary>
    static bool IsIgnorable(string name, Qwen2Config config) =>
        name.EndsWith("rotary_emb.inv_freq") || (config.TieWordEmbeddings && name == "lm_head.weight");

    /// <summary>The weight files of a folder: the shards its index lists, or model.safetensors.</summary>
    public static IReadOnlyList<string> WeightFiles(string dir)
    {
        var index = Path.Combine(dir, IndexFile);
        if (File.Exists(index))
        {
            if (JsonText.ReadObject(index)["weight_map"] is not JsonObject map) throw new InvalidDataException($"{index}: no weight_map object");
            var files = map.Select(kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var f) ? f
                : throw new InvalidDataException($"{index}: weight_map entry for {kv.Key} is not a file name")).Distinct().ToList();
            foreach (var f in files)
                if (f.Contains('/') || f.Contains('\\') || !File.Exists(Path.Combine(dir, f)))
                    throw new FileNotFoundException($"{index}: lists shard {f}, which is not in {dir}", Path.Combine(dir, f));
            return files.Select(f => Path.Combine(dir, f)).ToList();
        }
        var single = Path.Combine(dir, WeightsFile);
        if (File.Exists(single)) return [single];
        var hint = Directory.EnumerateFiles(dir, "*.bin").Any() ? " (PyTorch .bin weights are not supported: convert them to safetensors)" : "";
        throw new FileNotFoundException($"{dir}: no {WeightsFile} or {IndexFile}{hint}", single);
    }

    /// <summary>
    /// Writes a HuggingFace model folder: weights as <paramref name="dtype"/> (fp32 or bf16/f16) in
    /// model.safetensors, or in shards plus an index above <paramref name="maxShardBytes"/>; config.json
    /// (transformers 4.x form, torch_dtype = the stored dtype); generation_config.json (<paramref name="generation"/>,
    /// else the source folder's, else derived from config.json); and the tokenizer files of
    /// <paramref name="tokenizerSourceDir"/>. Every file is written to a temporary name and renamed, and
    /// weight files of an earlier save that this one does not use are removed.
    /// </summary>
    public static void Save(Qwen2ForCausalLM model, string dir, ScalarType dtype = ScalarType.Float32, string? tokenizerSourceDir = null,
        GenerationConfig? generation = null, long maxShardBytes = DefaultMaxShardBytes)
    {
        var dtypeName = TorchDtypeName(dtype);
        Directory.CreateDirectory(dir);
        var tensors = model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList();
        var shards = Shard(tensors, SafeTensors.ElementSize(dtype), maxShardBytes);
        var written = new HashSet<string>();
        if (shards.Count == 1)
        {
            SafeTensors.Write(Path.Combine(dir, WeightsFile), tensors, dtype);
            written.Add(WeightsFile);
        }
        else
        {
            var weightMap = new JsonObject();
            for (var i = 0; i < shards.Count; i++)
            {
                var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                SafeTensors.Write(Path.Combine(dir, name), shards[i], dtype);
                written.Add(name);
                foreach (var (tensorName, _) in shards[i]) weightMap[tensorName] = name;
            }
            var total = tensors.Sum(t => t.Item2.numel()) * SafeTensors.ElementSize(dtype);
            WriteJson(Path.Combine(dir, IndexFile), new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap });
            written.Add(IndexFile);
        }
        foreach (var stale in Directory.EnumerateFiles(dir, "model*.safetensors*").Select(Path.GetFileName))
            if (!written.Contains(stale!)) File.Delete(Path.Combine(dir, stale!));

        WriteJson(Path.Combine(dir, "config.json"), model.Config.ToJson(dtypeName));
        var sourceGeneration = tokenizerSourceDir is null ? null : Path.Combine(tokenizerSourceDir, GenerationConfig.FileName);
        generation ??= sourceGeneration != null && File.Exists(sourceGeneration)
            ? GenerationConfig.Load(tokenizerSourceDir!, model.Config)
            : GenerationConfig.FromModelConfig(model.Config);
        WriteJson(Path.Combine(dir, GenerationConfig.FileName), generation.Json);

        if (tokenizerSourceDir != null && Path.GetFullPath(tokenizerSourceDir) != Path.GetFullPath(dir))
            foreach (var file in TokenizerFiles)
            {
                var source = Path.Combine(tokenizerSourceDir, file);
                if (!File.Exists(source)) continue;
                AtomicFile.Write(Path.Combine(dir, file), stream =>
                {
                    using var input = File.OpenRead(source);
                    input.CopyTo(stream);
                });
            }
    }

    /// <summary>Consecutive groups of tensors of at most <paramref name="maxBytes"/> each (a bigger tensor gets a shard of its own).</summary>
    static List<List<(string Name, Tensor Tensor)>> Shard(List<(string Name, Tensor Tensor)> tensors, long elementSize, long maxBytes)
    {
        var shards = new List<List<(string, Tensor)>> { new() };
        long size = 0;
        foreach (var t in tensors)
        {
            var bytes = t.Tensor.numel() * elementSize;
            if (size > 0 && size + bytes > maxBytes) { shards.Add([]); size = 0; }
            shards[^1].Add(t);
            size += bytes;
        }
        return shards;
    }

    /// <summary>The name transformers uses in config.json for a dtype.</summary>
    public static string TorchDtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"models are saved as float32, bfloat16 or float16, not {dtype}"),
    };

    /// <summary>float32 / bfloat16 / float16 (also fp32, bf16, fp16) → the dtype.</summary>
    public static ScalarType ParseDtype(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" => ScalarType.Float16,
        _ => throw new FormatException($"unknown dtype \"{name}\" (expected float32, bfloat16 or float16)"),
    };

    static void WriteJson(string path, JsonNode node) =>
        AtomicFile.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
