using System.Text.Json.Nodes;
using Rlvr.Model;

namespace Rlvr.Tests.Model;

public class ModelCommandsTests
{
    [Fact]
    public void Init_model_is_deterministic_per_seed_and_writes_a_complete_folder()
    {
        var root = Fixtures.TempDir();
        string Init(string name, long seed)
        {
            var dir = Path.Combine(root, name);
            var r = CliRunner.Run("init-model", "--config", "tiny", "--out", dir, "--seed", seed.ToString());
            Assert.True(r.ExitCode == 0, r.Stderr);
            return dir;
        }
        var a = Init("a", 1);
        var b = Init("b", 1);
        var c = Init("c", 2);
        var weights = (string d) => File.ReadAllBytes(Path.Combine(d, "model.safetensors"));
        Assert.Equal(weights(a), weights(b));
        Assert.NotEqual(weights(a), weights(c));

        foreach (var f in new[] { "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt" })
            Assert.True(File.Exists(Path.Combine(a, f)), f);
        var generation = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "generation_config.json")))!;
        Assert.Equal("[151645,151643]", generation["eos_token_id"]!.ToJsonString());

        using var loaded = ModelFolder.Load(a);
        Assert.Equal(151936, loaded.Config.VocabSize);
        var norm = TestModels.Floats(loaded.Model.NamedParameters().Single(p => p.Name == "model.norm.weight").Parameter);
        Assert.All(norm, w => Assert.Equal(1f, w));
        var embedding = TestModels.Floats(loaded.Model.LmHeadWeight);
        var std = System.Math.Sqrt(embedding.Select(x => (double)x * x).Average());
        Assert.InRange(std, 0.019, 0.021);   // normal(0, initializer_range 0.02)

        var again = CliRunner.Run("init-model", "--config", "tiny", "--out", a);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("--force", again.Stderr);
        Directory.Delete(root, recursive: true);   // 3 x 39 MB of weights
    }

    [Fact]
    public void Logprobs_reproduces_the_fixture_in_input_order()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "in.jsonl");
        var cases = TestModels.FixtureCases;
        File.WriteAllLines(input, cases.Select((c, i) => new JsonObject { ["id"] = $"case-{i}", ["input_ids"] = new JsonArray(c.InputIds.Select(x => (JsonNode?)x).ToArray()) }.ToJsonString()));
        var output = Path.Combine(dir, "out.jsonl");

        var r = CliRunner.Run("logprobs", "--model", Fixtures.TinyQwen2, "--input", input, "--output", output, "--batch-size", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(cases.Count, lines.Count);
        for (var i = 0; i < cases.Count; i++)
        {
            Assert.Equal($"case-{i}", (string)lines[i]["id"]!);
            var got = lines[i]["token_logprobs"]!.AsArray().Select(x => (float)x!).ToArray();
            TestModels.AssertClose(cases[i].TokenLogprobs, got, 1e-4, $"case {i}");
        }
    }

    [Fact]
    public void Logprobs_errors_name_the_file_and_line()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "in.jsonl");

        File.WriteAllText(input, "{\"id\":1,\"input_ids\":[1,2]}\n{\"id\":2,\"input_ids\":[1,1000]}\n");
        var outOfRange = CliRunner.Run("logprobs", "--model", Fixtures.TinyQwen2, "--input", input);
        Assert.NotEqual(0, outOfRange.ExitCode);
        Assert.Contains($"{input}:2", outOfRange.Stderr);
        Assert.Contains("1000", outOfRange.Stderr);

        File.WriteAllText(input, "{\"id\":1,\"input_ids\":[1,2]}\n\n{\"id\":3,\"input_ids\":[1,\n");
        var malformed = CliRunner.Run("logprobs", "--model", Fixtures.TinyQwen2, "--input", input);
        Assert.NotEqual(0, malformed.ExitCode);
        Assert.Contains($"{input}:3", malformed.Stderr);

        var missing = Path.Combine(dir, "no-model");
        var noModel = CliRunner.Run("logprobs", "--model", missing, "--input", input);
        Assert.NotEqual(0, noModel.ExitCode);
        Assert.Contains(missing, noModel.Stderr);
    }
}
