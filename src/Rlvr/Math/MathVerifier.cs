using System.Text;
using System.Text.RegularExpressions;

namespace Rlvr.Math;

/// <summary>How grading ended. <see cref="VerifierError"/>: the verifier itself failed (an exception), so whether the
/// answer is right is unknown; it is not a wrong answer.</summary>
public enum GradeOutcome { Correct, Wrong, NoAnswer, VerifierError }

public static class GradeOutcomes
{
    /// <summary>The name in JSON outputs (grade, samples files): "correct", "wrong", "no_answer" or "verifier_error".</summary>
    public static string JsonName(this GradeOutcome outcome) => outcome switch
    {
        GradeOutcome.Correct => "correct",
        GradeOutcome.Wrong => "wrong",
        GradeOutcome.NoAnswer => "no_answer",
        _ => "verifier_error",
    };
}

/// <summary>
/// The verdict on one response. <see cref="Reason"/> says why (the rule that decided, with the
/// values compared); <see cref="GoldParsed"/> and <see cref="PredictionParsed"/> show the trees.
/// </summary>
public sealed record GradeResult(bool Correct, GradeOutcome Outcome, string? Extracted, string? GoldAnswer, string Reason)
{
    public string? GoldParsed { get; init; }
    public string? PredictionParsed { get; init; }
}

public sealed record VerifierOptions
{
    public ExtractionOptions Extraction { get; init; } = ExtractionOptions.Default;

    public static VerifierOptions Default { get; } = new();
}

/// <summary>
/// The math answer verifier: extracts the answer of a response, parses it and the gold answer, and
/// decides equivalence (see docs/verifier.md). Thread-safe, never throws, bounded time per call.
/// </summary>
public static partial class MathVerifier
{
    /// <summary>Answers longer than this are compared as normalized strings only.</summary>
    public const int MaxAnswerLength = 2000;

