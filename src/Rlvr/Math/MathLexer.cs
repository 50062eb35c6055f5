using System.Text;

namespace Rlvr.Math;

internal enum TokenKind
{
    Number,     // 12, 3.5, 1.5e-3, "0." before \overline
    BaseNumber, // 1011_2: Text = digits, Base
    Letter,     // a single-letter variable
    Word,       // a known multi-letter word: a function (sin, log), a constant (pi), a unit (cm), a separator (and); or an unknown English-like word
    Command,    // \name without the backslash
    Text,       // the content of \text{...} that is not math
    Op,         // + - * / ^ _ ( ) [ ] { } , ; = < > ! | & : ' % and "<=", ">=", "!=", "\\{", "\\}", "\\\\", "||"
    BeginEnv,   // \begin{pmatrix}: Text = pmatrix
    EndEnv,
    Unknown,    // a character with no meaning in an answer
    End,
}

internal readonly record struct Token(TokenKind Kind, string Text, int Base = 0)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;
    public bool IsOp(string text) => Kind == TokenKind.Op && Text == text;
    public override string ToString() => $"{Kind}:{Text}";
}

/// <summary>Splits a normalized answer (LaTeX or plain math) into tokens.</summary>
internal static partial class MathLexer
{
    /// <summary>Functions known by name in plain text and as commands.</summary>
    internal static readonly HashSet<string> Functions =
    [
        "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "arccot", "arcsec", "arccsc",
        "sinh", "cosh", "tanh", "coth", "sech", "csch", "asin", "acos", "atan",
        "log", "ln", "lg", "exp", "sqrt", "abs", "max", "min", "gcd", "lcm", "det", "floor", "ceil",
    ];

    /// <summary>Plain-text words that are not products of single-letter variables.</summary>
    static readonly HashSet<string> KnownWords =
    [
        "pi", "inf", "infinity", "oo", "and", "or",
        // units of two or three letters (longer words are recognised as words anyway)
        "cm", "mm", "km", "ft", "yd", "mi", "oz", "lb", "kg", "mg", "ml", "hr", "hrs", "min", "mph", "lbs", "yds",
        "sq", "deg", "pct", "cms", "mins", "sec", "secs", "day", "per", "the", "are", "is", "not", "yes", "no", "am", "pm",
    ];

    static readonly HashSet<string> TextCommands =
        ["text", "textbf", "textit", "textrm", "textsf", "texttt", "textnormal", "mbox", "hbox", "emph", "textup", "textsc"];

    static readonly HashSet<string> FontCommands =
        ["mathrm", "mathit", "mathbf", "mathsf", "mathtt", "boldsymbol", "bm", "mathcal", "mathscr", "mathfrak", "mathnormal", "rm", "bf"];

    public static List<Token> Tokenize(string s)
    {
        var tokens = new List<Token>(s.Length / 2 + 4);
        Lex(s, tokens, 0);
        tokens.Add(new Token(TokenKind.End, ""));
        return tokens;
    }

