using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rlvr.Model;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>
/// Checkpoints of a run: <c>checkpoints/step_NNNNNN/</c> is a HuggingFace model folder (fp32, so a
/// resumed run continues from exactly the same weights) plus <c>optimizer.safetensors</c> (AdamW
/// moments) and <c>trainer_state.json</c>. The folder is written under a temporary name and renamed
/// when complete, so a crash mid-save never leaves a checkpoint that looks complete.
/// </summary>
public static partial class Checkpoint
{
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";

    public static string Folder(string runDir, int step) => new Reporting.RunLayout(runDir).Checkpoint(step);

    public static void Save(string runDir, int step, LoadedModel policy, AdamW optimizer, int keep)
    {
        var final = Folder(runDir, step);
        var temporary = final + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        if (policy.Model.Lora is not null) LoraAdapter.Save(policy.Model, temporary, policy.Directory);   // a PEFT adapter folder
        else ModelFolder.Save(policy.Model, temporary, ScalarType.Float32, policy.Directory, policy.Generation);
        SafeTensors.Write(Path.Combine(temporary, OptimizerFile),
            optimizer.StateTensors().OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList());
        var state = new JsonObject { ["step"] = step, ["optimizer_step"] = optimizer.Step };
        AtomicFile.WriteAllText(Path.Combine(temporary, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temporary, final);
        if (keep > 0)
            foreach (var old in Completed(runDir).OrderByDescending(s => s).Skip(keep))
                Directory.Delete(Folder(runDir, old), recursive: true);
    }

    /// <summary>Steps of the complete checkpoints of a run (those with a trainer state).</summary>
    public static IEnumerable<int> Completed(string runDir)
    {
        var dir = new Reporting.RunLayout(runDir).Checkpoints;
        if (!Directory.Exists(dir)) yield break;
        foreach (var sub in Directory.GetDirectories(dir))
        {
            var m = StepFolder().Match(Path.GetFileName(sub));
            if (m.Success && File.Exists(Path.Combine(sub, StateFile))) yield return int.Parse(m.Groups[1].Value);
        }
    }

    public static int? Latest(string runDir) => Completed(runDir).Select(s => (int?)s).Max();

    /// <summary>Restores the optimizer from a checkpoint folder; returns the checkpoint's step.</summary>
    public static int RestoreOptimizer(string folder, AdamW optimizer)
    {
        var statePath = Path.Combine(folder, StateFile);
        var state = JsonText.ReadObject(statePath);
        int step = state["step"]?.GetValue<int>() ?? throw new InvalidDataException($"{statePath}: no 'step'");
        long optimizerStep = state["optimizer_step"]?.GetValue<long>() ?? throw new InvalidDataException($"{statePath}: no 'optimizer_step'");
        using var file = SafeTensorsFile.Open(Path.Combine(folder, OptimizerFile));
        var tensors = file.Tensors.Keys.ToDictionary(name => name, name => file.Read(name));
        optimizer.LoadState(tensors, optimizerStep);   // takes the tensors over as its moments
        return step;
    }

    [GeneratedRegex(@"^step_(\d+)$")]
    private static partial Regex StepFolder();
}
