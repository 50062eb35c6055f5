namespace Rlvr.Math;

/// <summary>Finds the content of <c>\boxed{...}</c> (or <c>\fbox{...}</c>, or <c>\boxed X</c>) in a text.</summary>
public static class BoxedAnswer
{
    static readonly string[] Commands = [@"\boxed", @"\fbox"];

    /// <summary>A box in a text: where it starts and ends (exclusive), its content, and whether it closes.</summary>
    public readonly record struct Box(int Start, int End, string Content, bool Closed);

    /// <summary>The content of the last box, braces balanced to any depth; null when there is none or the last one never closes (a truncated answer).</summary>
    public static string? Last(string text)
    {
        var boxes = All(text);
        if (boxes.Count == 0 || !boxes[^1].Closed) return null;
        var content = boxes[^1].Content;
        // \boxed{\boxed{5}}: the innermost box is the answer.
        return content.Contains(@"\boxed", StringComparison.Ordinal) || content.Contains(@"\fbox", StringComparison.Ordinal)
            ? Last(content) ?? content : content;
    }

    /// <summary>The top-level boxes of a text in order (a box inside a box is part of the outer one's content).</summary>
    public static List<Box> All(string text)
    {
        var boxes = new List<Box>();
        int from = 0;
        // Next occurrence of each command at or after `from`, found once and reused (linear in the text).
        var next = new int[Commands.Length];
        for (int k = 0; k < Commands.Length; k++) next[k] = NextCommandIndex(text, Commands[k], 0);
        while (true)
        {
            int start = -1;
            string? command = null;
            for (int k = 0; k < Commands.Length; k++)
            {
                if (next[k] >= 0 && next[k] < from) next[k] = NextCommandIndex(text, Commands[k], from);
                if (next[k] >= 0 && (start < 0 || next[k] < start)) { start = next[k]; command = Commands[k]; }
            }
            if (start < 0) return boxes;
            var box = Read(text, start, command!.Length);
            boxes.Add(box);
            if (!box.Closed) return boxes;
            from = box.End;
        }
    }

    static Box Read(string text, int start, int commandLength)
    {
        int pos = start + commandLength;
        while (pos < text.Length && (text[pos] == ' ' || text[pos] == '\t')) pos++;
        if (pos >= text.Length || text[pos] != '{')
        {
            // \boxed X (no braces): the next space-separated token, up to a '$' or the end of the line.
            int end = pos;
            while (end < text.Length && text[end] != '$' && !char.IsWhiteSpace(text[end])) end++;
            var bare = text[pos..end].Trim();
            return new Box(start, end, bare, bare.Length > 0);
        }
        int depth = 0;
        for (int i = pos; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && (text[i + 1] == '{' || text[i + 1] == '}')) { i++; continue; }
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return new Box(start, i + 1, text[(pos + 1)..i], true);
        }
        return new Box(start, text.Length, text[(pos + 1)..], false);
    }

    /// <summary>Index of the next occurrence of a command that is not a prefix of a longer command name (\boxedfoo).</summary>
    static int NextCommandIndex(string text, string command, int from)
    {
        for (int i = text.IndexOf(command, from, StringComparison.Ordinal); i >= 0;
             i = text.IndexOf(command, i + 1, StringComparison.Ordinal))
        {
            int after = i + command.Length;
            if (after >= text.Length || !char.IsLetter(text[after])) return i;
        }
        return -1;
    }
}
