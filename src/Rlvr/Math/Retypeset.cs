using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace Rlvr.Math;

/// <summary>
/// Other ways of writing the same answer (\dfrac, \frac12 shorthand, decimals, \left( \right),
/// spacing, a reversed answer list, a whole response around a box). Each must grade equal to the
/// original: the corpus check and <c>rlvr bench grade</c> use them as correct predictions.
/// </summary>
public static partial class Retypeset
{
    public static List<(string Name, string Text)> Variants(string answer)
    {
        var v = new List<(string, string)>
        {
            ("dollars", "$" + answer + "$"),
            ("response", $"Putting everything together, the result is $\\boxed{{{answer}}}$.\n"),
        };
        if (answer.Contains(@"\frac", StringComparison.Ordinal) && !answer.Contains(@"\frac{}", StringComparison.Ordinal))
            v.Add(("dfrac", answer.Replace(@"\frac", @"\dfrac")));
        var shorthand = SingleDigitFraction().Replace(answer, @"\frac$1$2");
        shorthand = SingleDigitRoot().Replace(shorthand, @"\sqrt$1");
        if (shorthand != answer) v.Add(("shorthand", shorthand));
        if (DecimalForm(answer) is { } dec) v.Add(("decimal", dec));
        if (answer.Contains('(') && !answer.Contains(@"\left", StringComparison.Ordinal) && Balanced(answer))
            v.Add(("left-right", answer.Replace("(", @"\left(").Replace(")", @"\right)")));
        var spaced = ListComma().Replace(Operators().Replace(answer, m => $" {m.Value} "), ", ");
        if (spaced != answer) v.Add(("spaced", spaced));
        if (ReversedList(answer) is { } rev) v.Add(("reversed list", rev));
        return v;
    }

    [GeneratedRegex(@"\\frac\{(\d)\}\{(\d)\}")]
    private static partial Regex SingleDigitFraction();

    [GeneratedRegex(@"\\sqrt\{(\d)\}")]
    private static partial Regex SingleDigitRoot();

    [GeneratedRegex(@"(?<![\\{^_])[+=]")]
    private static partial Regex Operators();

    /// <summary>A comma between answers, not a thousands separator (1,\!000 or 1,000).</summary>
    [GeneratedRegex(@"(?<!\{),(?!\\!|\d{3}(?!\d)|\})")]
    private static partial Regex ListComma();

    static bool Balanced(string s) => s.Count(c => c == '(') == s.Count(c => c == ')');

    /// <summary>A rational answer with a terminating decimal expansion, written as a decimal (\frac{3}{8} -> 0.375).</summary>
    static string? DecimalForm(string answer)
    {
        var node = MathParser.Parse(LatexNormalizer.Normalize(answer));
        if (node is null || node is NumberNode || TreeFacts.HasSymbols(node) || node is not (DivNode or NegNode or SumNode or ProductNode or PowNode))
            return null;
        if (ExactEvaluator.Evaluate(node) is not { } v || v.IsInteger) return null;
        var den = v.Den;
        int twos = 0, fives = 0;
        while (den.IsEven) { den /= 2; twos++; }
        while ((den % 5).IsZero) { den /= 5; fives++; }
        if (!den.IsOne) return null;
        int places = System.Math.Max(twos, fives);
        if (places > 12) return null;
        var scaled = v.Num * BigInteger.Pow(10, places) / v.Den;
        var digits = BigInteger.Abs(scaled).ToString().PadLeft(places + 1, '0');
        var text = digits[..^places] + "." + digits[^places..];
        return (v.Sign < 0 ? "-" : "") + text;
    }

    /// <summary>A top-level comma list (outside brackets) in reverse order.</summary>
    static string? ReversedList(string answer)
    {
        var items = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < answer.Length; i++)
        {
            char c = answer[i];
            if (c == '\\' && i + 1 < answer.Length && answer[i + 1] is '{' or '}') { i++; depth += answer[i] == '{' ? 1 : -1; continue; }
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (c == ',' && depth == 0 && ListComma().Match(answer, i) is { Success: true } m && m.Index == i)
            {
                items.Add(answer[start..i]);
                start = i + 1;
            }
        }
        if (items.Count == 0 || depth != 0) return null;
        items.Add(answer[start..]);
        items.Reverse();
        return string.Join(", ", items.Select(x => x.Trim()));
    }
}
