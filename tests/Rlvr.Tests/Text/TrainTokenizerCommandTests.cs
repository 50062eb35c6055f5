using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary><c>rlvr train-tokenizer</c> through the real command line.</summary>
public class TrainTokenizerCommandTests
{
    [Fact]
    public void Trains_on_data_and_text_files_and_writes_a_folder_rlvr_reads()
    {
        var dir = Fixtures.TempDir();
        var text = Path.Combine(dir, "prompt.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("Qxzv says: {problem}\n", 20)));
        var data = Path.Combine(dir, "train.jsonl");
        File.WriteAllLines(data, TokenizerOracle.MathTexts().Take(40).Chunk(2).Select(p =>
            System.Text.Json.JsonSerializer.Serialize(new { problem = p[0], solution = p[1] })));
        var output = Path.Combine(dir, "tok");

        var r = CliRunner.Run("train-tokenizer", "--data", data, "--text", text, "--vocab-size", "400", "--out", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("41 texts", r.Stderr);
        foreach (var f in TokenizerFolderWriter.Files) Assert.True(File.Exists(Path.Combine(output, f)), f);
        var tokenizer = QwenTokenizer.Load(output);
        Assert.Equal(400, tokenizer.VocabSize);
        // The text file was part of the corpus: its made-up word, frequent there, became a token.
        Assert.NotNull(tokenizer.TokenId("Qxzv"));

        // A second run into the same folder needs --force; with it the files come out the same.
        var before = File.ReadAllBytes(Path.Combine(output, "tokenizer.json"));
        var again = CliRunner.Run("train-tokenizer", "--data", data, "--text", text, "--vocab-size", "400", "--out", output);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--force", again.Stderr);
        var forced = CliRunner.Run("train-tokenizer", "--data", data, "--text", text, "--vocab-size", "400", "--out", output, "--force");
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(output, "tokenizer.json")));
    }

    [Theory]
    [InlineData("--vocab-size", "100", "--vocab-size 100")]
    [InlineData("--min-frequency", "0", "--min-frequency 0")]
    [InlineData("--text", "/nonexistent/prompt.txt", "/nonexistent/prompt.txt")]
    [InlineData("--data", "/nonexistent/train.jsonl", "/nonexistent/train.jsonl")]
    public void Bad_options_exit_1_naming_the_culprit_and_write_nothing(string option, string value, string named)
    {
        var output = Path.Combine(Fixtures.TempDir(), "tok");
        string[] args = ["train-tokenizer", "--out", output, "--vocab-size", "300", "--data", "bundled:train"];
        var i = Array.IndexOf(args, option);
        args = i >= 0 ? args.Select((a, j) => j == i + 1 ? value : a).ToArray() : [.. args, option, value];
        var r = CliRunner.Run(args);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any());
    }

    [Fact]
    public void A_model_folder_is_never_written_into()
    {
        var model = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(model, "config.json"), "{}");
        var r = CliRunner.Run("train-tokenizer", "--data", "bundled:train", "--vocab-size", "300", "--out", model, "--force");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("config.json", r.Stderr);
        Assert.Equal(["config.json"], Directory.EnumerateFiles(model).Select(Path.GetFileName));
    }
}
