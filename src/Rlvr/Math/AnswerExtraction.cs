using System.Text.RegularExpressions;

namespace Rlvr.Math;

/// <summary>
/// Where an answer may be taken from in a response, tried in this order: the last <c>\boxed{}</c>
/// (with the boxes just before it when they are separated only by commas or "and": "\boxed{2} and
/// \boxed{3}"), a "final answer is X" / "answer: X" phrase, the whole response when it is itself a
/// short answer, the last <c>$...$</c> / <c>\(...\)</c> / <c>\[...\]</c>, the last number.
/// </summary>
public sealed record ExtractionOptions
{
    /// <summary>Only a box counts; a response without one has no answer (the paper's verl reward behaves so).</summary>
    public bool RequireBoxed { get; init; }

    /// <summary>"The final answer is X", "Answer: X", "the answer is X".</summary>
    public bool FinalAnswerPhrases { get; init; } = true;

    /// <summary>A response that is itself a short answer ("5", "$\frac12$", "x = 3", "odd") is taken whole.</summary>
    public bool BareAnswer { get; init; } = true;

    /// <summary>The last math segment ($...$, \(...\), \[...\]).</summary>
    public bool LastMath { get; init; } = true;

    /// <summary>The last number in the text, when nothing else gave an answer.</summary>
    public bool LastNumber { get; init; } = true;

    /// <summary>The default: every rule, most specific first (as math-verify does).</summary>
    public static ExtractionOptions Default { get; } = new();

    /// <summary>Boxed answers only.</summary>
    public static ExtractionOptions BoxedOnly { get; } = new() { RequireBoxed = true };
}

public static partial class AnswerExtraction
{
    /// <summary>Longest text taken as a "final answer is" phrase or a bare answer.</summary>
    const int MaxPhraseLength = 300;

    /// <summary>The answer in a response, or null when it has none under <paramref name="options"/>.</summary>
    public static string? Extract(string response, ExtractionOptions options) => ExtractWithSource(response, options).Answer;

    /// <summary>The answer and the rule that found it ("boxed", "phrase", "bare", "last math", "last number", "none").</summary>
    public static (string? Answer, string Source) ExtractWithSource(string response, ExtractionOptions options)
    {
        if (string.IsNullOrWhiteSpace(response)) return (null, "none");
        var boxed = LastBoxedGroup(response);
        if (boxed is not null) return (boxed, "boxed");
        if (options.RequireBoxed) return (null, "none");
        if (options.FinalAnswerPhrases && FinalAnswerPhrase(response) is { } phrase)
            return (BoxedAnswer.Last(phrase) ?? phrase, "phrase");
        if (options.BareAnswer && IsBareAnswer(response)) return (response.Trim(), "bare");
        // A short text the parser does not read ("{Friday}", "October 30"): compared as text.
        if (options.BareAnswer && IsShortText(response)) return (response.Trim(), "bare text");
        var lastMath = options.LastMath ? LastMathSegment(response) : null;
        if (options.LastMath && FinalStatement(response, lastMath?.End ?? 0) is { } stated) return (stated, "final statement");
        if (lastMath is { } math) return (math.Content, "last math");
        if (options.LastNumber && LastNumberIn(response) is { } number) return (number, "last number");
        return (null, "none");
    }

    /// <summary>The gold answer of a solution or answer field: its last box, else the field itself when it is an answer, else the rules above.</summary>
    public static string? ExtractGold(string gold)
    {
        if (string.IsNullOrWhiteSpace(gold)) return null;
        if (LastBoxedGroup(gold) is { } boxed) return boxed;
        var trimmed = gold.Trim();
        if (trimmed.Length <= MaxPhraseLength && !trimmed.Contains('\n') && MathParser.Parse(LatexNormalizer.Normalize(trimmed)) is not null)
            return trimmed;
        var (answer, _) = ExtractWithSource(gold, ExtractionOptions.Default);
        return answer ?? trimmed;
    }

    /// <summary>The last <paramref name="count"/> closed boxes of a text as one answer list ("3, -4"); null when it has fewer.</summary>
    internal static string? LastBoxes(string text, int count)
    {
        var boxes = BoxedAnswer.All(text).Where(b => b.Closed).ToList();
        if (boxes.Count < count) return null;
        return string.Join(", ", boxes.Skip(boxes.Count - count).Select(b => Inner(b.Content).Trim()));
    }

    /// <summary>The last box, joined with the boxes right before it that are separated from it only by "," / "and" / "or".</summary>
    internal static string? LastBoxedGroup(string text)
    {
        if (!text.Contains(@"\boxed", StringComparison.Ordinal) && !text.Contains(@"\fbox", StringComparison.Ordinal)) return null;
        var boxes = BoxedAnswer.All(text);
        if (boxes.Count == 0 || !boxes[^1].Closed) return null;
        int first = boxes.Count - 1;
        while (first > 0 && IsListGap(text[boxes[first - 1].End..boxes[first].Start])) first--;
        var parts = boxes.Skip(first).Select(b => Inner(b.Content).Trim()).Where(c => c.Length > 0).ToList();
        if (parts.Count == 0) return null;
        return string.Join(", ", parts);
    }

