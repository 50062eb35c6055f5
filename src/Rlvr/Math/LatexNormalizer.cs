using System.Text;
using System.Text.RegularExpressions;

namespace Rlvr.Math;

/// <summary>
/// String-level clean-up of an extracted answer before it is tokenized: math delimiters, sizing and
/// spacing commands, fraction variants, degree signs, dollar signs, thousands separators, unicode
/// symbols, trailing punctuation. What it removes never changes the value of a well-formed answer.
/// Units and \text{} annotations are dropped later, by the parser, where it knows what they follow.
/// </summary>
public static partial class LatexNormalizer
{
    /// <summary>The clean-up; with <paramref name="thousands"/> false, "45,135" stays two numbers instead of 45135.</summary>
    public static string Normalize(string answer, bool thousands = true)
    {
        var s = ReplaceUnicode(answer);
        s = MarkdownEmphasis().Replace(s, "$1");
        s = s.Replace("\\$", "").Replace("\\(", " ").Replace("\\)", " ").Replace("\\[", " ").Replace("\\]", " ").Replace("$", " ");
        s = LeftRightDot().Replace(s, "");
        s = Phantom().Replace(s, "");
        s = VerticalBars().Replace(s, m => m.Value.Contains('V') ? "\\|" : "|");
        s = Ordinal().Replace(s, "$1");
        s = TextBeforeBase().Replace(s, "$1");
        s = ClockSuffix().Replace(s, " $1m");
        s = SizingCommands().Replace(s, "");
        s = StyleCommands().Replace(s, "");
        s = FracVariants().Replace(s, "\\frac");
        s = BinomVariants().Replace(s, "\\binom");
        s = SpacedDigitGroups().Replace(s, "$1");
        s = ThinSpaceThousands().Replace(s, "$1,");
        s = s.Replace("\\!", "").Replace("{,}", ",");
        s = PlainDigitGroups().Replace(s, m => m.Value.Replace(" ", ""));
        s = IntegerCondition().Replace(s, "");
        s = SpacingCommands().Replace(s, " ");
        // Degree signs become one marker, \degree, that the parser reads as a postfix.
        s = Degrees().Replace(s, "\\degree ");
        s = s.Replace("\\%", "%").Replace("\\&", "&");
        if (thousands) s = ThousandsSeparators().Replace(s, m => m.Value.Replace(",", ""));
        s = MixedNumberPlain().Replace(s, m => IsProperFraction(m.Groups[2].Value, m.Groups[3].Value)
            ? $"({m.Groups[1].Value}+{m.Groups[2].Value}/{m.Groups[3].Value})" : m.Value);
        return TrimPunctuation(s);
    }

    static bool IsProperFraction(string num, string den) =>
        num.Length <= 9 && den.Length <= 9 && long.Parse(num) < long.Parse(den) && long.Parse(num) > 0;

    /// <summary>Trailing periods, commas, semicolons and spaces (sentence punctuation around an answer).</summary>
    public static string TrimPunctuation(string s)
    {
        int end = s.Length;
        while (true)
        {
            while (end > 0 && char.IsWhiteSpace(s[end - 1])) end--;
            if (end > 0 && (s[end - 1] is '.' or ',' or ';'))
            {
                // "\." or "\;" as a whole command, else the punctuation itself.
                end--;
                if (end > 0 && s[end - 1] == '\\') end--;
                continue;
            }
            if (end >= 2 && s[end - 1] == '\\' ) { end--; continue; }
            break;
        }
        int start = 0;
        while (start < end && char.IsWhiteSpace(s[start])) start++;
        return s[start..end];
    }

