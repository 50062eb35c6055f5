using System.Globalization;
using System.Text;

namespace Rlvr.Text.Jinja;

internal enum TokenKind { Name, String, Integer, Float, Operator, End }

internal readonly record struct Token(TokenKind Kind, string Text, object? Value, int Line)
{
    public bool Is(string text) => Kind is TokenKind.Operator or TokenKind.Name && Text == text;
    public override string ToString() => Kind == TokenKind.End ? "end of tag" : $"'{Text}'";
}

/// <summary>A piece of the template: literal text, <c>{{ expression }}</c> or <c>{% statement %}</c>.</summary>
internal sealed record Segment(SegmentKind Kind, string Text, IReadOnlyList<Token> Tokens, int Line);

internal enum SegmentKind { Text, Output, Statement }

/// <summary>
/// Cuts a template into text and tags with Jinja's whitespace rules as HuggingFace configures them
/// (<c>trim_blocks</c> and <c>lstrip_blocks</c> on, <c>keep_trailing_newline</c> off), and tags into tokens.
/// </summary>
internal sealed class Lexer(string source, string origin)
{
    // Jinja reads the source line by line: newlines become "\n" and one trailing newline is dropped.
    readonly string src = DropTrailingNewline(source.Replace("\r\n", "\n").Replace('\r', '\n'));
    int pos;
    int line = 1;

    static string DropTrailingNewline(string s) => s.EndsWith('\n') ? s[..^1] : s;

    public List<Segment> Segments()
    {
        var segments = new List<Segment>();
        var lineStarting = true;      // the text about to be read starts a line (for lstrip_blocks)
        var stripNextText = false;    // the previous tag ended with '-'
        while (pos < src.Length)
        {
            var tagStart = NextTagStart(pos);
            var raw = src[pos..(tagStart < 0 ? src.Length : tagStart)];
            var text = raw;
            var textLine = line;
            if (stripNextText)
            {
                // What '-' swallowed counts as consumed by the tag, as in Jinja's regex.
                var swallowed = raw[..(raw.Length - raw.TrimStart().Length)];
                if (swallowed.Length > 0) lineStarting = swallowed.EndsWith('\n');
                textLine += Lines(swallowed);
                text = raw[swallowed.Length..];
            }
            Advance(raw);
            if (tagStart < 0) { Add(segments, text, textLine); break; }

            var kind = src[tagStart + 1];
            var modifier = tagStart + 2 < src.Length ? src[tagStart + 2] : '\0';
            if (modifier == '-') text = text.TrimEnd();
            else if (kind != '{' && modifier != '+') text = LStripBlock(text, lineStarting);
            Add(segments, text, textLine);

            pos = tagStart + 2 + (modifier is '-' or '+' ? 1 : 0);
            var tagLine = line;
            char endModifier;
            if (kind == '#')
            {
                var close = src.IndexOf("#}", pos, StringComparison.Ordinal);
                if (close < 0) throw Error(tagLine, "comment '{#' is never closed with '#}'");
                endModifier = close > pos && src[close - 1] is '-' or '+' ? src[close - 1] : '\0';
                Advance(src[pos..(close + 2)]);
                pos = close + 2;
            }
            else
            {
                var tokens = Tokens(kind == '{' ? '}' : '%', out endModifier);
                segments.Add(new Segment(kind == '{' ? SegmentKind.Output : SegmentKind.Statement, "", tokens, tagLine));
            }
            stripNextText = endModifier == '-';
            lineStarting = false;
            // trim_blocks: a block or comment tag eats the newline right after it.
            if (!stripNextText && kind != '{' && endModifier != '+' && pos < src.Length && src[pos] == '\n')
            {
                pos++;
                line++;
                lineStarting = true;
            }
        }
        return segments;
    }

    static void Add(List<Segment> segments, string text, int line)
    {
        if (text.Length > 0) segments.Add(new Segment(SegmentKind.Text, text, [], line));
    }

