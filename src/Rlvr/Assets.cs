namespace Rlvr;

/// <summary>Files bundled with rlvr (tokenizer, model configs, MATH data), copied next to the binaries.</summary>
public static class Assets
{
    /// <summary>The folder holding <c>assets/</c> and <c>data/</c>: the binaries' folder, or the repository root when run from source.</summary>
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The real Qwen2.5 tokenizer files (vocab, merges, tokenizer.json, tokenizer_config.json).</summary>
    public static string QwenTokenizerDir => Path("assets", "qwen2.5");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (Directory.Exists(System.IO.Path.Combine(dir.FullName, "assets", "qwen2.5")))
                return dir.FullName;
        throw new DirectoryNotFoundException(
            $"rlvr's bundled assets (assets/qwen2.5) were not found next to {AppContext.BaseDirectory} or above it");
    }
}
