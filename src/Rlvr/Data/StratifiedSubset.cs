namespace Rlvr.Data;

/// <summary>What defines a stratum when subsetting.</summary>
[Flags]
public enum Strata
{
    Type = 1,
    Level = 2,
    TypeAndLevel = Type | Level,
}

/// <summary>A subset and how many problems each stratum had and gave.</summary>
public sealed record Subset(IReadOnlyList<MathProblem> Problems, IReadOnlyList<StratumCount> Strata);

public sealed record StratumCount(string Stratum, int Available, int Taken);

/// <summary>Stratified, seeded subsets (pure functions: the same problems, options and seed give the same subset
/// on every machine and .NET version).</summary>
public static class StratifiedSubset
{
    /// <summary>"type", "level", "type,level" (or "level,type").</summary>
    public static Strata ParseStrata(string text)
    {
        Strata strata = 0;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            strata |= part.ToLowerInvariant() switch
            {
                "type" or "subject" => Strata.Type,
                "level" => Strata.Level,
                _ => throw new FormatException($"unknown stratum '{part}' (expected type, level, or type,level)"),
            };
        return strata == 0 ? throw new FormatException("--stratify needs type, level, or type,level") : strata;
    }

    /// <summary>The stratum a problem belongs to, e.g. "Algebra" or "Algebra / Level 3".</summary>
    public static string StratumOf(MathProblem p, Strata by) => by switch
    {
        Strata.Type => p.Type ?? "(no type)",
        Strata.Level => p.Level ?? "(no level)",
        _ => $"{p.Type ?? "(no type)"} / {p.Level ?? "(no level)"}",
    };

    /// <summary>The small reference's subset: per stratum of n problems, floor(n x ratio) of them and at least
    /// one, the first ones of the stratum shuffled with the seed. Each stratum keeps its share, so the subset keeps
    /// the original distribution.</summary>
    public static Subset ByRatio(IReadOnlyList<MathProblem> problems, double ratio, Strata by, int seed)
    {
        if (!(ratio > 0 && ratio <= 1)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "the subset ratio must be in (0, 1]");
        // Computed in double as Python's int(n * ratio) does, so counts match the reference's.
        return Take(problems, by, seed, sizes => [.. sizes.Select(n => System.Math.Max(1, (int)System.Math.Floor(n * ratio)))]);
    }

    /// <summary>A subset of exactly <paramref name="size"/> problems (MATH-500 style), split over the strata in
    /// proportion to their sizes (<see cref="Apportion"/>); a stratum smaller than total/size may get none.</summary>
    public static Subset OfSize(IReadOnlyList<MathProblem> problems, int size, Strata by, int seed)
    {
        if (size < 1 || size > problems.Count)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"the subset size must be between 1 and the {problems.Count} problems available");
        return Take(problems, by, seed, sizes => Apportion(sizes, size));
    }

    /// <summary>Largest-remainder (Hamilton) apportionment: stratum i gets floor(total x n_i / N), and the seats
    /// left go one each to the largest remainders (ties: the larger stratum, then the earlier one). Sums to
    /// exactly <paramref name="total"/>, and no stratum gets more than it has when total &lt;= N.</summary>
    public static int[] Apportion(IReadOnlyList<int> sizes, int total)
    {
        long all = sizes.Sum(n => (long)n);
        if (total < 0 || total > all) throw new ArgumentOutOfRangeException(nameof(total), total, $"cannot place {total} among {all}");
        if (total == 0) return new int[sizes.Count];
        var seats = sizes.Select(n => (int)(total * (long)n / all)).ToArray();
        var byRemainder = Enumerable.Range(0, sizes.Count)
            .OrderByDescending(i => total * (long)sizes[i] % all)
            .ThenByDescending(i => sizes[i])
            .ThenBy(i => i);
        foreach (var i in byRemainder.Take(total - seats.Sum())) seats[i]++;
        return seats;
    }

    /// <summary>Groups by stratum (in ordinal order of the stratum name), takes the first k of each seeded shuffle,
    /// and returns the chosen problems in their original order.</summary>
    static Subset Take(IReadOnlyList<MathProblem> problems, Strata by, int seed, Func<int[], int[]> takeCounts)
    {
        var strata = Enumerable.Range(0, problems.Count)
            .GroupBy(i => StratumOf(problems[i], by))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Members: g.ToArray()))
            .ToList();
        var counts = takeCounts([.. strata.Select(s => s.Members.Length)]);
        var chosen = new List<int>();
        var report = new List<StratumCount>();
        for (var s = 0; s < strata.Count; s++)
        {
            var members = strata[s].Members;
            SeededShuffle.Shuffle(members, SeededShuffle.Mix(seed, strata[s].Name));
            chosen.AddRange(members.Take(counts[s]));
            report.Add(new StratumCount(strata[s].Name, members.Length, counts[s]));
        }
        chosen.Sort();
        return new Subset([.. chosen.Select(i => problems[i])], report);
    }
}

/// <summary>A Fisher-Yates shuffle driven by SplitMix64, written out so that a seed names the same order
/// everywhere (System.Random's seeded algorithm is an implementation detail of .NET).</summary>
internal static class SeededShuffle
{
    /// <summary>A per-stratum seed: each stratum's order depends only on the seed and its own name, not on which
    /// other strata exist.</summary>
    public static ulong Mix(int seed, string stratum)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over the UTF-16 code units
        foreach (var c in stratum) { h ^= c; h *= 1099511628211UL; }
        return h ^ (ulong)(uint)seed * 0x9E3779B97F4A7C15UL;
    }

    public static void Shuffle<T>(T[] items, ulong state)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            // Lemire's multiply-shift maps a 64-bit draw onto [0, i] without division.
            var j = (int)(((UInt128)Next(ref state) * (ulong)(i + 1)) >> 64);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
