using System.Diagnostics;
using Parquet.Serialization;

namespace Rlvr.Math;

/// <summary>A MATH solution with the answer the paper's data gives for it.</summary>
public sealed record CorpusItem(string Source, string Solution, string? Target);

/// <summary>What the corpus check found (docs/verifier.md reports these numbers).</summary>
public sealed record CorpusReport
{
    public int Solutions { get; init; }
    public int Extracted { get; init; }
    /// <summary>Solutions whose box is empty (\boxed{}): a defect of MATH, not of the extraction.</summary>
    public int EmptyBoxes { get; init; }
    public int SelfEqual { get; init; }
    public int TargetEqual { get; init; }
    public int Variants { get; init; }
    public int VariantsEqual { get; init; }
    /// <summary>Golds with their last digit changed (a near miss) that still graded correct.</summary>
    public int NearMisses { get; init; }
    public int NearMissMatches { get; init; }
    public int ShuffledPairs { get; init; }
    public int ShuffledMatches { get; init; }
    public double Seconds { get; init; }
    public List<string> Failures { get; init; } = [];
    public List<string> ShuffledMatchExamples { get; init; } = [];
    public List<string> NearMissExamples { get; init; } = [];

    public override string ToString() =>
        $"{Solutions} solutions: {Extracted} with an extractable answer ({EmptyBoxes} more with an empty box), {SelfEqual} equal to themselves, " +
        $"{TargetEqual} equal to the dataset's target; {VariantsEqual}/{Variants} re-typeset variants equal; " +
        $"{NearMissMatches}/{NearMisses} near misses (last digit changed) graded correct; " +
        $"{ShuffledMatches}/{ShuffledPairs} shuffled pairs of different answers matched " +
        $"({100.0 * ShuffledMatches / System.Math.Max(1, ShuffledPairs):F3} %); {Seconds:F1} s";
}

/// <summary>
/// The corpus check of the verifier on MATH's 12,500 solutions: every gold answer must be extractable,
/// equal to itself and to its re-typeset variants; answers of different problems must almost never match.
/// </summary>
public static class VerifierCorpus
{
    /// <summary>All solutions of data/math-full/{train,test}.parquet (MATH 7,500 + 5,000, verl format).</summary>
    public static List<CorpusItem> LoadMath(string? dataDir = null)
    {
        dataDir ??= Assets.Path("data", "math-full");
        var items = new List<CorpusItem>();
        foreach (var split in new[] { "train", "test" })
        {
            var path = System.IO.Path.Combine(dataDir, split + ".parquet");
            using var stream = File.OpenRead(path);
            var table = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult();
            for (int i = 0; i < table.Data.Count; i++)
            {
                if (Field(table.Data[i], "reward_model") is not IDictionary<string, object> rm
                    || Field(rm, "ground_truth") is not IDictionary<string, object> truth
                    || Field(truth, "solution") is not string solution)
                    throw new InvalidDataException($"{path}: row {i + 1}: no reward_model.ground_truth.solution");
                items.Add(new CorpusItem($"{split}.parquet:{i + 1}", solution, Field(truth, "target") as string));
            }
        }
        return items;
    }

    static object? Field(IDictionary<string, object> row, string name) => row.TryGetValue(name, out var v) ? v : null;

