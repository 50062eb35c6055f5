using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rlvr.Model;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>
/// Checkpoints of a run: <c>checkpoints/step_NNNNNN/</c> is a HuggingFace model folder (fp32, so a
/// resumed run continues from exactly the same weights; its top level holds only the model's own
/// <c>*.safetensors</c>, so vLLM and SGLang load it as it is) plus <c>optimizer/optimizer.safetensors</c>
/// (AdamW moments), <c>trainer_state.json</c> and <c>manifest.json</c>.
/// </summary>
/// <remarks>
/// Complete by construction: every file is written and flushed under <c>step_NNNNNN.tmp/</c>, the manifest
/// (every file with its size) last, and the folder is then renamed into place; a checkpoint counts only when
/// its manifest matches the files. Pruning renames a checkpoint away (<c>.deleting</c>) before deleting it, so
/// a kill mid-prune never leaves a half-deleted folder under a checkpoint's name.
/// </remarks>
public static partial class Checkpoint
{
    public const string StateFile = "trainer_state.json";
    public const string ManifestFile = "manifest.json";
    /// <summary>Below the model folder's top level, where model loaders (which take every top-level *.safetensors) do not look.</summary>
    public static readonly string OptimizerFile = Path.Combine("optimizer", "optimizer.safetensors");
    /// <summary>Where run folders written before the optimizer moved kept it (still read on resume).</summary>
    public const string LegacyOptimizerFile = "optimizer.safetensors";

    const string TemporarySuffix = ".tmp";
    const string DeletingSuffix = ".deleting";

    public static string Folder(string runDir, int step) => new Reporting.RunLayout(runDir).Checkpoint(step);

    /// <summary>
    /// Saves the policy, the optimizer state and the step; the tokenizer files come from <paramref name="tokenizerDir"/>
    /// (the run's own copy, never an earlier checkpoint that pruning may remove). Keeps the newest <paramref name="keep"/>
    /// checkpoints (0 = all). Refuses weights that are not finite.
    /// </summary>
    public static void Save(string runDir, int step, LoadedModel policy, AdamW optimizer, int keep, string tokenizerDir)
    {
        if (NonFiniteTensor(policy.Model) is { } bad)
            throw new InvalidDataException($"step {step}: weight {bad} holds NaN or infinite values; no checkpoint is written");
        RemoveLeftovers(runDir);
        var final = Folder(runDir, step);
        var temporary = final + TemporarySuffix;
        if (policy.Model.Lora is not null) LoraAdapter.Save(policy.Model, temporary, policy.Directory);   // a PEFT adapter folder
        else ModelFolder.Save(policy.Model, temporary, ScalarType.Float32, tokenizerDir, policy.Generation);
        SafeTensors.Write(Path.Combine(temporary, OptimizerFile),
            optimizer.StateTensors().OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList());
        var state = new JsonObject { ["step"] = step, ["optimizer_step"] = optimizer.Step };
        AtomicFile.WriteAllText(Path.Combine(temporary, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        WriteManifest(temporary);
        if (Directory.Exists(final)) DeleteAtomically(final);
        Directory.Move(temporary, final);
        if (keep > 0)
            foreach (var old in Completed(runDir).OrderByDescending(s => s).Skip(keep))
                DeleteAtomically(Folder(runDir, old));
    }

    /// <summary>The first parameter with a NaN or infinite value, or null.</summary>
    public static string? NonFiniteTensor(Qwen2ForCausalLM model)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.NamedParameters())
            using (NewDisposeScope())
                if (!p.isfinite().all().item<bool>()) return name;
        return null;
    }

    /// <summary>Renames the folder away, then deletes it: the checkpoint's name is gone in one step.</summary>
    static void DeleteAtomically(string folder)
    {
        var away = folder + DeletingSuffix;
        if (Directory.Exists(away)) Directory.Delete(away, recursive: true);
        Directory.Move(folder, away);
        Directory.Delete(away, recursive: true);
    }

    /// <summary>Half-written (<c>.tmp</c>) and half-deleted (<c>.deleting</c>) folders a crash or kill left behind.</summary>
    static void RemoveLeftovers(string runDir)
    {
        var dir = Path.Combine(runDir, "checkpoints");
        if (!Directory.Exists(dir)) return;
        foreach (var sub in Directory.GetDirectories(dir))
            if (sub.EndsWith(TemporarySuffix) || sub.EndsWith(DeletingSuffix)) Directory.Delete(sub, recursive: true);
    }

