using System.Globalization;

namespace Rlvr.Text;

/// <summary>
/// Qwen2's pre-tokenizer regex, written out by hand over Unicode code points:
/// <code>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</code>
/// .NET's Regex classifies UTF-16 code units, so a letter or digit outside the BMP (math italic 𝑥, most
/// emoji are not letters but 𝟙 is a digit) would fall into the punctuation branch there; HuggingFace's
/// Oniguruma classifies code points. This class follows HF. Every alternative of the regex can start at
/// any character, so the pieces cover the text with no gaps.
/// </summary>
public static class Qwen2PreTokenizer
{
    /// <summary>The end of the regex match that starts at <paramref name="i"/>: the first alternative that matches, as a backtracking regex picks it.</summary>
    public static int PieceEnd(ReadOnlySpan<char> s, int i)
    {
        var c = At(s, i, out var n);
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (c == '\'' && ContractionEnd(s, i + 1) is var contraction and > 0) return contraction;
        var kind = KindOf(c);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (kind == Kind.Letter) return LettersEnd(s, i + n);
        if (kind != Kind.Number && c != '\r' && c != '\n' && i + n < s.Length && KindOf(At(s, i + n, out _)) == Kind.Letter)
            return LettersEnd(s, i + n);
        // \p{N}
        if (kind == Kind.Number) return i + n;
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var otherStart = kind == Kind.Other ? i
            : c == ' ' && i + 1 < s.Length && KindOf(At(s, i + 1, out _)) == Kind.Other ? i + 1 : -1;
        if (otherStart >= 0)
        {
            var j = otherStart;
            while (j < s.Length && KindOf(At(s, j, out var m)) == Kind.Other) j += m;
            while (j < s.Length && s[j] is '\r' or '\n') j++;
            return j;
        }
        // c is whitespace (all of it is in the BMP): \s*[\r\n]+ | \s+(?!\S) | \s+
        var runEnd = i;
        var lastNewline = -1;
        while (runEnd < s.Length && IsSpace(s[runEnd]))
        {
            if (s[runEnd] is '\r' or '\n') lastNewline = runEnd;
            runEnd++;
        }
        if (lastNewline >= 0) return lastNewline + 1;
        if (runEnd == s.Length || runEnd - i == 1) return runEnd;
        return runEnd - 1; // leave the last space to join the word that follows
    }

    /// <summary>End of a contraction after an apostrophe at <paramref name="j"/>-1, or 0. Case-insensitive as Oniguruma: 'ſ' folds to 's'.</summary>
    static int ContractionEnd(ReadOnlySpan<char> s, int j)
    {
        if (j >= s.Length) return 0;
        var a = Fold(s[j]);
        if (a is 's' or 't' or 'm' or 'd') return j + 1;
        if (j + 1 >= s.Length) return 0;
        var b = Fold(s[j + 1]);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? j + 2 : 0;
    }

    static char Fold(char c) => c switch
    {
        >= 'A' and <= 'Z' => (char)(c + 32),
        '\u017F' => 's',
        _ => c,
    };

    static int LettersEnd(ReadOnlySpan<char> s, int j)
    {
        while (j < s.Length && KindOf(At(s, j, out var m)) == Kind.Letter) j += m;
        return j;
    }

    enum Kind : byte { Letter, Number, Space, Other }

    static readonly Kind[] AsciiKinds = Enumerable.Range(0, 128).Select(c => ClassifySlow(c)).ToArray();

    static Kind KindOf(int c) => c < 128 ? AsciiKinds[c] : ClassifySlow(c);

    static Kind ClassifySlow(int c)
    {
        if (c <= 0xFFFF && IsSpace((char)c)) return Kind.Space;
        return CharUnicodeInfo.GetUnicodeCategory(c) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }

    /// <summary>\s: Unicode White_Space, all of it in the BMP.</summary>
    static bool IsSpace(char c) => c is '\t' or '\n' or '\v' or '\f' or '\r' or ' ' or '\u0085' or '\u00A0' or '\u1680'
        or (>= '\u2000' and <= '\u200A') or '\u2028' or '\u2029' or '\u202F' or '\u205F' or '\u3000';

    /// <summary>The code point at <paramref name="i"/> and its length in UTF-16 units (lone surrogates count as themselves).</summary>
    static int At(ReadOnlySpan<char> s, int i, out int length)
    {
        var c = s[i];
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            length = 2;
            return char.ConvertToUtf32(c, s[i + 1]);
        }
        length = 1;
        return c;
    }
}