    /// <summary>Grades <paramref name="prediction"/> (a bare answer or a whole response) against <paramref name="gold"/> (a bare answer or a solution with \boxed{}).</summary>
    public static GradeResult Grade(string gold, string prediction, VerifierOptions? options = null)
    {
        options ??= VerifierOptions.Default;
        string? goldAnswer = null, extracted = null;
        try
        {
            goldAnswer = AnswerExtraction.ExtractGold(gold ?? "");
            if (goldAnswer is null) return new GradeResult(false, GradeOutcome.Wrong, null, null, "the gold has no answer");
            var (answer, source) = AnswerExtraction.ExtractWithSource(prediction ?? "", options.Extraction);
            extracted = answer;
            if (answer is null || answer.Trim().Length == 0)
                return new GradeResult(false, GradeOutcome.NoAnswer, null, goldAnswer,
                    options.Extraction.RequireBoxed ? "no \\boxed{} answer in the response" : "no answer found in the response");
            var c = Compare(goldAnswer, answer);
            // Several boxes of one response ("\boxed{3}. ... \boxed{-4}.") are one answer when the gold is a list of as many.
            if (!c.Equal && !c.Failed && source == "boxed" && GoldListLength(goldAnswer) is int n && AnswerExtraction.LastBoxes(prediction!, n) is { } joined
                && joined != answer && Compare(goldAnswer, joined) is { Equal: true } several)
                (answer, extracted, c, source) = (joined, joined, several, $"the last {n} boxes");
            var outcome = c.Failed ? GradeOutcome.VerifierError : c.Equal ? GradeOutcome.Correct : GradeOutcome.Wrong;
            return new GradeResult(c.Equal, outcome, answer, goldAnswer, $"{c.Reason} (answer from {source})")
            {
                GoldParsed = c.GoldParsed,
                PredictionParsed = c.PredictionParsed,
            };
        }
        catch (Exception e)
        {
            // The reward must never crash training: an internal error is its own outcome, with the error as reason.
            return new GradeResult(false, GradeOutcome.VerifierError, extracted, goldAnswer, $"internal error: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The outcome of comparing two extracted answers; <paramref name="Failed"/> when the comparison threw (Equal is then false).</summary>
    public readonly record struct Comparison(bool Equal, string Reason, string? GoldParsed, string? PredictionParsed, bool Failed = false);

    /// <summary>Compares two answers already extracted (no boxes, no surrounding text).</summary>
    public static Comparison Compare(string goldAnswer, string predictedAnswer)
    {
        try
        {
            if (goldAnswer.Length > MaxAnswerLength || predictedAnswer.Length > MaxAnswerLength)
            {
                bool same = Squash(goldAnswer) == Squash(predictedAnswer);
                return new(same, same ? "identical long answers" : "long answers compared as text: they differ", null, null);
            }
            var g = LatexNormalizer.Normalize(goldAnswer);
            var p = LatexNormalizer.Normalize(predictedAnswer);
            var c = CompareNormalized(g, p);
            if (c.Equal) return c;
            // "45,135" is 45135 or the list 45, 135: against a gold list, the prediction may mean the list.
            var pList = LatexNormalizer.Normalize(predictedAnswer, thousands: false);
            if (pList != p && MathParser.Parse(g) is AnswerListNode or SetNode && CompareNormalized(g, pList) is { Equal: true } asList)
                return asList with { Reason = asList.Reason + " (commas in the prediction read as separators)" };
            // "250,75", "0,375": a decimal comma (one that cannot separate thousands) against a gold that is one number.
            if (DecimalCommas(p) is { } pPoint && pPoint != p && MathParser.Parse(g) is { } gOne && IsOneValue(gOne)
                && CompareNormalized(g, pPoint) is { Equal: true } asDecimal)
                return asDecimal with { Reason = asDecimal.Reason + " (a decimal comma in the prediction)" };
            // "\cos 58" for "\cos 58^\circ": a degree sign left out inside an expression.
            bool gDeg = g.Contains(@"\degree", StringComparison.Ordinal), pDeg = p.Contains(@"\degree", StringComparison.Ordinal);
            if (gDeg != pDeg && CompareNormalized(g.Replace(@"\degree", ""), p.Replace(@"\degree", "")) is { Equal: true } noDegrees)
                return noDegrees with { Reason = noDegrees.Reason + " (degree signs ignored)" };
            return c;
        }
        catch (Exception e)
        {
            return new(false, $"internal error: {e.GetType().Name}: {e.Message}", null, null, Failed: true);
        }
    }

    static Comparison CompareNormalized(string g, string p)
    {
        {
            if (Squash(g) == Squash(p) && g.Length > 0) return new(true, "identical after normalization", g, p);
            // Multiple choice: "(C)" against "C", "\textbf{(C) } 7" against "(C)"; a value alone is compared as a value.
            if (LeadingChoiceLetter(g) is { } gl && LeadingChoiceLetter(p) is { } pl)
                return new(gl == pl, gl == pl ? $"same choice ({gl})" : $"different choices: ({gl}) vs ({pl})", g, p);
            var gn = MathParser.Parse(g);
            var pn = MathParser.Parse(p);
            if (gn is null || pn is null)
            {
                bool same = Loose(g) == Loose(p) && Loose(g).Length > 0;
                var which = gn is null && pn is null ? "neither answer" : gn is null ? "the gold" : "the prediction";
                return new(same, same ? $"{which} could not be parsed; equal as text" : $"{which} could not be parsed; texts differ", gn?.ToString(), pn?.ToString());
            }
            var v = Equivalence.Compare(gn, pn);
            return new(v.IsEqual, v.Decision == Decision.Unknown ? "undecided: " + v.Reason : v.Reason, gn.ToString(), pn.ToString());
        }
    }

    /// <summary>The number of answers of a gold list or set (2 to 8), else null.</summary>
    static int? GoldListLength(string goldAnswer) =>
        MathParser.Parse(LatexNormalizer.Normalize(goldAnswer)) switch
        {
            AnswerListNode { Items.Count: >= 2 and <= 8 } l => l.Items.Count,
            SetNode { Items.Count: >= 2 and <= 8 } s => s.Items.Count,
            _ => null,
        };

    static bool IsOneValue(MathNode n) => n is not (AnswerListNode or SetNode or TupleNode or IntervalNode or SetOpNode or MatrixNode);

    /// <summary>Commas between digits read as decimal points, when no comma of the answer can be a thousands separator; null otherwise.</summary>
    static string? DecimalCommas(string normalized)
    {
        if (!normalized.Contains(',')) return null;
        bool thousands = false;
        var r = DigitsCommaDigits().Replace(normalized, m =>
        {
            var (whole, part) = (m.Groups[1].Value, m.Groups[2].Value);
            thousands |= part.Length == 3 && whole.Length <= 3 && whole[0] != '0';
            return whole + "." + part;
        });
        return thousands ? null : r;
    }

    [GeneratedRegex(@"(?<![\d.,])(\d+),(\d+)(?![\d.,])")]
    private static partial Regex DigitsCommaDigits();

    static string Squash(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) if (!char.IsWhiteSpace(c)) sb.Append(c);
        return sb.ToString();
    }

    /// <summary>A looser text form for answers the parser does not read: no LaTeX commands, braces, spaces or case.</summary>
    static string Loose(string s) => Squash(LooseStrip().Replace(s, "")).ToLowerInvariant();

    [GeneratedRegex(@"\\(?:text|textbf|mathrm|mbox|mathbf|textit|operatorname)|[{}\\]")]
    private static partial Regex LooseStrip();

    /// <summary>A gold answer that is just a choice letter: A, (B), \text{(C)}, \textbf{D}.</summary>
    static char? ChoiceLetter(string s)
    {
        var m = Choice().Match(s);
        return m.Success ? m.Groups[1].Value[0] : null;
    }

    /// <summary>A prediction that is a choice letter, or starts with one in parentheses: "(C) 7", "\textbf{(C) }7".</summary>
    static char? LeadingChoiceLetter(string s)
    {
        if (ChoiceLetter(s) is { } c) return c;
        var m = LeadingChoice().Match(s);
        return m.Success ? m.Groups[1].Value[0] : null;
    }

    [GeneratedRegex(@"^\s*(?:\\text(?:bf|rm)?\s*\{\s*)?\(?\s*([A-E])\s*\)?\s*\}?\s*$")]
    private static partial Regex Choice();

    [GeneratedRegex(@"^\s*(?:\\text(?:bf|rm)?\s*\{\s*)?\(\s*([A-E])\s*\)")]
    private static partial Regex LeadingChoice();
}
