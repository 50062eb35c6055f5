using Rlvr.Model;
using Rlvr.Reporting;

namespace Rlvr.Training;

/// <summary>
/// What a training run may write into, checked before anything is written: a new run goes into a missing or
/// empty folder, or a run folder that never logged a step (its start failed); a folder that holds a model, or anything else that is not a run, is never written into. A resumed
/// run must be a run folder. Also the run's own copy of the tokenizer (<c>RUN_DIR/tokenizer/</c>), which
/// checkpoints and resumed runs take their tokenizer and chat template from.
/// </summary>
public static class RunOutput
{
    public const string TokenizerFolder = "tokenizer";

    /// <summary>Throws (naming the folder and what to do) unless <paramref name="runDir"/> can take a new run of <paramref name="model"/>.</summary>
    public static void CheckNewRun(string runDir, string model)
    {
        if (File.Exists(runDir)) throw new IOException($"--out {runDir}: is a file, not a folder; choose a folder for the run");
        if (Directory.Exists(model) && Same(runDir, model))
            throw new IOException($"--out {runDir}: is the model folder (--model); choose another folder for the run");
        if (!Directory.Exists(runDir)) return;
        if (File.Exists(Path.Combine(runDir, MetricsWriter.FileName)))
            throw new IOException($"--out {runDir}: already holds a run (metrics.jsonl); use --resume {runDir} to continue it or choose another --out");
        if (IsModelFolder(runDir))
            throw new IOException($"--out {runDir}: holds a model (config.json of a model, or *.safetensors); choose another folder for the run");
        var entries = Directory.EnumerateFileSystemEntries(runDir).Select(Path.GetFileName).ToList();
        if (entries.Count == 0 || IsRunConfig(Path.Combine(runDir, Trainer.ConfigFile))) return;
        throw new IOException($"--out {runDir}: is not empty and not a run folder (holds {string.Join(", ", entries.Take(3))}"
            + (entries.Count > 3 ? $" and {entries.Count - 3} more" : "") + "); choose a new or empty folder");
    }

    /// <summary>Throws unless <paramref name="dir"/> (given as <paramref name="flag"/>) can take a command's output files:
    /// not a file, not a model folder.</summary>
    public static void CheckOutputFolder(string flag, string dir)
    {
        if (File.Exists(dir)) throw new IOException($"{flag} {dir}: is a file, not a folder");
        if (Directory.Exists(dir) && IsModelFolder(dir)) throw new IOException($"{flag} {dir}: holds a model; choose another folder");
    }

    /// <summary>Throws (naming the folder and what to do) unless <paramref name="runDir"/> is a run folder to resume.</summary>
    public static void CheckResumable(string runDir)
    {
        if (File.Exists(runDir)) throw new IOException($"--resume {runDir}: is a file, not a run folder");
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"--resume {runDir}: folder not found");
        if (IsModelFolder(runDir))
            throw new IOException($"--resume {runDir}: is a model folder, not a run folder; to train it: rlvr train --model {runDir} --out RUN_DIR");
        var config = Path.Combine(runDir, Trainer.ConfigFile);
        if (!File.Exists(config)) throw new FileNotFoundException($"--resume {runDir}: not a run folder (no {Trainer.ConfigFile}); nothing to resume");
    }

    /// <summary>A model folder: config.json with a model's keys, or weight files at the top level.</summary>
    public static bool IsModelFolder(string dir)
    {
        if (Directory.EnumerateFiles(dir, "*.safetensors").Any() || File.Exists(Path.Combine(dir, ModelFolder.IndexFile))) return true;
        var config = Path.Combine(dir, "config.json");
        if (!File.Exists(config)) return false;
        try
        {
            var obj = JsonText.ReadObject(config);
            return obj.ContainsKey("model_type") || obj.ContainsKey("architectures");
        }
        catch (Exception e) when (e is InvalidDataException or IOException) { return false; }
    }

    static bool IsRunConfig(string path)
    {
        try { TrainConfig.Load(path); return true; }
        catch (Exception e) when (e is InvalidDataException or IOException) { return false; }
    }

    static bool Same(string a, string b) =>
        string.Equals(Path.GetFullPath(a).TrimEnd('/', '\\'), Path.GetFullPath(b).TrimEnd('/', '\\'), StringComparison.Ordinal);

    /// <summary>The run's copy of the tokenizer when it has one, else null.</summary>
    public static string? OwnTokenizer(string runDir)
    {
        var dir = Path.Combine(runDir, TokenizerFolder);
        return HasTokenizer(dir) ? dir : null;
    }

    /// <summary>A folder with a tokenizer rlvr reads: tokenizer.json, or vocab.json + merges.txt.</summary>
    public static bool HasTokenizer(string dir) =>
        File.Exists(Path.Combine(dir, "tokenizer.json"))
        || (File.Exists(Path.Combine(dir, "vocab.json")) && File.Exists(Path.Combine(dir, "merges.txt")));

    /// <summary>Copies the tokenizer files (and chat template) of <paramref name="sourceDir"/> into <c>RUN_DIR/tokenizer/</c>:
    /// written under a temporary name and renamed when complete.</summary>
    public static string CopyTokenizer(string sourceDir, string runDir)
    {
        if (!HasTokenizer(sourceDir)) throw new FileNotFoundException($"{sourceDir}: no tokenizer (tokenizer.json, or vocab.json + merges.txt)");
        var final = Path.Combine(runDir, TokenizerFolder);
        var temporary = final + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        foreach (var file in ModelFolder.TokenizerFiles)
        {
            var source = Path.Combine(sourceDir, file);
            if (!File.Exists(source)) continue;   // folders have either tokenizer.json or vocab.json + merges.txt, and optional extras
            AtomicFile.Write(Path.Combine(temporary, file), stream =>
            {
                using var input = File.OpenRead(source);
                input.CopyTo(stream);
            });
        }
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temporary, final);
        return final;
    }
}