    static string ReplaceUnicode(string s)
    {
        // Fast path: plain ASCII answers need no work.
        bool ascii = true;
        foreach (var c in s) if (c > 127) { ascii = false; break; }
        if (ascii) return s;
        var sb = new StringBuilder(s.Length + 8);
        foreach (var c in s)
        {
            sb.Append(c switch
            {
                '\u2212' or '\u2013' or '\u2014' => "-",
                '\u00d7' => "\\times ",
                '\u00b7' or '\u22c5' => "\\cdot ",
                '\u00f7' => "/",
                '\u03c0' => "\\pi ",
                '\u221e' => "\\infty ",
                '\u221a' => "\\sqrt",
                '\u2264' => "\\le ",
                '\u2265' => "\\ge ",
                '\u2260' => "\\ne ",
                '\u222a' => "\\cup ",
                '\u2229' => "\\cap ",
                '\u2208' => "\\in ",
                '\u2248' => "\\approx ",
                '\u00b1' => "\\pm ",
                '\u00b2' => "^2",
                '\u00b3' => "^3",
                '\u00bd' => "(1/2)",
                '\u00bc' => "(1/4)",
                '\u00be' => "(3/4)",
                '\u00b0' => "\\degree ",
                '\u2205' => "\\emptyset ",
                '\u00a0' or '\u2009' or '\u202f' => " ",
                '\u2019' => "'",
                '\u20ac' or '\u00a3' or '\u00a5' => " ",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }

    /// <summary>**5**, __5__, `5`: markdown around a whole answer.</summary>
    [GeneratedRegex(@"^\s*(?:\*\*|__|`)(.*)(?:\*\*|__|`)\s*$", RegexOptions.Singleline)]
    private static partial Regex MarkdownEmphasis();

    /// <summary>\vert, \lvert, \rvert (|) and \Vert, \lVert, \rVert (\|): absolute values and norms.</summary>
    [GeneratedRegex(@"\\[lr]?(?:vert|Vert)(?![a-zA-Z])")]
    private static partial Regex VerticalBars();

    /// <summary>5th, 21^{st}, 3^{\text{rd}}: ordinal suffixes after a number.</summary>
    [GeneratedRegex(@"(\d)\s*(?:\^\s*\{?\s*(?:\\(?:text|mathrm|textrm)\s*\{\s*)?(?:st|nd|rd|th)\s*\}?\s*\}?|(?:st|nd|rd|th)(?![a-zA-Z]))")]
    private static partial Regex Ordinal();

    /// <summary>"1 000 000": plain spaces between groups of three digits.</summary>
    [GeneratedRegex(@"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d.])")]
    private static partial Regex PlainDigitGroups();

    /// <summary>", k \in \mathbb{Z}" after a family of solutions (x = \frac{\pi}{4} + k\pi): the condition, not the answer.</summary>
    [GeneratedRegex(@"[,;]?\s*(?:\\quad|\\text\{\s*(?:where|for|for all|for any)\s*\})?\s*\(?\s*[a-zA-Z]\s*\\in\s*(?:\\mathbb\s*\{?\s*[ZN]\s*\}?|\\mathbf\s*\{?\s*[ZN]\s*\}?|[ZN])\s*\)?\s*$")]
    private static partial Regex IntegerCondition();

    [GeneratedRegex(@"\\[hv]?phantom\s*(?:\{[^{}]*\}|\\[a-zA-Z]+|.)")]
    private static partial Regex Phantom();

    /// <summary>\text{A5}_{11}: a number in another base written as text.</summary>
    [GeneratedRegex(@"\\(?:text|mbox|mathrm)\{([0-9A-Z]+)\}(?=_)")]
    private static partial Regex TextBeforeBase();

    /// <summary>"p.m." and "a.m." (periods would end the answer).</summary>
    [GeneratedRegex(@"(?<![a-zA-Z])([ap])\.\s?m\.", RegexOptions.IgnoreCase)]
    private static partial Regex ClockSuffix();

    [GeneratedRegex(@"\\(?:left|right)\.")]
    private static partial Regex LeftRightDot();

    [GeneratedRegex(@"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![a-zA-Z])")]
    private static partial Regex SizingCommands();

    [GeneratedRegex(@"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])")]
    private static partial Regex StyleCommands();

    [GeneratedRegex(@"\\(?:dfrac|tfrac|cfrac)(?![a-zA-Z])")]
    private static partial Regex FracVariants();

    [GeneratedRegex(@"\\(?:dbinom|tbinom)(?![a-zA-Z])")]
    private static partial Regex BinomVariants();

    /// <summary>"12,\! 345,\! 678": a thousands comma with a negative thin space and a space after it.</summary>
    [GeneratedRegex(@"(\d),\\!\s+(?=\d{3}(?!\d))")]
    private static partial Regex ThinSpaceThousands();

    /// <summary>"1\,000\,000", "1\;000", "1\ 000", "1~000": spaces used as thousands separators.</summary>
    [GeneratedRegex(@"(\d)\s*(?:\\[,;: ]|~)\s*(?=\d{3}(?!\d))")]
    private static partial Regex SpacedDigitGroups();

    [GeneratedRegex(@"(?<!\\)\\(?:,|;|:|>| |quad|qquad|enspace|thinspace|medspace|thickspace|hfill)(?![a-zA-Z])|~|\\hspace\*?\{[^{}]*\}")]
    private static partial Regex SpacingCommands();

    [GeneratedRegex(@"(?:\{\s*\})?\^\s*\{\s*\\circ\s*\}|(?:\{\s*\})?\^\s*\\circ(?![a-zA-Z])|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}")]
    private static partial Regex Degrees();

    /// <summary>7,425,000 and 1,234.5 (groups of exactly three digits, no space after the comma).</summary>
    [GeneratedRegex(@"(?<![\d.])(?<!\d,)[1-9]\d{0,2}(?:,\d{3})+(?!\d|,\d)")]
    private static partial Regex ThousandsSeparators();

    /// <summary>Plain-text mixed numbers "3 1/2" (space-separated whole part and proper fraction).</summary>
    [GeneratedRegex(@"(?<![\d.^/\\a-zA-Z])(\d+) +(\d+)/(\d+)(?![\d^./a-zA-Z])")]
    private static partial Regex MixedNumberPlain();
}
