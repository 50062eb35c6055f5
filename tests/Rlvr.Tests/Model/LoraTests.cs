using System.Text.Json.Nodes;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

public class LoraTests
{
    static readonly int[] Ids = [3, 17, 250, 9, 41, 5];

    static float[] Logits(Qwen2ForCausalLM model)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(Ids.Select(i => (long)i).ToArray()).view(1, -1);
        var positions = arange(Ids.Length, ScalarType.Int64).view(1, -1);
        return TestModels.Floats(model.Logits(model.Hidden(ids, positions)));
    }

    /// <summary>Every adapter's B set to random values (a new adapter has B = 0 and changes nothing).</summary>
    static void RandomizeB(Qwen2ForCausalLM model, long seed)
    {
        using var noGrad = no_grad();
        using var g = new Generator((ulong)seed);
        foreach (var (name, p) in model.AdapterParameters())
            if (name.EndsWith("lora_B.weight")) p.normal_(0, 0.2, g);
    }

    [Fact]
    public void A_new_adapter_changes_nothing_and_freezes_the_base()
    {
        using var model = TestModels.Random(TestModels.Odd);
        var before = Logits(model);
        model.AddAdapters(new LoraOptions(4, 8, 0, LoraOptions.AllProjections), seed: 1);
        Assert.Equal(before, Logits(model));
        Assert.All(model.NamedParameters(), p => Assert.False(p.Parameter.requires_grad, p.Name));
        Assert.Equal(2 * 7 * 2, model.AdapterParameters().Count);
        Assert.Equal(model.AdapterParameters(), model.TrainedParameters());
        // A ~ U(-1/sqrt(in), 1/sqrt(in)): hidden 48 for q_proj, intermediate 96 for down_proj.
        var a = TestModels.Floats(model.AdapterParameters().First(p => p.Name == "model.layers.0.self_attn.q_proj.lora_A.weight").Parameter);
        Assert.All(a, v => Assert.InRange(v, -1 / System.Math.Sqrt(48), 1 / System.Math.Sqrt(48)));
        Assert.True(a.Select(System.Math.Abs).Max() > 0.5 / System.Math.Sqrt(48));
    }

    [Fact]
    public void Merged_weight_is_base_plus_scaled_B_A_and_gives_the_adapted_model()
    {
        using var model = TestModels.Random(TestModels.Odd);
        model.AddAdapters(new LoraOptions(3, 6, 0, ["q_proj", "down_proj"]), seed: 2);
        RandomizeB(model, 5);
        var adapted = Logits(model);
        Assert.NotEqual(adapted, Logits(TestModels.Random(TestModels.Odd)));
        var name = "model.layers.1.mlp.down_proj";
        var w = model.NamedParameters().First(p => p.Name == name + ".weight").Parameter;
        var (rows, cols) = ((int)w.shape[0], (int)w.shape[1]);
        var baseW = TestModels.Floats(w);
        var a = TestModels.Floats(model.AdapterParameters().First(p => p.Name == name + ".lora_A.weight").Parameter);   // [3, cols]
        var b = TestModels.Floats(model.AdapterParameters().First(p => p.Name == name + ".lora_B.weight").Parameter);   // [rows, 3]

        model.MergeAdapters();
        var merged = TestModels.Floats(w);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double delta = 0;
                for (int k = 0; k < 3; k++) delta += b[i * 3 + k] * a[k * cols + j];
                Assert.InRange(merged[i * cols + j] - (baseW[i * cols + j] + 6.0 / 3 * delta), -1e-5, 1e-5);
            }
        // The merged model (its adapters now zero) computes what the adapted one did.
        TestModels.AssertClose(adapted.Select(x => (double)x).ToArray(), Logits(model), 1e-4, "logits after merging");
    }

    [Fact]
    public void Without_adapters_the_model_is_the_base_exactly()
    {
        using var model = TestModels.Random(TestModels.Odd);
        var before = Logits(model);
        model.AddAdapters(new LoraOptions(2, 16, 0, LoraOptions.AllProjections), seed: 3);
        RandomizeB(model, 6);
        var adapted = Logits(model);
        using (model.WithoutAdapters()) Assert.Equal(before, Logits(model));
        Assert.Equal(adapted, Logits(model));
    }

    [Fact]
    public void Adapter_folder_has_PEFT_names_shapes_and_config_and_loads_back()
    {
        var dir = Fixtures.TempDir();
        var baseDir = Path.Combine(dir, "base");
        using (var baseModel = TestModels.Random(TestModels.Odd)) ModelFolder.Save(baseModel, baseDir);
        using var model = ModelFolder.Load(baseDir).Model;
        model.AddAdapters(new LoraOptions(4, 8, 0.1, ["q_proj", "v_proj"]), seed: 4);
        RandomizeB(model, 7);
        var adapterDir = Path.Combine(dir, "adapter");
        LoraAdapter.Save(model, adapterDir, baseDir);

        using (var file = SafeTensorsFile.Open(Path.Combine(adapterDir, "adapter_model.safetensors")))
        {
            // Odd: 2 layers, hidden 48, 6 query heads and 2 KV heads of 16: q_proj 48 -> 96, v_proj 48 -> 32.
            var expected = new Dictionary<string, long[]>();
            foreach (var layer in new[] { 0, 1 })
            {
                expected[$"base_model.model.model.layers.{layer}.self_attn.q_proj.lora_A.weight"] = [4, 48];
                expected[$"base_model.model.model.layers.{layer}.self_attn.q_proj.lora_B.weight"] = [96, 4];
                expected[$"base_model.model.model.layers.{layer}.self_attn.v_proj.lora_A.weight"] = [4, 48];
                expected[$"base_model.model.model.layers.{layer}.self_attn.v_proj.lora_B.weight"] = [32, 4];
            }
            Assert.Equal(expected.Keys.Order(), file.Tensors.Keys.Order());
            foreach (var (name, shape) in expected) Assert.Equal(shape, file.Tensors[name].Shape);
            Assert.All(file.Tensors.Values, t => Assert.Equal(ScalarType.Float32, t.DType));
        }
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(adapterDir, "adapter_config.json")))!;
        Assert.Equal("LORA", (string)config["peft_type"]!);
        Assert.Equal("CAUSAL_LM", (string)config["task_type"]!);
        Assert.Equal(4, (int)config["r"]!);
        Assert.Equal(8.0, (double)config["lora_alpha"]!);
        Assert.Equal(0.1, (double)config["lora_dropout"]!);
        Assert.Equal(["q_proj", "v_proj"], ((JsonArray)config["target_modules"]!).Select(n => (string)n!));
        Assert.Equal(baseDir, (string)config["base_model_name_or_path"]!);

        // A folder with only the adapter loads as the adapted model (base from base_model_name_or_path).
        using var loaded = ModelFolder.Load(adapterDir);
        Assert.Equal(Path.GetFullPath(baseDir), loaded.Directory);
        Assert.Equal(Logits(model), Logits(loaded.Model));
    }

    [Fact]
    public void Bad_adapter_files_are_errors_naming_file_and_tensor()
    {
        var dir = Fixtures.TempDir();
        var baseDir = Path.Combine(dir, "base");
        using (var baseModel = TestModels.Random(TestModels.Odd)) ModelFolder.Save(baseModel, baseDir);
        using var model = ModelFolder.Load(baseDir).Model;
        model.AddAdapters(new LoraOptions(4, 8, 0, ["q_proj"]), seed: 4);
        var adapterDir = Path.Combine(dir, "adapter");
        LoraAdapter.Save(model, adapterDir, baseDir);
        // The config now claims k_proj too: its tensors are missing.
        var configPath = Path.Combine(adapterDir, "adapter_config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"q_proj\"", "\"q_proj\", \"k_proj\""));
        var e = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(adapterDir));
        Assert.Contains("adapter_model.safetensors", e.Message);
        Assert.Contains("k_proj.lora_A.weight", e.Message);
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"use_dora\": false", "\"use_dora\": true"));
        e = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(adapterDir));
        Assert.Contains("use_dora", e.Message);
        Assert.Contains("adapter_config.json", e.Message);
    }

    [Fact]
    public void Adapter_gradients_are_the_same_with_gradient_checkpointing_even_with_dropout()
    {
        float[][] Grads(bool checkpointing)
        {
            using var model = TestModels.Random(TestModels.Odd);
            model.AddAdapters(new LoraOptions(2, 4, 0.5, LoraOptions.AllProjections), seed: 8);
            RandomizeB(model, 9);
            model.GradientCheckpointing = checkpointing;
            model.train();
            torch.manual_seed(123);
            using var scope = NewDisposeScope();
            var ids = tensor(Ids.Select(i => (long)i).ToArray()).view(1, -1);
            var positions = arange(Ids.Length, ScalarType.Int64).view(1, -1);
            model.Logits(model.Hidden(ids, positions)).square().mean().backward();
            Assert.All(model.NamedParameters(), p => Assert.Null(p.Parameter.grad));
            return model.AdapterParameters().Select(p => TestModels.Floats(p.Parameter.grad!)).ToArray();
        }
        var plain = Grads(false);
        var recomputed = Grads(true);
        Assert.Contains(plain, g => g.Any(v => v != 0));
        for (int i = 0; i < plain.Length; i++)
            TestModels.AssertClose(plain[i].Select(x => (double)x).ToArray(), recomputed[i], 1e-5, $"adapter gradient {i}");
    }
}
