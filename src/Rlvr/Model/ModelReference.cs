namespace Rlvr.Model;

/// <summary>
/// Turns what a user passes as <c>--model</c> into a model folder: a local folder, or a HuggingFace Hub
/// id (<c>Qwen/Qwen2.5-0.5B-Instruct</c>) found in the local HuggingFace cache, laid out as
/// huggingface_hub does: <c>&lt;cache&gt;/models--Qwen--Qwen2.5-0.5B-Instruct/refs/main</c> holds the
/// revision hash and <c>snapshots/&lt;hash&gt;/</c> the files. Nothing is downloaded.
/// </summary>
public static class ModelReference
{
    /// <summary>The folder holding config.json for <paramref name="reference"/>; the error lists every place looked at.</summary>
    public static string Resolve(string reference) => Resolve(reference, Environment.GetEnvironmentVariable);

    /// <summary>
    /// Resolves a reference that may also be a LoRA adapter folder (a PEFT checkpoint, no config.json): Config is the
    /// folder with config.json and the tokenizer (for an adapter, its base model as base_model_name_or_path names it),
    /// Weights what <see cref="ModelFolder.Load"/> takes (the adapter folder itself, which loads its base).
    /// </summary>
    public static (string Config, string Weights) ResolveWithAdapter(string reference)
    {
        if (!(Directory.Exists(reference) && LoraAdapter.IsAdapterFolder(reference) && !File.Exists(Path.Combine(reference, "config.json"))))
        {
            var dir = Resolve(reference);
            return (dir, dir);
        }
        var baseModel = LoraAdapter.ReadConfig(reference).BaseModel
            ?? throw new InvalidDataException($"{reference}: the adapter names no base model (base_model_name_or_path)");
        return (Resolve(baseModel), Path.GetFullPath(reference));
    }

    /// <summary>As <see cref="Resolve(string)"/>, reading environment variables through <paramref name="env"/> (for tests).</summary>
    public static string Resolve(string reference, Func<string, string?> env)
    {
        if (string.IsNullOrWhiteSpace(reference)) throw new ArgumentException("empty model reference");
        if (Directory.Exists(reference))
        {
            var dir = Path.GetFullPath(reference);
            if (!File.Exists(Path.Combine(dir, "config.json")))
                throw new FileNotFoundException($"{dir}: not a model folder (no config.json)", Path.Combine(dir, "config.json"));
            return dir;
        }
        if (!LooksLikeHubId(reference))
            throw new DirectoryNotFoundException($"{reference}: model folder not found");

        var cache = HubCacheDir(env);
        var repo = Path.Combine(cache, "models--" + reference.Replace("/", "--"));
        var looked = new List<string>();
        var snapshot = FindSnapshot(repo, looked);
        if (snapshot != null) return snapshot;
        throw new DirectoryNotFoundException(
            $"model {reference} is neither a local folder nor in the HuggingFace cache. Looked at: {reference} (as a folder), "
            + string.Join(", ", looked)
            + $". rlvr does not download models: on a machine with internet run `huggingface-cli download {reference}` "
            + "(then copy the cache, or set HF_HUB_CACHE / HF_HOME to it), or pass a local model folder.");
    }

    /// <summary>The hub cache folder as huggingface_hub picks it: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (legacy), else HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public static string HubCacheDir(Func<string, string?> env)
    {
        foreach (var key in new[] { "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE" })
            if (!string.IsNullOrEmpty(env(key))) return ExpandHome(env(key)!, env);
        if (!string.IsNullOrEmpty(env("HF_HOME"))) return Path.Combine(ExpandHome(env("HF_HOME")!, env), "hub");
        var xdg = env("XDG_CACHE_HOME");
        var cacheHome = string.IsNullOrEmpty(xdg) ? Path.Combine(Home(env), ".cache") : xdg;
        return Path.Combine(cacheHome, "huggingface", "hub");
    }

    /// <summary>org/name with characters the Hub allows; a path like ./x or /x is not a Hub id.</summary>
    static bool LooksLikeHubId(string s)
    {
        var parts = s.Split('/');
        return parts.Length == 2 && parts.All(p => p.Length > 0 && p != "." && p != ".."
            && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
    }

    /// <summary>snapshots/&lt;refs/main&gt;, or without refs/main the newest snapshot that has a config.json.</summary>
    static string? FindSnapshot(string repo, List<string> looked)
    {
        var refMain = Path.Combine(repo, "refs", "main");
        var snapshots = Path.Combine(repo, "snapshots");
        if (File.Exists(refMain))
        {
            var hash = File.ReadAllText(refMain).Trim();
            var dir = Path.Combine(snapshots, hash);
            looked.Add($"{dir} (from {refMain})");
            return File.Exists(Path.Combine(dir, "config.json")) ? dir : null;
        }
        looked.Add($"{refMain} (absent)");
        looked.Add($"{snapshots}/* (newest snapshot with a config.json)");
        if (!Directory.Exists(snapshots)) return null;
        return new DirectoryInfo(snapshots).GetDirectories()
            .Where(d => File.Exists(Path.Combine(d.FullName, "config.json")))
            .OrderByDescending(d => d.LastWriteTimeUtc)
            .Select(d => d.FullName)
            .FirstOrDefault();
    }

    static string Home(Func<string, string?> env) =>
        env("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    static string ExpandHome(string path, Func<string, string?> env) =>
        path == "~" || path.StartsWith("~/") ? Home(env) + path[1..] : path;
}
