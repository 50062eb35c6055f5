using System.Text;
using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary>rlvr's tokenizer against HuggingFace's (the oracle) on the real Qwen2.5 vocabulary.</summary>
public class QwenTokenizerTests
{
    static QwenTokenizer Qwen => TokenizerOracle.Qwen;

    public static TheoryData<string> HandPicked => new()
    {
        // llama.cpp's test-tokenizer-0 inputs, used for Qwen2 there
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", "Hello world", " Hello world", "Hello World",
        " Hello World", " Hello World!", "Hello, world!", " Hello, world!", " this is 🦙.cpp", "w048 7tuijk dsdfhu",
        "нещо на Български", "កាន់តែពិសេសអាចខលចេញ",
        "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
        "Hello", " Hello", "  Hello", "   Hello", "    Hello", "    Hello\n    Hello", " (", "\n =", "' era",
        "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～", "!!!!!!", "3", "33", "333", "3333", "33333",
        "333333", "3333333", "33333333", "333333333", "Cửa Việt", " discards", "ied 4 ½ months", "Führer",
        // English and contractions in every case
        "I'm sure they'll say it's what we've done, and he'd've LIKED it. DON'T YOU'RE I'M",
        "The quick brown fox jumps over the lazy dog.", "it'ſ it'ſt", "x'Re x'rE",
        // letters and digits outside the BMP (.NET's Regex would see two surrogates there)
        "𝑥 + 𝑦 = 𝟙, 𝔽_p, 𝐀𝐁, a𝑥'm, 𐍈𐌰 𝟘𝟙𝟚", "$𝑥$ \\𝑥 𝒜𝒷", "🙂𝑥 𝑥🙂",
        // LaTeX and math
        @"Let $f(x) = \frac{x^2 + 1}{x - 3}$. Find $\sum_{k=1}^{\infty} \frac{1}{k^2} = \boxed{\frac{\pi^2}{6}}$.",
        @"\begin{align*} a &= b \\ c &\le d \end{align*}", "1234567890 12,345.6789 -0.5e-10 3.14159265358979",
        "x_1, x_2, \\ldots, x_{100}", "$$\\int_0^1 x\\,dx$$", "\\left\\{ \\right\\}",
        // code
        "def f(x):\n    return x ** 2\n\n\nif __name__ == '__main__':\n\tprint(f(3))\n",
        "for (int i = 0; i < n; ++i) { sum += a[i]; } // comment", "<div class=\"a\">&amp;</div>",
        // whitespace runs, trailing whitespace, CR LF
        "a  b   c    d     ", "a\t\tb \t c\t \t", "   leading", "trailing   ", "\r\n", "line1\r\nline2\r\n\r\n",
        "\r\r\n\n", " \n \n ", "a \n\n  b", "\u00a0x\u3000y\u2028z\u0085w", "\f\v",
        // CJK and other scripts
        "你好，世界！今天天气很好。", "日本語のテキストです。カタカナ", "한국어 텍스트", "مرحبا بالعالم", "שלום עולם", "ΑΒΓ αβγ",
        // emoji sequences: ZWJ, skin tones, flags, keycaps
        "👨‍👩‍👧‍👦 👍🏽 🇫🇷🇯🇵 1️⃣ ❤️", "🤔🤔🤔",
        // combining characters needing NFC
        "e\u0301cole", "A\u030a", "\u1100\u1161\u11a8", "o\u0308\u0304", "\u212b", "\uFB01 \u2126",
        // special tokens inside text
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|><|endoftext|>",
        "a<|im_end|>b", "<|im_end", "<|im_start|><|im_start|", "x<tool_call>{\"a\": 1}</tool_call>y",
        "<|fim_prefix|>def<|fim_suffix|>x<|fim_middle|>", " <|im_end|> ", "<|im_end|>\u0338", "<<|im_end|>>",
        // a long word and long runs
        new string('a', 3000), "pneumonoultramicroscopicsilicovolcanoconiosis", new string(' ', 500) + "x",
        new string('\n', 100), string.Concat(Enumerable.Repeat("ab1", 700)),
    };