    /// <summary>lstrip_blocks: spaces and tabs between the start of a line and a block tag are dropped.</summary>
    static string LStripBlock(string text, bool lineStarting)
    {
        var lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !lineStarting) return text;
        for (var i = lineStart; i < text.Length; i++)
            if (text[i] is not (' ' or '\t')) return text;
        return text[..lineStart];
    }

    int NextTagStart(int from)
    {
        for (var i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
            if (src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>Tokens of a tag up to its end ("}}" or "%}", possibly with '-' or '+'), which is consumed.</summary>
    List<Token> Tokens(char endChar, out char endModifier)
    {
        var tokens = new List<Token>();
        var open = new Stack<char>(); // brackets open: "}}" inside a dict literal is not the end of the tag
        while (true)
        {
            while (pos < src.Length && char.IsWhiteSpace(src[pos])) { if (src[pos] == '\n') line++; pos++; }
            if (pos >= src.Length) throw Error(line, $"tag is never closed with '{endChar}}}'");
            var c = src[pos];
            if (open.Count == 0)
            {
                endModifier = c is '-' or '+' ? c : '\0';
                var at = pos + (endModifier == '\0' ? 0 : 1);
                if (at + 1 < src.Length && src[at] == endChar && src[at + 1] == '}')
                {
                    pos = at + 2;
                    tokens.Add(new Token(TokenKind.End, "", null, line));
                    return tokens;
                }
            }
            if (c is '\'' or '"') tokens.Add(ReadString(c));
            else if (char.IsAsciiDigit(c)) tokens.Add(ReadNumber());
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = pos;
                while (pos < src.Length && (char.IsAsciiLetterOrDigit(src[pos]) || src[pos] == '_')) pos++;
                tokens.Add(new Token(TokenKind.Name, src[start..pos], null, line));
            }
            else
            {
                var op = new[] { "//", "**", "==", "!=", "<=", ">=" }.FirstOrDefault(o => string.CompareOrdinal(src, pos, o, 0, 2) == 0)
                         ?? ("+-*/%~<>=()[]{}.,:|".Contains(c) ? c.ToString() : throw Error(line, $"unexpected character '{c}'"));
                if (op is "(" or "[" or "{") open.Push(op[0] switch { '(' => ')', '[' => ']', _ => '}' });
                if (op is ")" or "]" or "}" && (open.Count == 0 || open.Pop() != op[0]))
                    throw Error(line, $"unexpected '{op}'");
                pos += op.Length;
                tokens.Add(new Token(TokenKind.Operator, op, null, line));
            }
        }
    }

    Token ReadString(char quote)
    {
        var startLine = line;
        var sb = new StringBuilder();
        pos++;
        while (true)
        {
            if (pos >= src.Length) throw Error(startLine, "string literal is never closed");
            var c = src[pos++];
            if (c == quote) break;
            if (c == '\n') line++;
            if (c != '\\' || pos >= src.Length) { sb.Append(c); continue; }
            // Python's escapes, as Jinja decodes them.
            var e = src[pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '\\' or '\'' or '"': sb.Append(e); break;
                case '\n': line++; break; // a backslash-newline continues the literal
                case 'x' or 'u' or 'U':
                    var digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (pos + digits > src.Length || !int.TryParse(src.AsSpan(pos, digits), NumberStyles.HexNumber, null, out var cp))
                        throw Error(line, $"bad \\{e} escape in string literal");
                    sb.Append(char.ConvertFromUtf32(cp));
                    pos += digits;
                    break;
                default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes as written
            }
        }
        return new Token(TokenKind.String, sb.ToString(), sb.ToString(), startLine);
    }

    Token ReadNumber()
    {
        var start = pos;
        while (pos < src.Length && (char.IsAsciiDigit(src[pos]) || src[pos] == '_')) pos++;
        var isFloat = pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]);
        if (isFloat)
        {
            pos++;
            while (pos < src.Length && char.IsAsciiDigit(src[pos])) pos++;
        }
        var text = src[start..pos].Replace("_", "");
        return isFloat
            ? new Token(TokenKind.Float, text, double.Parse(text, CultureInfo.InvariantCulture), line)
            : new Token(TokenKind.Integer, text, long.Parse(text, CultureInfo.InvariantCulture), line);
    }

    void Advance(string consumed) => line += Lines(consumed);

    static int Lines(string s) => s.Count(c => c == '\n');

    TemplateException Error(int atLine, string message) => new($"{origin}:{atLine}: {message}");
}
