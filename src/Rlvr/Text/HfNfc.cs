using System.Text;

namespace Rlvr.Text;

/// <summary>
/// NFC as HuggingFace tokenizers computes it. HF normalizes with the Unicode 9.0 tables of its
/// unicode-normalization-alignments crate; .NET uses ICU (72 on Debian 12: Unicode 15.0). For every
/// character both know the results agree (Unicode's normalization stability), so only the combining
/// marks added in Unicode 10..15 differ: HF sees them as plain starters that neither move nor compose.
/// They are listed below and the text is normalized around them, which is exactly what a starter that
/// composes with nothing does.
/// </summary>
internal static class HfNfc
{
    /// <summary>
    /// Code points that ICU 72's NFC reorders or composes and HF's does not, found by comparing HF's
    /// tokenizer (Tokenizers.DotNet) with this class over every code point of planes 0-3 in contexts that
    /// expose reordering and composition (QwenTokenizerTests checks them all against HF).
    /// U+11930 is the second half of U+11938's canonical decomposition (Unicode 13).
    /// </summary>
    static readonly (int First, int Last)[] Unicode9Unknown =
    [
        (0x7FD, 0x7FD), (0x898, 0x89F), (0x8CA, 0x8D3), (0x9FE, 0x9FE), (0xC3C, 0xC3C), (0xD3B, 0xD3C), (0xEBA, 0xEBA),
        (0x1715, 0x1715), (0x1ABF, 0x1ACE), (0x1DF6, 0x1DFA), (0xA82C, 0xA82C), (0x10D24, 0x10D27), (0x10EAB, 0x10EAC),
        (0x10EFD, 0x10EFF), (0x10F46, 0x10F50), (0x10F82, 0x10F85), (0x11070, 0x11070), (0x1133B, 0x1133B),
        (0x1145E, 0x1145E), (0x11839, 0x1183A), (0x11930, 0x11930), (0x1193D, 0x1193E), (0x11943, 0x11943),
        (0x119E0, 0x119E0), (0x11A34, 0x11A34), (0x11A47, 0x11A47), (0x11A99, 0x11A99), (0x11D42, 0x11D42),
        (0x11D44, 0x11D45), (0x11D97, 0x11D97), (0x11F41, 0x11F42), (0x16FF0, 0x16FF1), (0x1E08F, 0x1E08F),
        (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF), (0x1E4EC, 0x1E4EF),
    ];

    static readonly HashSet<int> Unknown = [.. Unicode9Unknown.SelectMany(r => Enumerable.Range(r.First, r.Last - r.First + 1))];

    public static string Normalize(string text)
    {
        // Text ICU finds normalized, HF leaves alone too: HF's tables only know fewer reorderings and compositions.
        if (IsNormalized(text)) return text;
        var sb = new StringBuilder(text.Length);
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var width = char.IsSurrogatePair(text, i) ? 2 : 1;
            if (Unknown.Contains(width == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i]))
            {
                sb.Append(Icu(text[start..i])).Append(text, i, width);
                start = i + width;
            }
            i += width - 1;
        }
        return start == 0 ? Icu(text) : sb.Append(Icu(text[start..])).ToString();
    }

    static bool IsNormalized(string text)
    {
        try { return text.IsNormalized(NormalizationForm.FormC); }
        catch (ArgumentException) { return false; } // U+FFFE, see Icu
    }

    static string Icu(string text)
    {
        try { return text.Normalize(NormalizationForm.FormC); }
        catch (ArgumentException) when (text.Contains('\uFFFE'))
        {
            // .NET (through ICU) refuses the noncharacter U+FFFE. NFC leaves it as is, and as a starter that composes
            // with nothing it also blocks composition across it, so the parts around it normalize on their own.
            return string.Join('\uFFFE', text.Split('\uFFFE').Select(Icu));
        }
    }
}
