using System.Text.Json.Nodes;
using Rlvr.Model;
using Rlvr.Tests.Model;
using Rlvr.Text;

namespace Rlvr.Tests.Generation;

public class GenerateCommandTests
{
    /// <summary>A random model with the real Qwen2.5 vocabulary and tokenizer files, written once for these tests.</summary>
    static readonly Lazy<string> tinyWithTokenizer = new(() =>
    {
        var dir = Path.Combine(Fixtures.TempDir(), "tiny");
        using var model = new Qwen2ForCausalLM(Qwen2Config.Tiny);
        model.InitializeWeights(3);
        ModelFolder.Save(model, dir, tokenizerSourceDir: Assets.QwenTokenizerDir, generation: GenerationConfig.Qwen25Instruct);
        return dir;
    });

    static List<JsonNode> Generate(string input, params string[] args)
    {
        var dir = Fixtures.TempDir();
        var inputPath = Path.Combine(dir, "in.jsonl");
        File.WriteAllText(inputPath, input);
        var output = Path.Combine(dir, "out.jsonl");
        var r = CliRunner.Run(["generate", "--input", inputPath, "--output", output, .. args]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
    }

    static int[] Ints(JsonNode? array) => array!.AsArray().Select(x => (int)x!).ToArray();

    [Fact]
    public void Greedy_generation_reproduces_the_fixture_continuations()
    {
        var cases = TestModels.FixtureCases;
        var input = string.Join("\n", cases.Select((c, i) => new JsonObject { ["id"] = $"case-{i}", ["input_ids"] = new JsonArray(c.InputIds.Select(x => (JsonNode?)x).ToArray()) }.ToJsonString()));
        var lines = Generate(input, "--model", Fixtures.TinyQwen2, "--temperature", "0", "--max-new-tokens", "12", "--stop-token-ids", "none", "--batch-size", "3");
        Assert.Equal(cases.Count, lines.Count);
        for (var i = 0; i < cases.Count; i++)
        {
            Assert.Equal($"case-{i}", (string)lines[i]["id"]!);
            var completion = lines[i]["completions"]!.AsArray().Single()!;
            Assert.Equal(cases[i].GreedyIds.Select(x => (int)x), Ints(completion["ids"]));
            Assert.Equal(12, completion["logprobs"]!.AsArray().Count);
            Assert.Equal("length", (string)completion["finish_reason"]!);
        }
    }

    [Fact]
    public void Text_prompts_go_through_the_chat_template_and_texts_are_decoded()
    {
        var model = tinyWithTokenizer.Value;
        var tokenizer = QwenTokenizer.Load(model);
        var question = "What is 7 times 6?";
        var rendered = ChatTemplate.Qwen25.Render([new ChatMessage("user", question)], addGenerationPrompt: true);
        var lines = new[]
        {
            new JsonObject { ["id"] = 1, ["prompt"] = question },
            new JsonObject { ["id"] = 2, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = question }) },
            new JsonObject { ["id"] = 3, ["input_ids"] = new JsonArray(tokenizer.Encode(rendered).Select(x => (JsonNode?)x).ToArray()) },
        };
        var outputs = Generate(string.Join("\n", lines.Select(l => l.ToJsonString())), "--model", model, "--temperature", "0", "--max-new-tokens", "6", "--n", "2");
        var ids = outputs.Select(o => Ints(o["completions"]![0]!["ids"])).ToList();
        Assert.Equal(ids[2], ids[0]);
        Assert.Equal(ids[2], ids[1]);
        foreach (var o in outputs)
        {
            var completions = o["completions"]!.AsArray();
            Assert.Equal(2, completions.Count);
            foreach (var c in completions)
            {
                var cIds = Ints(c!["ids"]);
                var withoutStop = (string)c["finish_reason"]! == "stop" ? cIds[..^1] : cIds;
                Assert.Equal(tokenizer.Decode(withoutStop, skipSpecialTokens: true), (string)c["text"]!);
            }
        }

        // --raw: the prompt text is tokenized as it is.
        var raw = Generate(new JsonObject { ["prompt"] = rendered }.ToJsonString(), "--model", model, "--temperature", "0", "--max-new-tokens", "6", "--raw");
        Assert.Equal(ids[2], Ints(raw[0]["completions"]![0]!["ids"]));
    }

    [Fact]
    public void Bad_lines_are_reported_with_file_and_line()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "in.jsonl");
        File.WriteAllText(input, "{\"id\": 1, \"input_ids\": [1, 2]}\n{\"id\": 2}\n");
        var r = CliRunner.Run("generate", "--model", Fixtures.TinyQwen2, "--input", input);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("in.jsonl:2", r.Stderr);
        Assert.Contains("input_ids", r.Stderr);

        File.WriteAllText(input, "{\"id\": 1, \"prompt\": \"hi\"}\n");
        r = CliRunner.Run("generate", "--model", Fixtures.TinyQwen2, "--input", input);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("tokenizer", r.Stderr);

        File.WriteAllText(input, "{\"id\": 1, \"input_ids\": [1000]}\n");
        r = CliRunner.Run("generate", "--model", Fixtures.TinyQwen2, "--input", input);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("vocabulary", r.Stderr);

        r = CliRunner.Run("generate", "--model", Fixtures.TinyQwen2, "--input", input, "--top-p", "1.5");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--top-p", r.Stderr);
    }
}
