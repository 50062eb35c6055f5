using System.Text.Json.Nodes;
using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary>A tokenizer trained on the bundled MATH data and written as a folder: read by rlvr and by HuggingFace alike.</summary>
public class TrainedTokenizerTests
{
    /// <summary>1,000 ids learned from the bundled MATH training problems and solutions, written once.</summary>
    static readonly Lazy<string> folder = new(() =>
    {
        var dir = Fixtures.TempDir();
        TokenizerFolderWriter.Write(BpeTrainer.Train(TokenizerOracle.MathTexts(), vocabSize: 1000), dir);
        return dir;
    });

    static readonly Lazy<QwenTokenizer> rlvr = new(() => QwenTokenizer.Load(folder.Value));
    static readonly Lazy<Tokenizers.DotNet.Tokenizer> hf = new(() => new Tokenizers.DotNet.Tokenizer(vocabPath: Path.Combine(folder.Value, "tokenizer.json")));
    static readonly object hfLock = new();

    static int[] HfEncode(string text)
    {
        lock (hfLock) return hf.Value.Encode(text).Select(i => (int)i).ToArray();
    }

    /// <summary>Hand-picked strings of the Qwen tests (unicode, digits, whitespace, special tokens, long words), MATH, random text.</summary>
    static IEnumerable<string> Texts()
    {
        var rng = new Random(99);
        return ((IEnumerable<object[]>)QwenTokenizerTests.HandPicked).Select(row => (string)row[0])
            .Concat(TokenizerOracle.MathTexts().Where((_, i) => i % 5 == 0))
            .Concat(Enumerable.Range(0, 1000).Select(_ => QwenTokenizerTests.RandomText(rng)))
            .Concat(["<|im_start|>user\nWhat is $2^{10}$?<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>x<|im_end|>", "<|im_start", "\\boxed{-\\frac{3}{4}}"]);
    }

    [Fact]
    public void Encodes_exactly_like_HuggingFace_tokenizers_reading_the_same_folder()
    {
        var n = 0;
        foreach (var text in Texts())
        {
            var expected = HfEncode(text);
            var actual = rlvr.Value.Encode(text);
            Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
            n++;
        }
        Assert.True(n > 1700, $"only {n} texts");
    }

    [Fact]
    public void Vocab_json_and_merges_txt_alone_give_the_same_ids()
    {
        var dir = Fixtures.TempDir();
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json" }) File.Copy(Path.Combine(folder.Value, f), Path.Combine(dir, f));
        var slow = QwenTokenizer.Load(dir);
        foreach (var text in Texts().Take(400))
        {
            var expected = rlvr.Value.Encode(text);
            var actual = slow.Encode(text);
            Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
        }
    }

    [Fact]
    public void Decoding_gives_back_the_text_NFC_normalized_between_special_tokens()
    {
        foreach (var text in Texts())
        {
            var pieces = System.Text.RegularExpressions.Regex.Split(text, @"(<\|endoftext\|>|<\|im_start\|>|<\|im_end\|>)");
            var expected = string.Concat(pieces.Select(p => BpeTrainer.SpecialTokens.Contains(p) ? p : HfNfc.Normalize(p)));
            Assert.Equal(expected, rlvr.Value.Decode(rlvr.Value.Encode(text)));
        }
    }

    [Fact]
    public void Has_the_ids_asked_for_with_the_ChatML_special_tokens_last()
    {
        var t = rlvr.Value;
        Assert.Equal(1000, t.VocabSize);
        Assert.Equal(997, t.TokenId("<|endoftext|>"));
        Assert.Equal(998, t.TokenId("<|im_start|>"));
        Assert.Equal(999, t.TokenId("<|im_end|>"));
        Assert.Equal(3, t.SpecialTokens.Count);
        // Every byte is a token, so no text is ever unknown.
        for (var b = 0; b < 256; b++) Assert.InRange(t.TokenId(ByteLevel.CharOf((byte)b).ToString()) ?? -1, 0, 255);
    }

    [Fact]
    public void Tokenizer_config_has_eos_pad_and_a_chat_template_without_a_default_system_prompt()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Value, "tokenizer_config.json")))!;
        Assert.Equal("<|im_end|>", (string?)config["eos_token"]);
        Assert.Equal("<|endoftext|>", (string?)config["pad_token"]);
        Assert.Equal("Qwen2Tokenizer", (string?)config["tokenizer_class"]);
        Assert.Equal("<|im_start|>", (string?)config["added_tokens_decoder"]!["998"]!["content"]);

        var template = ChatTemplate.ForModel(folder.Value);
        Assert.Equal("<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n",
            template.Render([new ChatMessage("user", "What is 1+1?")], addGenerationPrompt: true));
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n",
            template.Render([new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello")], addGenerationPrompt: false));
    }

    [Fact]
    public void The_same_corpus_and_options_write_identical_files()
    {
        var again = Fixtures.TempDir();
        TokenizerFolderWriter.Write(BpeTrainer.Train(TokenizerOracle.MathTexts(), vocabSize: 1000), again);
        foreach (var f in TokenizerFolderWriter.Files)
            Assert.True(File.ReadAllBytes(Path.Combine(folder.Value, f)).SequenceEqual(File.ReadAllBytes(Path.Combine(again, f))), f);
    }
}
