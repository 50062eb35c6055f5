using System.Text.Json.Nodes;
using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary>The folder forms a tokenizer comes in give the same ids.</summary>
public class TokenizerFolderTests
{
    static readonly string Qwen = Rlvr.Assets.QwenTokenizerDir;

    static string FolderWith(params string[] files)
    {
        var dir = Fixtures.TempDir();
        foreach (var f in files) File.Copy(Path.Combine(Qwen, f), Path.Combine(dir, f));
        return dir;
    }

    /// <summary>Texts that exercise added tokens (special and not), NFC and the regex, plus MATH.</summary>
    static IEnumerable<string> Sample() =>
        new[]
        {
            "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n", "x<tool_call>y</tool_call>",
            "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "e\u0301 A\u030a", "I'LL 𝑥 你好 🙂  \r\n\t ", "<|im_end|>\u0338",
        }.Concat(TokenizerOracle.MathTexts().Take(300));

    static void AssertSameIds(QwenTokenizer tokenizer)
    {
        foreach (var text in Sample())
        {
            var expected = TokenizerOracle.HfEncode(text);
            var actual = tokenizer.Encode(text);
            Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
        }
        Assert.Equal(14, tokenizer.SpecialTokens.Count);
        Assert.Equal(151665, tokenizer.VocabSize);
    }

    [Fact]
    public void Vocab_and_merges_with_tokenizer_config_give_the_same_ids() =>
        AssertSameIds(QwenTokenizer.Load(FolderWith("vocab.json", "merges.txt", "tokenizer_config.json")));

    [Fact]
    public void Vocab_and_merges_with_added_tokens_json_give_the_same_ids() =>
        AssertSameIds(QwenTokenizer.Load(FolderWith("vocab.json", "merges.txt", "added_tokens.json", "special_tokens_map.json")));

    [Fact]
    public void Tokenizer_json_with_merges_as_pairs_gives_the_same_ids()
    {
        var dir = Fixtures.TempDir();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(Qwen, "tokenizer.json")))!;
        var merges = json["model"]!["merges"]!.AsArray();
        var pairs = new JsonArray();
        foreach (var m in merges)
        {
            var parts = m!.GetValue<string>().Split(' ');
            pairs.Add(new JsonArray(parts[0], parts[1]));
        }
        json["model"]!["merges"] = pairs;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        AssertSameIds(QwenTokenizer.Load(dir));
    }

    [Fact]
    public void A_folder_without_tokenizer_files_is_an_error_naming_what_was_looked_for()
    {
        var dir = FolderWith("merges.txt");
        var e = Assert.Throws<FileNotFoundException>(() => QwenTokenizer.Load(dir));
        Assert.Contains(dir, e.Message);
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("vocab.json", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => QwenTokenizer.Load(Path.Combine(dir, "missing")));
    }

    [Fact]
    public void An_unsupported_tokenizer_json_is_rejected_naming_the_file_and_setting()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, """{"normalizer": {"type": "NFKC"}, "pre_tokenizer": null, "model": {"type": "BPE", "vocab": {}, "merges": []}}""");
        var e = Assert.Throws<InvalidDataException>(() => QwenTokenizer.Load(dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("NFKC", e.Message);
    }
}
