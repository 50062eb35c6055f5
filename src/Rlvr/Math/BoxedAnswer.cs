namespace Rlvr.Math;

/// <summary>Finds the content of the last <c>\boxed{...}</c> (or <c>\fbox{...}</c>, or <c>\boxed X</c>) in a text.</summary>
public static class BoxedAnswer
{
    static readonly string[] Commands = [@"\boxed", @"\fbox"];

    /// <summary>The content of the last box, braces balanced to any depth; null when there is none or it never closes.</summary>
    public static string? Last(string text)
    {
        int start = -1;
        string? command = null;
        foreach (var c in Commands)
        {
            int i = LastCommandIndex(text, c);
            if (i > start) { start = i; command = c; }
        }
        if (start < 0) return null;
        int pos = start + command!.Length;
        // \boxed X (no braces): the next space-separated token, up to a '$' or end of line.
        if (pos < text.Length && text[pos] == ' ')
        {
            int end = pos + 1;
            while (end < text.Length && text[end] != '$' && text[end] != '\n' && !char.IsWhiteSpace(text[end])) end++;
            var bare = text[(pos + 1)..end].Trim();
            return bare.Length == 0 ? null : bare;
        }
        while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
        if (pos >= text.Length || text[pos] != '{') return null;
        int depth = 0;
        for (int i = pos; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && (text[i + 1] == '{' || text[i + 1] == '}')) { i++; continue; }
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return text[(pos + 1)..i];
        }
        return null;
    }

    /// <summary>Index of the last occurrence of a command that is not a prefix of a longer command name.</summary>
    static int LastCommandIndex(string text, string command)
    {
        for (int i = text.LastIndexOf(command, StringComparison.Ordinal); i >= 0;
             i = i == 0 ? -1 : text.LastIndexOf(command, i - 1, StringComparison.Ordinal))
        {
            int after = i + command.Length;
            if (after >= text.Length || !char.IsLetter(text[after])) return i;
        }
        return -1;
    }
}
