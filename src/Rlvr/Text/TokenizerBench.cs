using System.Diagnostics;

namespace Rlvr.Text;

/// <summary>Throughput of one tokenizer on one thread, in three regimes (the tokenizer caches the BPE of each word of up to 256 chars it has seen).</summary>
/// <param name="ColdTokensPerSecond">Encoding the first half of the texts with a fresh tokenizer: JIT compilation and an empty cache included.</param>
/// <param name="NewTextTokensPerSecond">Encoding the second half right after: texts not seen before, code compiled, common words cached. The figure for real use.</param>
/// <param name="WarmTokensPerSecond">The fastest later pass over all texts, every word cached.</param>
/// <param name="DecodeTokensPerSecond">Decoding all the ids once.</param>
public sealed record TokenizerBenchResult(int Texts, long Chars, long Tokens,
    double ColdTokensPerSecond, double NewTextTokensPerSecond, double WarmTokensPerSecond, double DecodeTokensPerSecond);

public static class TokenizerBench
{
    /// <summary>
    /// Encodes the first and the second half of <paramref name="texts"/>, then all of them <paramref name="warmPasses"/>
    /// more times, and decodes them once. Give it a freshly loaded tokenizer for the cold figure to mean anything.
    /// </summary>
    public static TokenizerBenchResult Run(QwenTokenizer tokenizer, IReadOnlyList<string> texts, int warmPasses = 3)
    {
        var half = texts.Count / 2;
        var (coldIds, cold) = Encode(tokenizer, texts.Take(half));
        var (newIds, fresh) = Encode(tokenizer, texts.Skip(half));
        var ids = coldIds.Concat(newIds).ToList();
        var tokens = ids.Sum(i => (long)i.Count);

        var warm = double.NaN;
        for (var pass = 0; pass < warmPasses; pass++)
            warm = System.Math.Max(double.IsNaN(warm) ? 0 : warm, tokens / Encode(tokenizer, texts).Seconds);

        var clock = Stopwatch.StartNew();
        foreach (var i in ids) tokenizer.Decode(i);
        var decode = tokens / clock.Elapsed.TotalSeconds;

        return new TokenizerBenchResult(texts.Count, texts.Sum(t => (long)t.Length), tokens,
            coldIds.Sum(i => i.Count) / cold, newIds.Sum(i => i.Count) / fresh, warm, decode);
    }

    static (List<IReadOnlyList<int>> Ids, double Seconds) Encode(QwenTokenizer tokenizer, IEnumerable<string> texts)
    {
        var clock = Stopwatch.StartNew();
        var ids = texts.Select(tokenizer.Encode).ToList();
        return (ids, clock.Elapsed.TotalSeconds);
    }
}
