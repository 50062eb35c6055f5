using System.Text;
using System.Text.Json;
using Rlvr.Text;

namespace Rlvr.Tests.Text;

public class TokenizerDecodeTests
{
    static QwenTokenizer Qwen => TokenizerOracle.Qwen;

    /// <summary>The id of a vocabulary entry, read from vocab.json itself.</summary>
    static int VocabId(string token)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Rlvr.Assets.Path("assets", "qwen2.5", "vocab.json")));
        return doc.RootElement.GetProperty(token).GetInt32();
    }

    [Fact]
    public void Decoding_what_was_encoded_gives_the_text_back()
    {
        foreach (var text in TokenizerOracle.MathTexts().Take(500)
                     .Concat(["", "  a\tb\r\n", "你好 🙂 <|im_start|>user\nx<|im_end|>", "e\u0301", "x<tool_call>y"]))
        {
            var nfc = text.Normalize(NormalizationForm.FormC);
            Assert.Equal(nfc, Qwen.Decode(Qwen.Encode(text)));
        }
    }

    [Fact]
    public void Decodes_random_ids_like_HuggingFace_including_cut_UTF8()
    {
        // The oracle's decode leaves special tokens out, so compare with skipSpecialTokens: true.
        var rng = new Random(99);
        for (var i = 0; i < 2000; i++)
        {
            var ids = Enumerable.Range(0, rng.Next(1, 12)).Select(_ => rng.Next(4) == 0 ? rng.Next(151643, 151665) : rng.Next(0, 151643)).ToArray();
            Assert.Equal(TokenizerOracle.HfDecode(ids), Qwen.Decode(ids, skipSpecialTokens: true));
        }
        // Prefixes of byte tokens of multi-byte characters: what the sampler sees mid-character.
        foreach (var text in new[] { "🙂", "日本", "é", "𝑥=1", "a😶‍🌫️b" })
        {
            var ids = Qwen.Encode(text);
            for (var k = 1; k <= ids.Count; k++)
                Assert.Equal(TokenizerOracle.HfDecode(ids.Take(k)), Qwen.Decode(ids.Take(k)));
        }
    }

    [Fact]
    public void A_cut_character_decodes_to_the_replacement_character()
    {
        // 'Ã' (U+00C3) is byte 0xC3 in the byte-level alphabet: the lead byte of a 2-byte character, here alone.
        var lead = VocabId("Ã");
        Assert.Equal("\uFFFD", Qwen.Decode([lead]));
        Assert.Equal("a\uFFFD", Qwen.Decode([VocabId("a"), lead]));
        // 0xC3 0xA9 is "é"; byte 0xA9 is written '©' in the byte-level alphabet.
        Assert.Equal("é", Qwen.Decode([lead, VocabId("©")]));
    }

    [Fact]
    public void Special_tokens_are_kept_or_skipped_on_request()
    {
        int[] ids = [151644, VocabId("user"), VocabId("Ċ"), VocabId("hi"), 151645, 151657, 151643];
        Assert.Equal("<|im_start|>user\nhi<|im_end|><tool_call><|endoftext|>", Qwen.Decode(ids));
        // <tool_call> is an added token but not a special one: HF keeps it when skipping special tokens.
        Assert.Equal("user\nhi<tool_call>", Qwen.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Ids_beyond_the_vocabulary_are_dropped_and_negative_ids_rejected()
    {
        // The model's embedding has 151,936 rows; ids 151665.. have no token and HF drops them.
        Assert.Equal("hi", Qwen.Decode([VocabId("hi"), 151700, 151935]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Qwen.Decode([-1]));
    }

    [Fact]
    public void Vocabulary_facts_of_Qwen25()
    {
        Assert.Equal(151643 + 22, Qwen.VocabSize);
        Assert.Equal(14, Qwen.SpecialTokens.Count);
        Assert.Equal(22, Qwen.AddedTokens.Count);
        Assert.Equal("<|endoftext|>", Qwen.SpecialTokens[151643]);
        Assert.False(Qwen.SpecialTokens.ContainsKey(151657)); // <tool_call>
        Assert.Equal(151645, Qwen.TokenId("<|im_end|>"));
        Assert.Equal(VocabId("Ġthe"), Qwen.TokenId("Ġthe"));
        Assert.Null(Qwen.TokenId("no such token"));
        Assert.True(Qwen.IsSpecial(151644));
        Assert.False(Qwen.IsSpecial(151658));
    }
}
