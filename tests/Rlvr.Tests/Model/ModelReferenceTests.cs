using Rlvr.Model;

namespace Rlvr.Tests.Model;

public class ModelReferenceTests
{
    /// <summary>A fake HuggingFace cache entry laid out as huggingface_hub writes it.</summary>
    static string Snapshot(string cache, string repo, string revision, bool writeRef = true)
    {
        var root = Path.Combine(cache, "models--" + repo.Replace("/", "--"));
        var snapshot = Path.Combine(root, "snapshots", revision);
        Directory.CreateDirectory(snapshot);
        File.WriteAllText(Path.Combine(snapshot, "config.json"), "{}");
        if (writeRef)
        {
            Directory.CreateDirectory(Path.Combine(root, "refs"));
            File.WriteAllText(Path.Combine(root, "refs", "main"), revision);
        }
        return snapshot;
    }

    static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        key => vars.Where(v => v.Key == key).Select(v => v.Value).FirstOrDefault();

    [Fact]
    public void Local_folder_resolves_to_itself()
    {
        var dir = Fixtures.TinyQwen2;
        Assert.Equal(Path.GetFullPath(dir), ModelReference.Resolve(dir, Env()));
    }

    [Fact]
    public void Folder_without_config_is_not_a_model()
    {
        var dir = Fixtures.TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => ModelReference.Resolve(dir, Env()));
        Assert.Contains("no config.json", e.Message);
    }

    [Fact]
    public void Hub_id_resolves_through_refs_main_in_HF_HUB_CACHE()
    {
        var cache = Fixtures.TempDir();
        Snapshot(cache, "Qwen/Qwen2.5-0.5B-Instruct", "aaaa1111", writeRef: false);
        var expected = Snapshot(cache, "Qwen/Qwen2.5-0.5B-Instruct", "7ae557604adf67be50417f59c2c2f167def9a775");
        Assert.Equal(expected, ModelReference.Resolve("Qwen/Qwen2.5-0.5B-Instruct", Env(("HF_HUB_CACHE", cache), ("HF_HOME", "/elsewhere"))));
    }

    [Fact]
    public void HF_HOME_hub_is_used_when_HF_HUB_CACHE_is_unset_and_HOME_cache_otherwise()
    {
        var home = Fixtures.TempDir();
        var expected = Snapshot(Path.Combine(home, "hub"), "org/model", "r1");
        Assert.Equal(expected, ModelReference.Resolve("org/model", Env(("HF_HOME", home))));

        var user = Fixtures.TempDir();
        var underHome = Snapshot(Path.Combine(user, ".cache", "huggingface", "hub"), "org/model", "r2");
        Assert.Equal(underHome, ModelReference.Resolve("org/model", Env(("HOME", user))));
    }

    [Fact]
    public void Without_refs_main_the_newest_snapshot_is_taken()
    {
        var cache = Fixtures.TempDir();
        var older = Snapshot(cache, "org/model", "old", writeRef: false);
        var newer = Snapshot(cache, "org/model", "new", writeRef: false);
        Directory.SetLastWriteTimeUtc(older, DateTime.UtcNow.AddDays(-2));
        Directory.SetLastWriteTimeUtc(newer, DateTime.UtcNow.AddDays(-1));
        Assert.Equal(newer, ModelReference.Resolve("org/model", Env(("HF_HUB_CACHE", cache))));
    }

    [Fact]
    public void Absent_model_error_lists_where_it_looked_and_how_to_get_it()
    {
        var cache = Fixtures.TempDir();
        var e = Assert.Throws<DirectoryNotFoundException>(() => ModelReference.Resolve("Qwen/Qwen2.5-0.5B-Instruct", Env(("HF_HUB_CACHE", cache))));
        Assert.Contains(Path.Combine(cache, "models--Qwen--Qwen2.5-0.5B-Instruct"), e.Message);
        Assert.Contains("huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct", e.Message);
        Assert.Contains("local model folder", e.Message);

        var notHub = Assert.Throws<DirectoryNotFoundException>(() => ModelReference.Resolve("./no/such/dir", Env()));
        Assert.Contains("./no/such/dir", notHub.Message);
    }
}
