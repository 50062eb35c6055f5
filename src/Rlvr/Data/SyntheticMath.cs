using System.Numerics;

namespace Rlvr.Data;

/// <summary>Sizes and seed of a synthetic dataset.</summary>
/// <param name="Families">Problem families to draw from (default: all of <see cref="SyntheticMath.Families"/>).</param>
public sealed record SyntheticOptions(int TrainSize = 20000, int TestSize = 500, int Seed = 1, IReadOnlyList<string>? Families = null);

/// <summary>
/// Synthetic math problems in the MATH format: a problem in LaTeX, a short worked solution ending in
/// <c>\boxed{}</c>, a type (the family) and a level 1-5 (difficulty inside the family: more digits,
/// negative numbers, fractions). The families are chosen so that a small model learns some well
/// (addition), some partly (subtraction with negatives, linear equations, multiplication) and some
/// hardly (fractions, remainders), so pass@1 and pass@k can move both ways. Answers are integers,
/// negatives and reduced fractions in LaTeX. The same options give the same files on every machine
/// (System.Random with a seed is a fixed algorithm), and no problem text is in both splits.
/// </summary>
public static class SyntheticMath
{
    delegate (string Problem, string Solution) Family(Random rng, int level);

    static readonly (string Name, Family Make)[] All =
    [
        ("Addition", Addition),
        ("Subtraction", Subtraction),
        ("Multiplication", Multiplication),
        ("Linear Equations", LinearEquation),
        ("Fractions", Fractions),
        ("Remainders", Remainders),
    ];

    /// <summary>The family names (MATH's <c>type</c> field of the rows).</summary>
    public static IReadOnlyList<string> Families { get; } = [.. All.Select(f => f.Name)];