    [Theory]
    [MemberData(nameof(HandPicked))]
    public void Encodes_like_HuggingFace(string text)
    {
        var expected = TokenizerOracle.HfEncode(text);
        var actual = Qwen.Encode(text);
        Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
    }

    [Fact]
    public void Encodes_all_MATH_problems_and_solutions_like_HuggingFace()
    {
        var n = 0;
        foreach (var text in TokenizerOracle.MathTexts())
        {
            var expected = TokenizerOracle.HfEncode(text);
            var actual = Qwen.Encode(text);
            Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
            n++;
        }
        Assert.True(n >= 3000, $"only {n} texts read");
    }

    [Fact]
    public void Encodes_random_unicode_like_HuggingFace()
    {
        var rng = new Random(1234);
        for (var i = 0; i < 3000; i++)
        {
            var text = RandomText(rng);
            var expected = TokenizerOracle.HfEncode(text);
            var actual = Qwen.Encode(text);
            Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
        }
    }

    /// <summary>
    /// NFC is where versions of Unicode disagree (HF normalizes with Unicode 9.0 tables): every combining mark
    /// and every character with a canonical decomposition, in contexts where marks reorder and compose.
    /// </summary>
    [Fact]
    public void Normalizes_every_combining_mark_and_composite_like_HuggingFace()
    {
        var n = 0;
        for (var cp = 0x80; cp < 0x30000; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF or 0xFFFE) continue; // surrogates; .NET refuses to normalize U+FFFE
            var x = char.ConvertFromUtf32(cp);
            var category = System.Globalization.CharUnicodeInfo.GetUnicodeCategory(cp);
            var isMark = category is System.Globalization.UnicodeCategory.NonSpacingMark
                or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.EnclosingMark;
            var decomposed = x.Normalize(NormalizationForm.FormD);
            if (!isMark && decomposed == x) continue;
            var text = isMark ? $"a\u0301{x}\u0334 \u0301{x}a{x}\u0301 e{x}" : $"{x} {decomposed}x{decomposed}\u0323";
            var expected = TokenizerOracle.HfEncode(text);
            var actual = Qwen.Encode(text);
            Assert.True(expected.SequenceEqual(actual), TokenizerOracle.Diff(text, expected, actual));
            n++;
        }
        Assert.True(n > 4000, $"only {n} code points tried");
    }

    /// <summary>Random mixes of the pieces that matter to the regex, NFC and added tokens, plus random code points.</summary>
    internal static string RandomText(Random rng)
    {
        string[] pieces =
        [
            " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "'s", "'S", "'ll", "'LL", "'re", "'Ve",
            "'m", "'D", "'t", "'x", "'", "\"", "a", "Z", "word", "Hello", "é", "e", "\u0301", "\u0308", "\u0338", ">", "<",
            "1", "42", "٣", "１２", "½", "Ⅻ", "$", "\\frac", "{", "}", "^", "_", "...", "!!", "?", "，", "。", "你好",
            "テスト", "한", "🙂", "👍🏽", "‍", "️", "🇯🇵", "<|im_end|>", "<|im_start|>", "<|endoftext|>", "<tool_call>",
            "<|im_", "|>", "ſ", "K", "İ", "ß", "\u200b", "\u00ad", "\0", "\u007f",
        ];
        var sb = new StringBuilder();
        var n = rng.Next(1, 25);
        for (var i = 0; i < n; i++)
        {
            if (rng.Next(4) == 0) sb.Append(char.ConvertFromUtf32(RandomScalar(rng)));
            else sb.Append(pieces[rng.Next(pieces.Length)]);
        }
        return sb.ToString();
    }

    static int RandomScalar(Random rng)
    {
        while (true)
        {
            var c = rng.Next(4) switch { 0 => rng.Next(0x80), 1 => rng.Next(0x80, 0x3000), 2 => rng.Next(0x3000, 0x10000), _ => rng.Next(0x10000, 0x20000) };
            if (c is < 0xD800 or > 0xDFFF) return c;
        }
    }
}