    static string Inner(string content) =>
        content.Contains(@"\boxed", StringComparison.Ordinal) || content.Contains(@"\fbox", StringComparison.Ordinal)
            ? BoxedAnswer.Last(content) ?? content : content;

    static bool IsListGap(string gap) => gap.Length <= 40 && ListGap().IsMatch(gap);

    [GeneratedRegex(@"^(?:\s|\$|,|;|\\quad|\\qquad|\\,|\\text\{\s*(?:and|or|,)\s*\}|\band\b|\bor\b|\b[A-Za-z](?:_\{?\w+\}?)?\s*=)*$")]
    private static partial Regex ListGap();

    [GeneratedRegex(@"(?:final\s+answer|the\s+answer|answer)\s*\**\s*(?:is\s*:?|:|=)\s*\**", RegexOptions.IgnoreCase)]
    private static partial Regex AnswerPhrase();

    /// <summary>What follows the last "final answer is" / "answer:" phrase: a math segment, or the rest of the sentence.</summary>
    internal static string? FinalAnswerPhrase(string text)
    {
        var matches = AnswerPhrase().Matches(text);
        // The last phrase that is followed by an answer ("the answer is not obvious" is not one).
        for (int k = matches.Count - 1; k >= 0 && k >= matches.Count - 5; k--)
        {
            var m = matches[k];
            int from = m.Index + m.Length;
            while (from < text.Length && char.IsWhiteSpace(text[from])) from++;
            string candidate;
            if (MathSegmentAt(text, from) is { } seg) candidate = seg.Content;
            else
            {
                int end = text.IndexOf('\n', from);
                candidate = end < 0 ? text[from..] : text[from..end];
                // End of the sentence: ". " or a final period; "I hope it is correct" is not part of the answer.
                if (SentenceEnd().Match(candidate) is { Success: true } stop) candidate = candidate[..stop.Index];
            }
            candidate = LatexNormalizer.TrimPunctuation(candidate.Trim().Trim('*').Trim());
            if (candidate.Length > 0 && candidate.Length <= MaxPhraseLength && LooksLikeAnswer(candidate)) return candidate;
            // "Final Answer: The smallest $k$ is 27": a sentence whose value follows its last "is" / "=".
            if (candidate.Length <= MaxPhraseLength && AfterLastAnchor(candidate) is { } value) return value;
        }
        return null;
    }

    /// <summary>What follows the last "is" / "are" / "equals" / "=" of a sentence, when it is math (not words).</summary>
    static string? AfterLastAnchor(string sentence)
    {
        Match? last = null;
        foreach (Match m in Anchor().Matches(sentence)) last = m;
        if (last is null) return null;
        int from = last.Index + last.Length;
        var rest = MathSegmentAt(sentence, from) is { } seg ? seg.Content : sentence[from..];
        rest = LatexNormalizer.TrimPunctuation(rest.Trim());
        if (rest.Length == 0 || (MathSegmentAt(sentence, from) is null && HasMathDelimiter(rest))) return null;
        return MathParser.Parse(LatexNormalizer.Normalize(rest)) is { } node and not TextNode ? rest : null;
    }

    [GeneratedRegex(@"(?:\b(?:is|are|was|were|equals|be)\b\s*:?|=)\s*", RegexOptions.IgnoreCase)]
    private static partial Regex Anchor();

    /// <summary>
    /// A number that ends the text after its last math segment, stated by "is", "=", "gives", "paid" ...:
    /// "Since $n > 0$, the number of students is 41." gives 41, "giving x = 5." gives 5, not the last formula before.
    /// </summary>
    internal static string? FinalStatement(string text, int afterMath)
    {
        int from = System.Math.Max(afterMath, text.Length - 200);
        var m = FinalNumber().Match(text, from);
        return m.Success ? m.Groups["n"].Value : null;
    }