    static void Lex(string s, List<Token> tokens, int depth)
    {
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1])))
            {
                i = LexNumber(s, i, tokens);
                continue;
            }
            if (char.IsAsciiLetter(c))
            {
                // A5_{11}: a number in another base that starts with a digit letter.
                if (char.IsAsciiLetterUpper(c) && TryBaseNumber(s, i, out int baseEnd, out var digits, out int numberBase) && digits.Any(char.IsAsciiDigit))
                {
                    tokens.Add(new Token(TokenKind.BaseNumber, digits, numberBase));
                    i = baseEnd;
                    continue;
                }
                int j = i;
                while (j < s.Length && char.IsAsciiLetter(s[j])) j++;
                i = LexLetters(s, i, j, tokens);
                continue;
            }
            if (c == '\\')
            {
                i = LexCommand(s, i, tokens, depth);
                continue;
            }
            string? two = i + 1 < s.Length ? s.Substring(i, 2) : null;
            switch (two)
            {
                case "<=": case "=<": tokens.Add(new Token(TokenKind.Op, "<=")); i += 2; continue;
                case ">=": case "=>": tokens.Add(new Token(TokenKind.Op, ">=")); i += 2; continue;
                case "!=": case "<>": tokens.Add(new Token(TokenKind.Op, "!=")); i += 2; continue;
                case "==": tokens.Add(new Token(TokenKind.Op, "=")); i += 2; continue;
                case "**": tokens.Add(new Token(TokenKind.Op, "^")); i += 2; continue;
                case "+-": tokens.Add(new Token(TokenKind.Command, "pm")); i += 2; continue;
            }
            if (i + 2 < s.Length && s.Substring(i, 3) == "+/-") { tokens.Add(new Token(TokenKind.Command, "pm")); i += 3; continue; }
            if ("+-*/^_()[]{},;=<>!|&:'%".Contains(c))
            {
                tokens.Add(new Token(TokenKind.Op, c.ToString()));
                i++;
                continue;
            }
            tokens.Add(new Token(TokenKind.Unknown, c.ToString()));
            i++;
        }
    }

    static int LexNumber(string s, int i, List<Token> tokens)
    {
        // A number in another base: digits and capital letters followed by _base (1011_2, 152A_{11}).
        if (TryBaseNumber(s, i, out int baseEnd, out var digits, out int numberBase))
        {
            tokens.Add(new Token(TokenKind.BaseNumber, digits, numberBase));
            return baseEnd;
        }
        int j = i;
        while (j < s.Length && char.IsAsciiDigit(s[j])) j++;
        if (j < s.Length && s[j] == '.')
        {
            if (j + 1 < s.Length && char.IsAsciiDigit(s[j + 1]))
            {
                j++;
                while (j < s.Length && char.IsAsciiDigit(s[j])) j++;
            }
            else if (string.CompareOrdinal(s, j + 1, "\\overline", 0, 9) == 0) j++;
        }
        // Scientific notation in plain text: 1.5e-3, 2E5 (digits must follow; "2e" alone is 2 times e).
        if (j < s.Length && (s[j] == 'e' || s[j] == 'E'))
        {
            int k = j + 1;
            if (k < s.Length && (s[k] == '-' || s[k] == '+')) k++;
            int digitsStart = k;
            while (k < s.Length && char.IsAsciiDigit(s[k])) k++;
            if (k > digitsStart && (k >= s.Length || !char.IsAsciiLetter(s[k]))) j = k;
        }
        tokens.Add(new Token(TokenKind.Number, s[i..j]));
        return j;
    }

    static bool TryBaseNumber(string s, int i, out int end, out string digits, out int numberBase)
    {
        end = i; digits = ""; numberBase = 0;
        int j = i;
        while (j < s.Length && (char.IsAsciiDigit(s[j]) || (s[j] >= 'A' && s[j] <= 'Z') || s[j] == '.')) j++;
        if (j >= s.Length || s[j] != '_') return false;
        int k = j + 1;
        bool braced = k < s.Length && s[k] == '{';
        if (braced) k++;
        int bs = k;
        while (k < s.Length && char.IsAsciiDigit(s[k])) k++;
        if (k == bs || k - bs > 2) return false;
        int b = int.Parse(s[bs..k]);
        if (braced) { if (k >= s.Length || s[k] != '}') return false; k++; }
        var d = s[i..j].TrimEnd('.');
        if (b < 2 || b > 36 || d.Length == 0) return false;
        foreach (var ch in d)
        {
            if (ch == '.') continue;
            int v = char.IsAsciiDigit(ch) ? ch - '0' : ch - 'A' + 10;
            if (v >= b) return false;
        }
        end = k; digits = d; numberBase = b;
        return true;
    }

    static int LexLetters(string s, int i, int j, List<Token> tokens)
    {
        var run = s[i..j];
        if (run.Length == 1) { tokens.Add(new Token(TokenKind.Letter, run)); return j; }
        var lower = run.ToLowerInvariant();
        // AM, PQ, MC: capital letters name points, not the words "am", "pq".
        bool points = run.Length <= 3 && run.All(char.IsAsciiLetterUpper);
        if (Functions.Contains(lower) || (KnownWords.Contains(lower) && !points)) { tokens.Add(new Token(TokenKind.Word, lower)); return j; }
        // "sinx", "logx": a function name glued to its argument.
        foreach (var f in Functions)
        {
            if (f.Length >= 3 && lower.StartsWith(f, StringComparison.Ordinal) && !Functions.Contains(lower[..System.Math.Min(lower.Length, f.Length + 1)]))
            {
                tokens.Add(new Token(TokenKind.Word, f));
                return i + f.Length;
            }
        }
        // Four or more letters read as an English word (a unit, a name); shorter runs are products of variables.
        if (run.Length >= 4) { tokens.Add(new Token(TokenKind.Word, run)); return j; }
        foreach (var ch in run) tokens.Add(new Token(TokenKind.Letter, ch.ToString()));
        return j;
    }

    static int LexCommand(string s, int i, List<Token> tokens, int depth)
    {
        int j = i + 1;
        if (j >= s.Length) return j;
        if (!char.IsAsciiLetter(s[j]))
        {
            char c = s[j];
            switch (c)
            {
                case '\\': tokens.Add(new Token(TokenKind.Op, "\\\\")); break;
                case '{': tokens.Add(new Token(TokenKind.Op, "\\{")); break;
                case '}': tokens.Add(new Token(TokenKind.Op, "\\}")); break;
                case '|': tokens.Add(new Token(TokenKind.Op, "||")); break;
                case '%': tokens.Add(new Token(TokenKind.Op, "%")); break;
                default: break; // \, \; \! and friends: spacing
            }
            return j + 1;
        }
        while (j < s.Length && char.IsAsciiLetter(s[j])) j++;
        var name = s[(i + 1)..j];
        if (name is "begin" or "end")
        {
            int k = SkipSpaces(s, j);
            if (k < s.Length && s[k] == '{' && ReadGroup(s, k, out var env, out int after))
            {
                env = env.Trim().TrimEnd('*');
                tokens.Add(new Token(name == "begin" ? TokenKind.BeginEnv : TokenKind.EndEnv, env));
                j = after;
                // \begin{array}{cc}: the column specification is not content.
                if (name == "begin" && env == "array")
                {
                    k = SkipSpaces(s, j);
                    if (k < s.Length && s[k] == '{' && ReadGroup(s, k, out _, out after)) j = after;
                }
            }
            return j;
        }
        if (TextCommands.Contains(name) || FontCommands.Contains(name) || name is "operatorname" or "mathbb" or "Bbb" or "mathop")
        {
            int k = SkipSpaces(s, j);
            if (k < s.Length && s[k] == '*') k = SkipSpaces(s, k + 1);
            if (k >= s.Length || s[k] != '{' || !ReadGroup(s, k, out var content, out int after))
            {
                // \rm x, \bf x, \mathbb R: a font switch without braces.
                if (name is "mathbb" or "Bbb" && k < s.Length && char.IsAsciiLetter(s[k]))
                {
                    tokens.Add(new Token(TokenKind.Command, "mathbb:" + s[k]));
                    return k + 1;
                }
                return j;
            }
            AddStyledContent(name, content, tokens, depth);
            return after;
        }
        tokens.Add(new Token(TokenKind.Command, name));
        return j;
    }

    static void AddStyledContent(string command, string content, List<Token> tokens, int depth)
    {
        var trimmed = content.Trim();
        if (command is "mathbb" or "Bbb") { tokens.Add(new Token(TokenKind.Command, "mathbb:" + trimmed)); return; }
        if (command is "operatorname" or "mathop") { tokens.Add(new Token(TokenKind.Word, trimmed.ToLowerInvariant())); return; }
        if (depth > 8) { tokens.Add(new Token(TokenKind.Text, trimmed)); return; }
        if (TextCommands.Contains(command))
        {
            // \text{5} or \text{5 apples} is math with words; \text{odd}, \text{(A)}, \text{ cm} are text.
            if (trimmed.Length > 0 && LooksLikeMath(trimmed)) { Lex(trimmed, tokens, depth + 1); return; }
            tokens.Add(new Token(TokenKind.Text, trimmed));
            return;
        }
        // \mathrm{cm}, \mathrm{lcm}: a word; \mathrm{e}, \mathbf{v}: the letters themselves.
        if (trimmed.Length >= 2 && trimmed.All(char.IsAsciiLetter))
        {
            var lower = trimmed.ToLowerInvariant();
            tokens.Add(new Token(TokenKind.Word, Functions.Contains(lower) ? lower : trimmed));
            return;
        }
        Lex(trimmed, tokens, depth + 1);
    }

    static bool LooksLikeMath(string t)
    {
        // \text{A, C}: a list of choice letters.
        if (t.Length > 1 && LetterList().IsMatch(t)) return true;
        foreach (var c in t) if (char.IsAsciiDigit(c) || c is '\\' or '=' or '+' or '^' or '/') return true;
        return false;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*\(?[A-Z]\)?(?:\s*(?:,|and|or)\s*\(?[A-Z]\)?)+\s*$")]
    private static partial System.Text.RegularExpressions.Regex LetterList();

    static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    /// <summary>Reads a balanced {...} group starting at <paramref name="open"/>; escaped braces do not count.</summary>
    internal static bool ReadGroup(string s, int open, out string content, out int after)
    {
        int depth = 0;
        for (int k = open; k < s.Length; k++)
        {
            if (s[k] == '\\' && k + 1 < s.Length && (s[k + 1] == '{' || s[k + 1] == '}')) { k++; continue; }
            if (s[k] == '{') depth++;
            else if (s[k] == '}' && --depth == 0)
            {
                content = s[(open + 1)..k];
                after = k + 1;
                return true;
            }
        }
        content = "";
        after = s.Length;
        return false;
    }

    /// <summary>The tokens printed back as text (for subscripts and raw answers).</summary>
    internal static string Join(IEnumerable<Token> tokens)
    {
        var sb = new StringBuilder();
        foreach (var t in tokens)
        {
            switch (t.Kind)
            {
                case TokenKind.Command: sb.Append('\\').Append(t.Text); break;
                case TokenKind.BaseNumber: sb.Append(t.Text).Append('_').Append(t.Base); break;
                case TokenKind.End: break;
                default: sb.Append(t.Text); break;
            }
        }
        return sb.ToString();
    }
}
