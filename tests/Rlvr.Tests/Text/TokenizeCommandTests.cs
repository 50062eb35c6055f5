using System.Text.Json.Nodes;
using Rlvr.Cli.Commands;
using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary><c>rlvr tokenize</c> end to end, in a child process.</summary>
public class TokenizeCommandTests
{
    static readonly string[] Texts = ["Hello world", "<|im_start|>user\nWhat is $\\frac{1}{2}$?<|im_end|>\n", "", "你好 🙂 e\u0301", "  \r\n\t x"];

    static string InputFile(IEnumerable<JsonObject> lines)
    {
        var path = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllLines(path, lines.Select(l => l.ToJsonString()));
        return path;
    }

    static List<JsonObject> Lines(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    [Fact]
    public void Encodes_each_line_in_order_echoing_the_id_and_decodes_back()
    {
        // ids of any JSON type, or none, come back as given
        JsonNode?[] ids = [1, "b", new JsonObject { ["x"] = new JsonArray(1, 2) }, null, 2.5];
        var lines = Texts.Select((t, i) => new JsonObject { ["id"] = ids[i]?.DeepClone(), ["text"] = t }).ToList();
        lines.Add(new JsonObject { ["text"] = "no id" });
        var input = InputFile(lines);
        var output = Path.Combine(Fixtures.TempDir(), "sub", "out.jsonl");

        var r = CliRunner.Run("tokenize", "--input", input, "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var encoded = Lines(File.ReadAllText(output));
        Assert.Equal(lines.Count, encoded.Count);
        for (var i = 0; i < lines.Count; i++)
        {
            Assert.True(JsonNode.DeepEquals(lines[i]["id"], encoded[i]["id"]), $"line {i + 1}: id {encoded[i]["id"]?.ToJsonString()}");
            Assert.Equal(lines[i].ContainsKey("id"), encoded[i].ContainsKey("id"));
            var expected = TokenizerOracle.HfEncode(lines[i]["text"]!.GetValue<string>());
            Assert.Equal(expected, encoded[i]["ids"]!.AsArray().Select(n => n!.GetValue<int>()));
        }

        // --decode reads the output back (stdin, stdout); special tokens kept unless skipped
        var decoded = Lines(CliRunner.RunWithInput(File.ReadAllText(output), "tokenize", "--decode", "--input", "-").Stdout);
        Assert.Equal(lines.Select(l => l["text"]!.GetValue<string>().Normalize(System.Text.NormalizationForm.FormC)),
            decoded.Select(d => d["text"]!.GetValue<string>()));
        var skipped = Lines(CliRunner.RunWithInput(File.ReadAllText(output), "tokenize", "--decode", "--skip-special-tokens", "--input", "-").Stdout);
        Assert.Equal("user\nWhat is $\\frac{1}{2}$?\n", skipped[1]["text"]!.GetValue<string>());
    }

    [Fact]
    public void A_folder_with_only_vocab_and_merges_works_as_model()
    {
        var dir = Fixtures.TempDir();
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json" })
            File.Copy(Path.Combine(Rlvr.Assets.QwenTokenizerDir, f), Path.Combine(dir, f));
        var r = CliRunner.RunWithInput("{\"id\": 7, \"text\": \"<|im_end|>x'LL 𝑥\"}\n", "tokenize", "--model", dir, "--input", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(TokenizerOracle.HfEncode("<|im_end|>x'LL 𝑥"), Lines(r.Stdout)[0]["ids"]!.AsArray().Select(n => n!.GetValue<int>()));
    }

    [Theory]
    [InlineData("{\"id\": 1, \"text\": \"ok\"}\n{\"id\": 2, \"text\": 5}\n", false, ":2: expected \"text\" to be a string")]
    [InlineData("{\"id\": 1, \"text\": \"ok\"}\n\n{not json\n", false, ":3: malformed JSON")]
    [InlineData("{\"id\": 1, \"ids\": [1, -4]}\n", true, ":1: \"ids\" must hold non-negative integers, found -4")]
    public void A_malformed_line_fails_naming_file_and_line(string input, bool decode, string message)
    {
        var path = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllText(path, input);
        var output = Path.Combine(Fixtures.TempDir(), "out.jsonl");
        string[] args = decode ? ["tokenize", "--decode", "--input", path, "--output", output] : ["tokenize", "--input", path, "--output", output];
        var r = CliRunner.Run(args);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(path + message, r.Stderr);
        Assert.False(File.Exists(output)); // nothing half-written
    }

    [Fact]
    public void Bench_counts_the_tokens_HuggingFace_counts()
    {
        var texts = TokenizerOracle.MathTexts().Take(200).ToList();
        var result = TokenizerBench.Run(TokenizerOracle.Qwen, texts, warmPasses: 1);
        Assert.Equal(texts.Sum(t => (long)TokenizerOracle.HfEncode(t).Length), result.Tokens);
        Assert.Equal(texts.Count, result.Texts);

        var input = InputFile(texts.Take(20).Select(t => new JsonObject { ["problem"] = t }));
        Assert.Equal(0, BenchTokenize.Create().Parse(["--input", input, "--passes", "1"]).Invoke());
    }
}
