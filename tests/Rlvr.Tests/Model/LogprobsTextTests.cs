using System.Text.Json.Nodes;
using Rlvr.Tests.Training;
using Rlvr.Text;

namespace Rlvr.Tests.Model;

public class LogprobsTextTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    static float[] Scores(string stdout, int line) =>
        ((JsonArray)JsonNode.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[line])!["token_logprobs"]!)
            .Select(x => (float)x!).ToArray();

    [Fact]
    public void Text_lines_score_only_the_completion_after_the_chat_prompt()
    {
        var tokenizer = QwenTokenizer.Load(tiny.ModelDir);
        // The chat prompt for user "What is 2+2?", written out by hand (Qwen2.5's default system prompt).
        var promptIds = tokenizer.Encode("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
        var completionIds = tokenizer.Encode("It is \\boxed{4}.");
        var ids = string.Join(",", promptIds.Concat(completionIds));
        var input = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllText(input,
            """{"id": "text", "prompt": "What is 2+2?", "completion": "It is \\boxed{4}."}""" + "\n" +
            $$"""{"id": "ids", "input_ids": [{{ids}}]}""" + "\n" +
            """{"id": "raw", "prompt": "2+2=", "completion": "4"}""" + "\n");
        var r = CliRunner.Run("logprobs", "--model", tiny.ModelDir, "--input", input);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var text = Scores(r.Stdout, 0);
        var all = Scores(r.Stdout, 1);
        Assert.Equal(completionIds.Count, text.Length);
        Assert.Equal(all.Skip(promptIds.Count - 1).ToArray(), text);

        var raw = CliRunner.Run("logprobs", "--model", tiny.ModelDir, "--input", input, "--raw");
        Assert.Equal(tokenizer.Encode("4").Count, Scores(raw.Stdout, 2).Length);
        Assert.NotEqual(Scores(r.Stdout, 2), Scores(raw.Stdout, 2));
    }

    [Fact]
    public void A_text_line_without_completion_names_the_line()
    {
        var input = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllText(input, "{\"id\": 1, \"input_ids\": [1, 2]}\n{\"id\": 2, \"prompt\": \"hi\"}\n");
        var r = CliRunner.Run("logprobs", "--model", tiny.ModelDir, "--input", input);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("in.jsonl:2", r.Stderr);
    }
}