    /// <summary>The test split first, then the train split; problems whose text is already taken are drawn again.</summary>
    public static (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> Test) Generate(SyntheticOptions options)
    {
        var names = options.Families ?? Families;
        var families = names.Select(n => All.FirstOrDefault(f => f.Name.Equals(n, StringComparison.OrdinalIgnoreCase)) is var f && f.Make != null
            ? f : throw new ArgumentException($"unknown problem family '{n}' (known: {string.Join(", ", Families)})")).ToArray();
        if (options.TrainSize < 0 || options.TestSize < 0) throw new ArgumentException("dataset sizes must be >= 0");
        var rng = new Random(options.Seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var test = Draw(rng, families, options.TestSize, "synth-test", seen);
        var train = Draw(rng, families, options.TrainSize, "synth-train", seen);
        return (train, test);
    }

    static List<MathProblem> Draw(Random rng, (string Name, Family Make)[] families, int count, string prefix, HashSet<string> seen)
    {
        // Round-robin over (family, level) strata keeps them the same size, until a small stratum (one-digit
        // sums hold 81 problems) runs out of new texts: it then drops out and the others fill the split.
        var strata = families.SelectMany(f => Enumerable.Range(1, 5).Select(level => (f.Name, f.Make, Level: level))).ToList();
        var rows = new List<MathProblem>(count);
        int next = 0;
        while (rows.Count < count)
        {
            if (strata.Count == 0) throw new InvalidOperationException($"cannot draw {count} distinct problems for {prefix}: the families hold only {rows.Count} more");
            next %= strata.Count;
            var (name, make, level) = strata[next];
            string? problem = null, solution = null;
            for (int attempt = 0; attempt < 200 && problem == null; attempt++)
            {
                var (p, s) = make(rng, level);
                if (seen.Add(p)) (problem, solution) = (p, s);
            }
            if (problem == null) { strata.RemoveAt(next); continue; }
            rows.Add(new MathProblem($"{prefix}-{rows.Count}", problem, solution, Math.BoxedAnswer.Last(solution!), name, $"Level {level}", "synthetic"));
            next++;
        }
        return rows;
    }

    static int Digits(Random rng, int digits) => digits <= 1 ? rng.Next(1, 10) : rng.Next((int)System.Math.Pow(10, digits - 1), (int)System.Math.Pow(10, digits));

    static string Answer(string body) => $"The answer is $\\boxed{{{body}}}$.";

    /// <summary>L1 1+1 digits, L2 2+1, L3 2+2, L4 3+2, L5 3+3.</summary>
    static (string, string) Addition(Random rng, int level)
    {
        var (da, db) = level switch { 1 => (1, 1), 2 => (2, 1), 3 => (2, 2), 4 => (3, 2), _ => (3, 3) };
        int a = Digits(rng, da), b = Digits(rng, db);
        if (rng.Next(2) == 0) (a, b) = (b, a);
        return ($"What is ${a} + {b}$?", $"We add: ${a} + {b} = {a + b}$.\n{Answer((a + b).ToString())}");
    }

    /// <summary>L1 a - b >= 0 with 1 digit, L2 2-1 digits, L3 2-2 digits (may be negative), L4 3-2 digits either way, L5 a negative first term.</summary>
    static (string, string) Subtraction(Random rng, int level)
    {
        int a, b;
        switch (level)
        {
            case 1: a = Digits(rng, 1); b = rng.Next(0, a + 1); break;
            case 2: a = Digits(rng, 2); b = Digits(rng, 1); break;
            case 3: a = Digits(rng, 2); b = Digits(rng, 2); break;
            case 4: a = Digits(rng, 2); b = Digits(rng, 3); if (rng.Next(2) == 0) (a, b) = (b, a); break;
            default: a = -Digits(rng, 2); b = Digits(rng, 2); break;
        }
        int d = a - b;
        var steps = d < 0 && a >= 0 ? $"Since ${b} > {a}$, the difference is negative: ${a} - {b} = -({b} - {a}) = {d}$."
            : a < 0 ? $"Both terms are negative: ${a} - {b} = -({-a} + {b}) = {d}$."
            : $"We subtract: ${a} - {b} = {d}$.";
        return ($"Compute ${a} - {b}$.", $"{steps}\n{Answer(d.ToString())}");
    }

    /// <summary>L1 1x1 digits up to 5, L2 1x1, L3 2x1, L4 2x1 with a negative factor, L5 2x2.</summary>
    static (string, string) Multiplication(Random rng, int level)
    {
        int a, b;
        switch (level)
        {
            case 1: a = rng.Next(1, 6); b = rng.Next(1, 6); break;
            case 2: a = Digits(rng, 1); b = Digits(rng, 1); break;
            case 3: a = Digits(rng, 2); b = rng.Next(2, 10); break;
            case 4: a = Digits(rng, 2); b = -rng.Next(2, 10); break;
            default: a = Digits(rng, 2); b = rng.Next(11, 100); break;
        }
        int p = a * b;
        string solution;
        if (System.Math.Abs(a) < 10 && System.Math.Abs(b) < 10) solution = $"${a} \\cdot {b} = {p}$.";
        else
        {
            // Split the first factor into tens and ones: (10t + u) b = 10t b + u b.
            int tens = a / 10 * 10, ones = a % 10;
            string bb = b < 0 ? $"({b})" : b.ToString();
            solution = $"${a} \\cdot {bb} = {tens} \\cdot {bb} + {ones} \\cdot {bb} = {tens * b} + {Paren(ones * b)} = {p}$.";
        }
        return ($"Find the product ${a} \\cdot {(b < 0 ? $"({b})" : b.ToString())}$.", $"{solution}\n{Answer(p.ToString())}");
    }

    static string Paren(int v) => v < 0 ? $"({v})" : v.ToString();

    /// <summary>L1 x + b = c, L2 ax = c, L3 ax + b = c, L4 with negatives, L5 a fractional solution.</summary>
    static (string, string) LinearEquation(Random rng, int level)
    {
        int a = level switch { 1 => 1, 2 or 3 => rng.Next(2, 10), 4 => rng.Next(2, 10) * (rng.Next(2) == 0 ? -1 : 1), _ => rng.Next(2, 10) };
        int b = level switch { 2 => 0, 4 => rng.Next(-20, 21), 5 => rng.Next(-20, 21), _ => rng.Next(1, 20) };
        int x = level == 4 ? rng.Next(-9, 10) : rng.Next(1, 10);
        int c = a * x + b;
        if (level == 5)
        {
            c = rng.Next(-30, 31);
            if ((c - b) % a == 0) c += 1;   // keep the solution a proper fraction
        }
        string lhs = (a == 1 ? "x" : a == -1 ? "-x" : $"{a}x") + (b > 0 ? $" + {b}" : b < 0 ? $" - {-b}" : "");
        var steps = new List<string>();
        if (b != 0) steps.Add($"{(b > 0 ? $"Subtracting ${b}$" : $"Adding ${-b}$")} on both sides gives ${(a == 1 ? "x" : $"{a}x")} = {c - b}$.");
        string answer = Fraction(c - b, a);
        if (a != 1) steps.Add($"Dividing by ${a}$ gives $x = {answer}$.");
        return ($"Solve for $x$: ${lhs} = {c}$.", $"{string.Join(" ", steps)}\n{Answer(answer)}");
    }

    /// <summary>L1 same denominators, L2 sum with small denominators, L3 difference, L4 product, L5 sum of three.</summary>
    static (string, string) Fractions(Random rng, int level)
    {
        (int N, int D) F(int maxDen) { int d = rng.Next(2, maxDen + 1); return (rng.Next(1, d), d); }
        string T((int N, int D) f) => $"\\frac{{{f.N}}}{{{f.D}}}";
        switch (level)
        {
            case 1:
            {
                int d = rng.Next(3, 12), n1 = rng.Next(1, d), n2 = rng.Next(1, d);
                var sum = Fraction(n1 + n2, d);
                return ($"Compute $\\frac{{{n1}}}{{{d}}} + \\frac{{{n2}}}{{{d}}}$.", $"The denominators are equal, so we add the numerators: $\\frac{{{n1 + n2}}}{{{d}}} = {sum}$.\n{Answer(sum)}");
            }
            case 2 or 3 or 5:
            {
                var terms = Enumerable.Range(0, level == 5 ? 3 : 2).Select(_ => F(level == 2 ? 5 : 9)).ToArray();
                int sign = level == 3 ? -1 : 1;
                int lcd = terms.Aggregate(1, (l, t) => Lcm(l, t.D));
                var scaled = terms.Select(t => t.N * (lcd / t.D)).ToArray();
                int numerator = scaled[0] + sign * scaled.Skip(1).Sum();
                string op = sign < 0 ? " - " : " + ";
                string result = Fraction(numerator, lcd);
                var problem = $"Compute ${string.Join(op, terms.Select(T))}$. Express your answer as a common fraction.";
                var solution = $"The common denominator is ${lcd}$: ${string.Join(op, scaled.Select(s => $"\\frac{{{s}}}{{{lcd}}}"))} = \\frac{{{numerator}}}{{{lcd}}} = {result}$.\n{Answer(result)}";
                return (problem, solution);
            }
            default:
            {
                var (p, q) = (F(9), F(9));
                string result = Fraction(p.N * q.N, p.D * q.D);
                return ($"Find ${T(p)} \\cdot {T(q)}$. Express your answer as a common fraction.",
                    $"Multiply numerators and denominators: $\\frac{{{p.N * q.N}}}{{{p.D * q.D}}} = {result}$.\n{Answer(result)}");
            }
        }
    }

    /// <summary>L1 two digits by 2-5, L2 two digits by 6-9, L3 three digits by one digit, L4 three digits by 11-19, L5 four digits by 11-30.</summary>
    static (string, string) Remainders(Random rng, int level)
    {
        var (n, m) = level switch
        {
            1 => (Digits(rng, 2), rng.Next(2, 6)),
            2 => (Digits(rng, 2), rng.Next(6, 10)),
            3 => (Digits(rng, 3), rng.Next(2, 10)),
            4 => (Digits(rng, 3), rng.Next(11, 20)),
            _ => (Digits(rng, 4), rng.Next(11, 31)),
        };
        int q = n / m, r = n % m;
        return ($"What is the remainder when ${n}$ is divided by ${m}$?",
            $"We have ${n} = {m} \\cdot {q} + {r}$ with $0 \\le {r} < {m}$.\n{Answer(r.ToString())}");
    }

    /// <summary>p/q in lowest terms as LaTeX: an integer, \frac{p}{q}, or -\frac{p}{q}.</summary>
    public static string Fraction(long p, long q)
    {
        if (q == 0) throw new DivideByZeroException("fraction with denominator 0");
        if (q < 0) (p, q) = (-p, -q);
        long g = (long)BigInteger.GreatestCommonDivisor(p, q);
        if (g > 1) (p, q) = (p / g, q / g);
        if (q == 1) return p.ToString();
        return p < 0 ? $"-\\frac{{{-p}}}{{{q}}}" : $"\\frac{{{p}}}{{{q}}}";
    }

    static int Lcm(int a, int b) => a / (int)BigInteger.GreatestCommonDivisor(a, b) * b;
}
