using System.Text.Json.Nodes;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

public class ModelFolderTests
{
    static void AssertSameParameters(Qwen2ForCausalLM expected, Qwen2ForCausalLM actual, Func<Tensor, Tensor>? transform = null)
    {
        var a = expected.NamedParameters();
        var b = actual.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        Assert.Equal(a.Select(p => p.Name).Order(), b.Keys.Order());
        foreach (var (name, p) in a)
            using (torch.NewDisposeScope())
            {
                Assert.Equal(p.shape, b[name].shape);
                Assert.True((transform?.Invoke(p) ?? p).eq(b[name]).all().item<bool>(), $"{name} differs");
            }
    }

    static JsonObject ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Fact]
    public void Fp32_save_and_load_is_exact_and_writes_a_transformers_folder()
    {
        using var model = TestModels.Random(TestModels.Small);
        var dir = Fixtures.TempDir();
        ModelFolder.Save(model, dir, tokenizerSourceDir: Assets.QwenTokenizerDir);
        using var loaded = ModelFolder.Load(dir);
        AssertSameParameters(model, loaded.Model);

        var config = ReadJson(Path.Combine(dir, "config.json"));
        Assert.Equal("float32", (string)config["torch_dtype"]!);
        Assert.Equal("qwen2", (string)config["model_type"]!);
        Assert.Equal("Qwen2ForCausalLM", (string)config["architectures"]![0]!);
        Assert.True((bool)config["tie_word_embeddings"]!);
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            Assert.DoesNotContain("lm_head.weight", file.Tensors.Keys);
            Assert.Equal(ScalarType.Float32, file.Tensors["model.embed_tokens.weight"].DType);
        }
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.Equal([1], loaded.Generation.EosTokenIds);
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, "bfloat16", "BF16")]
    [InlineData(ScalarType.Float16, "float16", "F16")]
    public void Half_precision_save_loads_as_the_rounded_fp32_model(ScalarType dtype, string torchDtype, string fileDtype)
    {
        using var model = TestModels.Random(TestModels.Odd);
        var dir = Fixtures.TempDir();
        ModelFolder.Save(model, dir, dtype);
        Assert.Equal(torchDtype, (string)ReadJson(Path.Combine(dir, "config.json"))["torch_dtype"]!);
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
            Assert.All(file.Tensors.Values, t => Assert.Equal(fileDtype, SafeTensors.DTypeName(t.DType)));

        using var loaded = ModelFolder.Load(dir);
        Assert.Equal(ScalarType.Float32, loaded.Model.LmHeadWeight.dtype);
        AssertSameParameters(model, loaded.Model, p => p.to(dtype).to(ScalarType.Float32));
        // Rounding changed something: the loaded model is not the fp32 original.
        Assert.False(model.LmHeadWeight.eq(loaded.Model.LmHeadWeight).all().item<bool>());
    }

    [Fact]
    public void Untied_model_saves_and_loads_its_lm_head()
    {
        using var model = TestModels.Random(TestModels.Odd);
        var dir = Fixtures.TempDir();
        ModelFolder.Save(model, dir);
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
            Assert.Equal([320L, 48L], file.Tensors["lm_head.weight"].Shape);
        Assert.False((bool)ReadJson(Path.Combine(dir, "config.json"))["tie_word_embeddings"]!);
        Assert.Equal(16, (int)ReadJson(Path.Combine(dir, "config.json"))["head_dim"]!);
        using var loaded = ModelFolder.Load(dir);
        AssertSameParameters(model, loaded.Model);
        Assert.Equal([1, 2], loaded.Generation.EosTokenIds);
    }

    [Fact]
    public void Loads_two_shards_listed_in_an_index()
    {
        using var model = TestModels.Random(TestModels.Odd);
        var dir = Fixtures.TempDir();
        ModelFolder.Save(model, dir);
        File.Delete(Path.Combine(dir, "model.safetensors"));
        var all = model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList();
        var first = all.Where((_, i) => i % 2 == 0).ToList();
        var second = all.Where((_, i) => i % 2 == 1).ToList();
        SafeTensors.Write(Path.Combine(dir, "model-00001-of-00002.safetensors"), first, ScalarType.BFloat16);
        SafeTensors.Write(Path.Combine(dir, "model-00002-of-00002.safetensors"), second, ScalarType.BFloat16);
        var map = new JsonObject();
        foreach (var (name, _) in first) map[name] = "model-00001-of-00002.safetensors";
        foreach (var (name, _) in second) map[name] = "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());

        using var loaded = ModelFolder.Load(dir);
        AssertSameParameters(model, loaded.Model, p => p.to(ScalarType.BFloat16).to(ScalarType.Float32));
    }

    [Fact]
    public void Save_shards_above_the_size_limit_and_removes_the_previous_layout()
    {
        using var model = TestModels.Random(TestModels.Small);
        var dir = Fixtures.TempDir();
        ModelFolder.Save(model, dir);
        ModelFolder.Save(model, dir, maxShardBytes: 200_000);   // the 1000 x 64 fp32 embedding alone is 256 KB

        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")));
        var index = ReadJson(Path.Combine(dir, "model.safetensors.index.json"));
        var shards = index["weight_map"]!.AsObject().Select(kv => (string)kv.Value!).Distinct().ToList();
        Assert.True(shards.Count >= 2);
        Assert.All(shards, s => Assert.Matches(@"^model-\d{5}-of-\d{5}\.safetensors$", s));
        var expectedBytes = model.parameters().Sum(p => p.numel()) * 4;
        Assert.Equal(expectedBytes, (long)index["metadata"]!["total_size"]!);
        using var loaded = ModelFolder.Load(dir);
        AssertSameParameters(model, loaded.Model);

        ModelFolder.Save(model, dir);   // back to one file: the shards and index go
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir, "model*").Select(Path.GetFileName));
    }

    [Fact]
    public void Transformers5_config_form_loads_the_fixture_weights_alike()
    {
        var dir = Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.TinyQwen2, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        var config = ReadJson(Path.Combine(Fixtures.TinyQwen2, "config.json"));
        config.Remove("rope_theta");
        config.Remove("torch_dtype");
        config["dtype"] = "float32";
        config["rope_parameters"] = new JsonObject { ["rope_theta"] = 1000000.0, ["rope_type"] = "default" };
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());

        using var loaded = ModelFolder.Load(dir);
        Assert.Equal(1000000.0, loaded.Config.RopeTheta);
        var c = TestModels.FixtureCases[2];
        TestModels.AssertClose(c.TokenLogprobs, TestModels.LogProbs(loaded.Model, c.InputIds), 1e-4, "log-probs");
    }

    [Fact]
    public void Shape_mismatch_with_config_names_the_file_and_tensor()
    {
        var dir = Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.TinyQwen2, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        var config = ReadJson(Path.Combine(Fixtures.TinyQwen2, "config.json"));
        config["intermediate_size"] = 96;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(dir));
        Assert.Contains(Path.Combine(dir, "model.safetensors"), e.Message);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", e.Message);
        Assert.Contains("[128, 64]", e.Message);
        Assert.Contains("[96, 64]", e.Message);
    }

    [Fact]
    public void Missing_and_unexpected_tensors_are_named()
    {
        using var model = TestModels.Random(TestModels.Small);
        var dir = Fixtures.TempDir();
        ModelFolder.Save(model, dir);
        var tensors = model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList();
        var weights = Path.Combine(dir, "model.safetensors");

        SafeTensors.Write(weights, tensors.Where(t => t.Name != "model.norm.weight").ToList());
        var missing = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(dir));
        Assert.Contains("missing tensor model.norm.weight", missing.Message);

        using var extra = torch.zeros(3);
        SafeTensors.Write(weights, [.. tensors, ("model.layers.9.mlp.extra", extra)]);
        var unexpected = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(dir));
        Assert.Contains(weights, unexpected.Message);
        Assert.Contains("unexpected tensor model.layers.9.mlp.extra", unexpected.Message);

        // A tied checkpoint that also stores lm_head.weight (some exporters do) still loads.
        SafeTensors.Write(weights, [.. tensors, ("lm_head.weight", model.LmHeadWeight)]);
        using var loaded = ModelFolder.Load(dir);
        AssertSameParameters(model, loaded.Model);
    }

    [Fact]
    public void Missing_folder_or_weights_are_clear_errors()
    {
        var nowhere = Path.Combine(Fixtures.TempDir(), "no-such-model");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ModelFolder.Load(nowhere));
        Assert.Contains(nowhere, e.Message);

        var dir = Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.TinyQwen2, "config.json"), Path.Combine(dir, "config.json"));
        var noWeights = Assert.Throws<FileNotFoundException>(() => ModelFolder.Load(dir));
        Assert.Contains("no model.safetensors", noWeights.Message);
    }
}