    public static CorpusReport Check(IReadOnlyList<CorpusItem> items, int seed = 1, int maxFailures = 50)
    {
        var clock = Stopwatch.StartNew();
        var golds = new string?[items.Count];
        var per = items.AsParallel().AsOrdered().Select((item, i) => CheckOne(item)).ToList();
        var failures = new List<string>();
        int extracted = 0, empty = 0, self = 0, target = 0, variants = 0, variantsEqual = 0;
        for (int i = 0; i < per.Count; i++)
        {
            var r = per[i];
            golds[i] = r.Gold;
            if (r.Gold is not null) extracted++;
            if (r.EmptyBox) empty++;
            if (r.SelfEqual) self++;
            if (r.TargetEqual) target++;
            variants += r.Variants;
            variantsEqual += r.VariantsEqual;
            foreach (var f in r.Failures)
                if (failures.Count < maxFailures) failures.Add($"{items[i].Source}: {f}");
        }

        // Answers of two different problems (after normalization) are paired at random: almost none should match.
        var rng = new Random(seed);
        var pairs = new List<(string, string)>();
        for (int i = 0; i < items.Count; i++)
        {
            var j = rng.Next(items.Count);
            if (golds[i] is { } a && golds[j] is { } b && Squash(LatexNormalizer.Normalize(a)) != Squash(LatexNormalizer.Normalize(b)))
                pairs.Add((a, b));
        }
        var matches = pairs.AsParallel().Where(p => MathVerifier.Compare(p.Item1, p.Item2).Equal).ToList();
        var nearMisses = golds.Select((g, i) => (i, Miss: g is null ? null : NearMiss(g))).Where(x => x.Miss is not null).ToList();
        var nearMatches = nearMisses.AsParallel().Where(x => MathVerifier.Grade(items[x.i].Solution, x.Miss!).Correct)
            .Select(x => $"{golds[x.i]}  ~  {x.Miss}").ToList();
        clock.Stop();
        return new CorpusReport
        {
            Solutions = items.Count, Extracted = extracted, EmptyBoxes = empty, SelfEqual = self, TargetEqual = target,
            Variants = variants, VariantsEqual = variantsEqual,
            NearMisses = nearMisses.Count, NearMissMatches = nearMatches.Count,
            ShuffledPairs = pairs.Count, ShuffledMatches = matches.Count, Seconds = clock.Elapsed.TotalSeconds,
            Failures = failures,
            ShuffledMatchExamples = matches.Take(maxFailures).Select(p => $"{p.Item1}  ~  {p.Item2}").ToList(),
            NearMissExamples = nearMatches.Take(maxFailures).ToList(),
        };
    }

    sealed record ItemResult(string? Gold, bool EmptyBox, bool SelfEqual, bool TargetEqual, int Variants, int VariantsEqual, List<string> Failures);

    static ItemResult CheckOne(CorpusItem item)
    {
        var failures = new List<string>();
        var box = BoxedAnswer.Last(item.Solution);
        if (box is not null && box.Trim().Length == 0) return new ItemResult(null, true, false, false, 0, 0, failures);
        var gold = AnswerExtraction.ExtractGold(item.Solution);
        if (gold is null || box is null)
        {
            failures.Add("no boxed answer in the solution");
            return new ItemResult(null, false, false, false, 0, 0, failures);
        }
        var selfResult = MathVerifier.Grade(item.Solution, gold);
        if (!selfResult.Correct) failures.Add($"not equal to itself: {gold} ({selfResult.Reason})");
        bool targetEqual = item.Target is { } t && MathVerifier.Grade(item.Solution, t).Correct;
        int n = 0, ok = 0;
        foreach (var (name, text) in Retypeset.Variants(gold))
        {
            n++;
            var r = MathVerifier.Grade(item.Solution, text);
            if (r.Correct) ok++;
            else failures.Add($"{name} variant differs: {gold}  vs  {text.Trim()} ({r.Reason})");
        }
        return new ItemResult(gold, false, selfResult.Correct, targetEqual, n, ok, failures);
    }

    /// <summary>The answer with its last digit changed (7 to 8, 9 to 0): almost always a different value.</summary>
    static string? NearMiss(string gold)
    {
        for (int i = gold.Length - 1; i >= 0; i--)
            if (char.IsAsciiDigit(gold[i])) return gold[..i] + (char)('0' + (gold[i] - '0' + 1) % 10) + gold[(i + 1)..];
        return null;
    }

    static string Squash(string s) => string.Concat(s.Where(c => !char.IsWhiteSpace(c)));
}