    [GeneratedRegex(@"(?:\b(?:is|are|was|were|equals|be|gives|giving|get|gets|got|obtain|obtains|paid|pays|costs?|makes|totals?)\s+|=\s*)(?:(?:about|approximately|exactly|only|just)\s+)?(?:[A-Za-z]\s*=\s*)?(?<n>-?\d[\d,]*(?:\.\d+)?(?:/\d+)?)(?:\s+[A-Za-z]+){0,3}\s*[.!]?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex FinalNumber();

    /// <summary>Math the parser reads (words allowed around it), a box, or a short text that is not a sentence.</summary>
    static bool LooksLikeAnswer(string candidate)
    {
        if (candidate.Contains(@"\boxed", StringComparison.Ordinal)) return true;
        var node = MathParser.Parse(LatexNormalizer.Normalize(candidate));
        if (node is not null && node is not TextNode) return true;
        return Words().Count(candidate) <= 6 && !IsSentence(candidate);
    }

    [GeneratedRegex(@"\.(?:\s|$)|\s+I hope|\s+\(|\s+because\b|\s+since\b|\s+which\b", RegexOptions.IgnoreCase)]
    private static partial Regex SentenceEnd();

    static bool IsBareAnswer(string response)
    {
        var t = response.Trim();
        if (t.Length > MaxPhraseLength || t.Contains('\n')) return false;
        // Words outside math mean a sentence ("Here is the matrix: $...$"), unless the whole response is one math segment.
        if (HasMathDelimiter(t))
        {
            if (MathSegmentAt(t, 0) is not { } seg || seg.End != t.Length) return false;
        }
        var node = MathParser.Parse(LatexNormalizer.Normalize(t));
        return node is not null && (node is not TextNode || (Words().Count(t) <= 6 && !IsSentence(t)));
    }

    /// <summary>A math delimiter: \( or \[, or a $ that has a partner (a lone "3,15 $" is a currency sign).</summary>
    static bool HasMathDelimiter(string t)
    {
        int dollars = 0;
        for (int i = 0; i < t.Length; i++)
        {
            if (t[i] == '$') dollars++;
            if (t[i] == '\\' && i + 1 < t.Length)
            {
                if (t[i + 1] is '(' or '[') return true;
                i++;
            }
        }
        return dollars >= 2;
    }

    static bool IsShortText(string response)
    {
        var t = response.Trim();
        return t.Length <= 60 && !t.Contains('\n') && !HasMathDelimiter(t) && Words().Count(t) <= 4 && !IsSentence(t);
    }

    /// <summary>Words of a sentence about an answer rather than an answer ("I could not solve it", "it is 5").</summary>
    static readonly HashSet<string> SentenceWords =
    [
        "i", "we", "you", "it", "is", "are", "was", "be", "the", "this", "that", "not", "cannot", "can", "could", "don", "have", "has",
        "do", "does", "did", "solve", "solved", "answer", "know", "idea", "sorry", "think", "get", "got", "so", "thus", "therefore", "hence",
        "here", "there", "then", "let", "find", "found", "compute", "equals", "unable", "unknown",
    ];

    static bool IsSentence(string t)
    {
        foreach (Match m in Words().Matches(t))
            if (SentenceWords.Contains(m.Value.ToLowerInvariant())) return true;
        return t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(w => w == "I");
    }

    /// <summary>The content of the last math segment of the text, and where it ends.</summary>
    static Segment? LastMathSegment(string text)
    {
        Segment? last = null;
        int i = 0;
        // Once an opener has no closer after it, no later opener of its kind has one: skip them (linear time).
        var unclosed = new HashSet<char>();
        while (i < text.Length)
        {
            char kind = text[i] == '$' ? '$' : text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '(' or '[' ? text[i + 1] : '\0';
            if (kind is '$' or '(' or '[' && !unclosed.Contains(kind))
            {
                if (MathSegmentAt(text, i) is { } seg)
                {
                    if (seg.Content.Trim().Length > 0) last = seg with { Content = seg.Content.Trim() };
                    i = seg.End;
                    continue;
                }
                unclosed.Add(kind);
            }
            i += text[i] == '\\' && i + 1 < text.Length ? 2 : 1;
        }
        return last;
    }

    readonly record struct Segment(string Content, int End);

    /// <summary>A math segment starting exactly at <paramref name="i"/>: $$...$$, $...$, \(...\), \[...\].</summary>
    static Segment? MathSegmentAt(string text, int i)
    {
        if (i >= text.Length) return null;
        string open, close;
        if (string.CompareOrdinal(text, i, "$$", 0, 2) == 0) (open, close) = ("$$", "$$");
        else if (text[i] == '$') (open, close) = ("$", "$");
        else if (string.CompareOrdinal(text, i, @"\(", 0, 2) == 0) (open, close) = (@"\(", @"\)");
        else if (string.CompareOrdinal(text, i, @"\[", 0, 2) == 0) (open, close) = (@"\[", @"\]");
        else return null;
        int from = i + open.Length;
        for (int j = from; j <= text.Length - close.Length; j++)
        {
            if (close == "$" || close == "$$")
            {
                if (text[j] == '\\') { j++; continue; }
                if (string.CompareOrdinal(text, j, close, 0, close.Length) == 0) return new Segment(text[from..j], j + close.Length);
            }
            else if (string.CompareOrdinal(text, j, close, 0, close.Length) == 0) return new Segment(text[from..j], j + close.Length);
        }
        return null;
    }

    [GeneratedRegex(@"[A-Za-z]{2,}")]
    private static partial Regex Words();

    [GeneratedRegex(@"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?")]
    private static partial Regex Number();

    internal static string? LastNumberIn(string text)
    {
        Match? last = null;
        foreach (Match m in Number().Matches(text)) last = m;
        return last?.Value;
    }
}
