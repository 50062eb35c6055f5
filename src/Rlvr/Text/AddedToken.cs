namespace Rlvr.Text;

/// <summary>
/// A token outside the BPE merges (Qwen2.5: the 22 ids 151643..151664 such as "&lt;|im_end|&gt;" and "&lt;tool_call&gt;"),
/// matched as a whole wherever it appears in the text, before BPE. The flags are those of HuggingFace's AddedToken.
/// </summary>
/// <param name="Special">Dropped by <c>Decode(..., skipSpecialTokens: true)</c>.</param>
/// <param name="Normalized">Matched in the NFC-normalized text instead of the raw text.</param>
/// <param name="LStrip">The match swallows the whitespace before it.</param>
/// <param name="RStrip">The match swallows the whitespace after it.</param>
/// <param name="SingleWord">Only matched when no word character touches it on either side.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized = false,
    bool LStrip = false, bool RStrip = false, bool SingleWord = false);

/// <summary>Finds added tokens in a text the way HuggingFace's AddedVocabulary does (leftmost-longest, non-overlapping).</summary>
internal sealed class AddedTokenMatcher
{
    readonly Dictionary<char, AddedToken[]> byFirstChar;
    readonly System.Buffers.SearchValues<char> firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        // Longest first, so the first candidate that matches at a position is the longest one there.
        byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        firstChars = System.Buffers.SearchValues.Create(byFirstChar.Keys.ToArray());
    }

    public bool IsEmpty => byFirstChar.Count == 0;

    /// <summary>
    /// Splits <paramref name="text"/> into pieces: added tokens (Token set) and the text between them (Token null).
    /// Empty text pieces are left out.
    /// </summary>
    public IEnumerable<(AddedToken? Token, string Text)> Split(string text)
    {
        var pieceStart = 0;  // start of the text not yet handed out
        var pos = 0;         // where the search for the next match resumes
        while (pos < text.Length)
        {
            var found = text.AsSpan(pos).IndexOfAny(firstChars);
            if (found < 0) break;
            var start = pos + found;
            var token = LongestAt(text, start);
            if (token == null) { pos = start + 1; continue; }
            var stop = start + token.Content.Length;
            pos = stop;
            if (token.SingleWord && (IsWordCharBefore(text, start) || IsWordCharAt(text, stop))) continue;
            if (token.LStrip) start = System.Math.Max(pieceStart, TrimmedEnd(text, start));
            if (token.RStrip) stop = pos = SkipWhitespace(text, stop);
            if (start > pieceStart) yield return (null, text[pieceStart..start]);
            yield return (token, text[start..stop]);
            pieceStart = stop;
        }
        if (pieceStart < text.Length) yield return (null, text[pieceStart..]);
    }

    AddedToken? LongestAt(string text, int start)
    {
        foreach (var t in byFirstChar[text[start]])
            if (string.CompareOrdinal(text, start, t.Content, 0, t.Content.Length) == 0) return t;
        return null;
    }

    // HF's single_word test uses the regex notion of a word character: letters, marks, digits, connectors.
    static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_' ||
        char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.ConnectorPunctuation;

    static bool IsWordCharBefore(string text, int i) => i > 0 && IsWordChar(text[i - 1]);
    static bool IsWordCharAt(string text, int i) => i < text.Length && IsWordChar(text[i]);

    static int TrimmedEnd(string text, int end)
    {
        while (end > 0 && char.IsWhiteSpace(text[end - 1])) end--;
        return end;
    }

    static int SkipWhitespace(string text, int start)
    {
        while (start < text.Length && char.IsWhiteSpace(text[start])) start++;
        return start;
    }
}