    /// <summary>manifest.json: every file of the folder (relative path, forward slashes) with its size in bytes.</summary>
    static void WriteManifest(string folder)
    {
        var files = new JsonObject();
        foreach (var (relative, size) in Files(folder)) files[relative] = size;
        AtomicFile.WriteAllText(Path.Combine(folder, ManifestFile),
            new JsonObject { ["files"] = files }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    static IEnumerable<(string Relative, long Size)> Files(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => (Path.GetRelativePath(folder, f).Replace('\\', '/'), new FileInfo(f).Length))
            .Where(f => f.Item1 != ManifestFile && !Path.GetFileName(f.Item1).StartsWith('.'))
            .OrderBy(f => f.Item1, StringComparer.Ordinal);

    /// <summary>
    /// Why the checkpoint folder is not complete (a file of its manifest missing or of another size; no manifest and,
    /// for a checkpoint written before manifests, no trainer state, weights or optimizer state), or null when it is.
    /// </summary>
    public static string? Incomplete(string folder)
    {
        var manifestPath = Path.Combine(folder, ManifestFile);
        if (!File.Exists(manifestPath))
        {
            // Written before manifests: complete when every part is there (the old pruning deleted file by file).
            if (!File.Exists(Path.Combine(folder, StateFile))) return $"no {ManifestFile} or {StateFile}";
            if (!File.Exists(Path.Combine(folder, "config.json"))) return "no config.json";
            if (!File.Exists(Path.Combine(folder, ModelFolder.WeightsFile)) && !File.Exists(Path.Combine(folder, ModelFolder.IndexFile))) return "no weights";
            if (OptimizerPath(folder) is null) return "no optimizer state";
            return null;
        }
        JsonObject manifest;
        try { manifest = JsonText.ReadObject(manifestPath); }
        catch (Exception e) when (e is InvalidDataException or IOException) { return e.Message; }
        if (manifest["files"] is not JsonObject files) return $"{manifestPath}: no 'files' object";
        foreach (var (relative, size) in files)
        {
            var path = Path.Combine(folder, relative);
            if (!File.Exists(path)) return $"{relative} is missing";
            var expected = size is JsonValue v && v.TryGetValue<long>(out var n) ? n : -1;
            if (new FileInfo(path).Length != expected) return $"{relative} has {new FileInfo(path).Length} bytes, the manifest says {size?.ToJsonString()}";
        }
        return null;
    }

    /// <summary>Steps of the complete checkpoints of a run (see <see cref="Incomplete"/>).</summary>
    public static IEnumerable<int> Completed(string runDir)
    {
        var dir = new Reporting.RunLayout(runDir).Checkpoints;
        if (!Directory.Exists(dir)) yield break;
        foreach (var sub in Directory.GetDirectories(dir))
        {
            var m = StepFolder().Match(Path.GetFileName(sub));
            if (m.Success && Incomplete(sub) is null) yield return int.Parse(m.Groups[1].Value);
        }
    }

    public static int? Latest(string runDir) => Completed(runDir).Select(s => (int?)s).Max();

    static string? OptimizerPath(string folder) =>
        new[] { OptimizerFile, LegacyOptimizerFile }.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);

    /// <summary>Restores the optimizer from a checkpoint folder (its optimizer/ subfolder, or the top level of
    /// checkpoints written before); returns the checkpoint's step. Moments are F32, BF16 or 8-bit codes (U8) with F32
    /// scales, as the run's optimizer_states keeps them (<see cref="MomentState.FromTensors"/> checks which), and finite.</summary>
    public static int RestoreOptimizer(string folder, AdamW optimizer)
    {
        if (Incomplete(folder) is { } why) throw new InvalidDataException($"{folder}: incomplete checkpoint: {why}");
        var statePath = Path.Combine(folder, StateFile);
        var state = JsonText.ReadObject(statePath);
        int step = state["step"]?.GetValue<int>() ?? throw new InvalidDataException($"{statePath}: no 'step'");
        long optimizerStep = state["optimizer_step"]?.GetValue<long>() ?? throw new InvalidDataException($"{statePath}: no 'optimizer_step'");
        var path = OptimizerPath(folder) ?? throw new FileNotFoundException($"{folder}: no {OptimizerFile}");
        using var file = SafeTensorsFile.Open(path);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, info) in file.Tensors)
        {
            var t = file.Read(name);   // dtypes are checked by MomentState.FromTensors, against the run's optimizer_states
            if (t.is_floating_point() && !t.isfinite().all().item<bool>()) throw new InvalidDataException($"{path}: tensor {name} holds NaN or infinite values");
            tensors[name] = t;
        }
        try { optimizer.LoadState(tensors, optimizerStep); }   // takes the tensors over as its moments
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
        return step;
    }

    [GeneratedRegex(@"^step_(\d+)$")]
    private static partial Regex StepFolder();
}
