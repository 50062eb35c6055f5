using System.Numerics;

namespace Rlvr.Math;

/// <summary>Exact evaluation of constant expressions whose value is rational (big integers, no rounding).</summary>
internal static class ExactEvaluator
{
    /// <summary>The exact rational value, or null when it is not rational, not constant, or too large to keep exactly.</summary>
    public static BigRational? Evaluate(MathNode node) => Evaluate(node, null);

    /// <summary>Longest \sum or \prod evaluated term by term.</summary>
    internal const int MaxTerms = 1000;

    static BigRational? Evaluate(MathNode node, Dictionary<string, BigRational>? index)
    {
        switch (node)
        {
            case NumberNode n: return n.Value;
            case SymbolNode s: return index is not null && index.TryGetValue(s.Name, out var bound) ? bound : null;
            case FuncNode { Name: "sum" or "prod" } big:
            {
                if (Range(big, index) is not var (name, lo, count)) return null;
                var inner = index is null ? new Dictionary<string, BigRational>() : new Dictionary<string, BigRational>(index);
                BigRational acc = big.Name == "sum" ? BigRational.Zero : BigRational.One;
                for (int k = 0; k < count; k++)
                {
                    inner[name] = BigRational.FromInteger(lo + k);
                    if (Evaluate(big.Args[0], inner) is not { } term || (big.Name == "sum" ? acc + term : acc * term) is not { } next) return null;
                    acc = next;
                }
                return acc;
            }
            case BaseNumberNode bn: return BaseValue(bn);
            case NegNode n: return Evaluate(n.X, index) is { } negated ? -negated : null;
            case PercentNode p: return Evaluate(p.X, index);
            case SumNode s:
            {
                BigRational acc = BigRational.Zero;
                foreach (var t in s.Terms)
                {
                    if (Evaluate(t, index) is not { } v || (acc + v) is not { } next) return null;
                    acc = next;
                }
                return acc;
            }
            case ProductNode p:
            {
                BigRational acc = BigRational.One;
                foreach (var f in p.Factors)
                {
                    if (Evaluate(f, index) is not { } v || (acc * v) is not { } next) return null;
                    acc = next;
                }
                return acc;
            }
            case DivNode d:
                return Evaluate(d.A, index) is { } a && Evaluate(d.B, index) is { } b ? a / b : null;
            case PowNode p:
                return Evaluate(p.Base, index) is { } x && Evaluate(p.Exp, index) is { } e ? Power(x, e) : null;
            case FuncNode f:
                return Function(f, index);
            default:
                return null;
        }
    }

    /// <summary>x^e for rational e = p/q when the q-th root of x is rational.</summary>
    static BigRational? Power(BigRational x, BigRational e)
    {
        if (e.IsInteger) return x.Pow(e.Num);
        if (e.Den > 64) return null;
        return x.Root((int)e.Den) is { } r ? r.Pow(e.Num) : null;
    }

    /// <summary>
    /// The index, first value and number of terms of a \sum or \prod whose bounds are integers, at most
    /// <see cref="MaxTerms"/> terms and no big operator inside the body (so any input evaluates in bounded time).
    /// </summary>
    static (string Name, long Lo, int Count)? Range(FuncNode big, Dictionary<string, BigRational>? index)
    {
        if (big.Args is not [var body, SymbolNode { Name: var name }, var loNode, var hiNode] || TreeFacts.ContainsBigOperator(body)) return null;
        if (Evaluate(loNode, index) is not { IsInteger: true } lo || Evaluate(hiNode, index) is not { IsInteger: true } hi) return null;
        var count = hi.Num - lo.Num + 1;
        if (BigInteger.Abs(lo.Num) > 1_000_000_000 || count > MaxTerms) return null;
        return (name, (long)lo.Num, (int)BigInteger.Max(count, 0));
    }

    static BigRational? Function(FuncNode f, Dictionary<string, BigRational>? index)
    {
        var args = new BigRational[f.Args.Count];
        for (int i = 0; i < args.Length; i++)
        {
            if (Evaluate(f.Args[i], index) is not { } v) return null;
            args[i] = v;
        }
        switch (f.Name)
        {
            case "sqrt":
            {
                int k = 2;
                if (args.Length == 2)
                {
                    if (!args[1].IsInteger || args[1].Num < 1 || args[1].Num > 64) return null;
                    k = (int)args[1].Num;
                }
                return args[0].Root(k);
            }
            case "abs": return args[0].Abs();
            case "floor": return BigRational.FromInteger(args[0].Floor());
            case "ceil": return BigRational.FromInteger(args[0].Ceiling());
            case "factorial":
            {
                if (!args[0].IsInteger || args[0].Sign < 0 || args[0].Num > 1000) return null;
                BigInteger r = BigInteger.One;
                for (int i = 2; i <= (int)args[0].Num; i++) r *= i;
                return BigRational.Create(r, BigInteger.One);
            }
            case "binom":
            {
                if (args.Length != 2 || !args[0].IsInteger || !args[1].IsInteger) return null;
                var n = args[0].Num; var k = args[1].Num;
                if (k.Sign < 0 || n.Sign < 0 || k > n) return k.Sign < 0 || (n.Sign >= 0 && k > n) ? BigRational.Zero : null;
                if (k > n - k) k = n - k;
                if (k > 2000 || n.GetBitLength() * (long)k > BigRational.MaxBits) return null;
                BigInteger r = BigInteger.One;
                for (int i = 0; i < (int)k; i++) r = r * (n - i) / (i + 1);
                return BigRational.Create(r, BigInteger.One);
            }
            case "gcd" or "lcm":
            {
                if (args.Length < 1 || args.Any(a => !a.IsInteger)) return null;
                BigInteger acc = BigInteger.Abs(args[0].Num);
                foreach (var a in args.Skip(1))
                {
                    var g = BigInteger.GreatestCommonDivisor(acc, a.Num);
                    acc = f.Name == "gcd" ? g : (g.IsZero ? BigInteger.Zero : BigInteger.Abs(acc / g * a.Num));
                }
                return BigRational.Create(acc, BigInteger.One);
            }
            case "max": return args.Length == 0 ? null : args.Max();
            case "min": return args.Length == 0 ? null : args.Min();
            case "log" or "log10":
            {
                // log_b x is rational when x = b^k for a small integer k (log_2 8 = 3).
                var b = f.Name == "log10" ? BigRational.FromInteger(10) : args.Length == 2 ? args[1] : (BigRational?)null;
                if (b is not { } bv || bv.Sign <= 0 || bv == BigRational.One || args[0].Sign <= 0) return null;
                for (int k = -64; k <= 64; k++)
                    if (bv.Pow(k) is { } p && p == args[0]) return BigRational.FromInteger(k);
                return null;
            }
            default: return null;
        }
    }

    internal static BigRational? BaseValue(BaseNumberNode b)
    {
        var digits = b.Digits;
        int dot = digits.IndexOf('.');
        var all = digits.Replace(".", "");
        BigInteger v = BigInteger.Zero;
        foreach (var c in all) v = v * b.Base + (char.IsAsciiDigit(c) ? c - '0' : c - 'A' + 10);
        int fractional = dot < 0 ? 0 : digits.Length - dot - 1;
        return BigRational.Create(v, BigInteger.Pow(b.Base, fractional));
    }
}

/// <summary>
/// Numeric evaluation in complex double precision, with variables bound to values. Undefined results
/// (division by zero, overflow, unknown functions, sets) are NaN; callers skip such points.
/// </summary>
internal static class NumericEvaluator
{
    static readonly Complex NaN = new(double.NaN, double.NaN);

    public static Complex Evaluate(MathNode node, IReadOnlyDictionary<string, Complex>? vars) => Evaluate(node, vars, out _);

    /// <summary>
    /// The value, and the largest magnitude that cancelled on the way to it (a term of a sum, the argument of a
    /// periodic function): a result near 0 is zero only relative to that scale. A power or product that underflows
    /// (x^{1000000} at x = 0.7) is NaN, not 0: its value is unknown at this precision, not zero.
    /// </summary>
    public static Complex Evaluate(MathNode node, IReadOnlyDictionary<string, Complex>? vars, out double cancelled)
    {
        double scale = 0;
        var r = Eval(node, vars, ref scale);
        cancelled = scale;
        return IsFinite(r) ? r : NaN;
    }

    /// <summary>Below this magnitude a nonzero double result has lost its precision (or is about to underflow to 0).</summary>
    const double Tiny = 1e-290;

    static Complex Underflowed(Complex r) => r.Magnitude < Tiny ? NaN : r;

    static bool IsFinite(Complex c) => double.IsFinite(c.Real) && double.IsFinite(c.Imaginary);

    static Complex Eval(MathNode node, IReadOnlyDictionary<string, Complex>? vars, ref double scale)
    {
        switch (node)
        {
            case NumberNode n: return n.Value.ToDouble();
            case BaseNumberNode b: return ExactEvaluator.BaseValue(b)?.ToDouble() ?? double.NaN;
            case SymbolNode s: return vars is not null && vars.TryGetValue(s.Name, out var v) ? v : NaN;
            case ConstantNode c:
                return c.Kind switch
                {
                    Constant.Pi => System.Math.PI, Constant.E => System.Math.E, Constant.I => Complex.ImaginaryOne, _ => NaN,
                };
            case NegNode n: return -Eval(n.X, vars, ref scale);
            case PercentNode p: return Eval(p.X, vars, ref scale);
            case SumNode s:
            {
                Complex acc = 0;
                foreach (var t in s.Terms)
                {
                    var term = Eval(t, vars, ref scale);
                    scale = System.Math.Max(scale, term.Magnitude);
                    acc += term;
                }
                return acc;
            }
            case ProductNode p:
            {
                Complex acc = 1;
                bool zeroFactor = false;
                foreach (var f in p.Factors)
                {
                    var factor = Eval(f, vars, ref scale);
                    zeroFactor |= factor == Complex.Zero;
                    acc *= factor;
                }
                return zeroFactor ? acc : Underflowed(acc);
            }
            case DivNode d:
            {
                var b = Eval(d.B, vars, ref scale);
                if (b == Complex.Zero) return NaN;
                var a = Eval(d.A, vars, ref scale);
                return a == Complex.Zero ? a : Underflowed(a / b);
            }
            case PowNode p:
            {
                var b = Eval(p.Base, vars, ref scale);
                var r = Power(b, Eval(p.Exp, vars, ref scale));
                return b == Complex.Zero ? r : Underflowed(r);
            }
            case FuncNode { Name: "sum" or "prod" } big: return BigOperator(big, vars, ref scale);
            case FuncNode f: return Function(f, vars, ref scale);
            default: return NaN;
        }
    }

    static bool IsReal(Complex c) => c.Imaginary == 0;

    /// <summary>A \sum or \prod with integer bounds (at most <see cref="ExactEvaluator.MaxTerms"/> terms), term by term; NaN otherwise.</summary>
    static Complex BigOperator(FuncNode big, IReadOnlyDictionary<string, Complex>? vars, ref double scale)
    {
        if (big.Args is not [var body, SymbolNode { Name: var name }, var loNode, var hiNode] || TreeFacts.ContainsBigOperator(body)) return NaN;
        var lo = Eval(loNode, vars, ref scale);
        var hi = Eval(hiNode, vars, ref scale);
        if (!IsReal(lo) || !IsReal(hi) || lo.Real != System.Math.Round(lo.Real) || hi.Real != System.Math.Round(hi.Real)
            || System.Math.Abs(lo.Real) > 1e9 || hi.Real - lo.Real + 1 > ExactEvaluator.MaxTerms) return NaN;
        var inner = vars is null ? new Dictionary<string, Complex>() : new Dictionary<string, Complex>(vars);
        Complex acc = big.Name == "sum" ? 0 : 1;
        for (double k = lo.Real; k <= hi.Real; k++)
        {
            inner[name] = k;
            var term = Eval(body, inner, ref scale);
            if (big.Name == "sum")
            {
                scale = System.Math.Max(scale, term.Magnitude);
                acc += term;
            }
            else acc *= term;
        }
        return acc;
    }

    internal static Complex Power(Complex b, Complex e)
    {
        if (!IsFinite(b) || !IsFinite(e)) return NaN;
        if (IsReal(b) && IsReal(e))
        {
            double x = b.Real, y = e.Real;
            if (x > 0 || y == System.Math.Round(y)) return x == 0 && y < 0 ? NaN : System.Math.Pow(x, y);
            if (x == 0) return y > 0 ? 0 : NaN;
            // A negative base with exponent p/q, q odd, has a real value: (-8)^(1/3) = -2.
            if (OddDenominator(y, out int p)) return (p % 2 == 0 ? 1 : -1) * System.Math.Pow(-x, y);
        }
        if (b == Complex.Zero) return IsReal(e) && e.Real > 0 ? 0 : NaN;
        return Complex.Pow(b, e);
    }

    /// <summary>Whether y = p/q with q odd and small; p is returned.</summary>
    static bool OddDenominator(double y, out int p)
    {
        for (int q = 3; q <= 15; q += 2)
        {
            double pq = y * q;
            if (System.Math.Abs(pq - System.Math.Round(pq)) < 1e-9)
            {
                p = (int)System.Math.Round(pq);
                return true;
            }
        }
        p = 0;
        return false;
    }

    static Complex Function(FuncNode f, IReadOnlyDictionary<string, Complex>? vars, ref double scale)
    {
        if (f.Args.Count == 0) return NaN;
        var a = Eval(f.Args[0], vars, ref scale);
        if (!IsFinite(a)) return NaN;
        // sin(pi) is 1e-16, not 0: a periodic function's argument is the scale of its value's error.
        if (f.Name is "sin" or "cos" or "tan" or "cot" or "sec" or "csc" or "degrees") scale = System.Math.Max(scale, a.Magnitude);
        switch (f.Name)
        {
            case "sin": return Complex.Sin(a);
            case "cos": return Complex.Cos(a);
            case "tan": return Complex.Tan(a);
            case "cot": return Inverse(Complex.Tan(a));
            case "sec": return Inverse(Complex.Cos(a));
            case "csc": return Inverse(Complex.Sin(a));
            case "arcsin": return Complex.Asin(a);
            case "arccos": return Complex.Acos(a);
            case "arctan": return Complex.Atan(a);
            case "arccot": return Complex.Atan(Inverse(a));
            case "arcsec": return Complex.Acos(Inverse(a));
            case "arccsc": return Complex.Asin(Inverse(a));
            case "sinh": return Complex.Sinh(a);
            case "cosh": return Complex.Cosh(a);
            case "tanh": return Complex.Tanh(a);
            case "coth": return Inverse(Complex.Tanh(a));
            case "sech": return Inverse(Complex.Cosh(a));
            case "csch": return Inverse(Complex.Sinh(a));
            case "exp": return Underflowed(Complex.Exp(a));
            case "ln": return a == Complex.Zero ? NaN : Complex.Log(a);
            case "log10": return a == Complex.Zero ? NaN : Complex.Log10(a);
            case "log":
            {
                if (a == Complex.Zero) return NaN;
                if (f.Args.Count == 1) return Complex.Log(a);
                var b = Eval(f.Args[1], vars, ref scale);
                var lb = Complex.Log(b);
                return lb == Complex.Zero ? NaN : Complex.Log(a) / lb;
            }
            case "sqrt":
            {
                if (f.Args.Count == 1) return IsReal(a) && a.Real >= 0 ? System.Math.Sqrt(a.Real) : Complex.Sqrt(a);
                var k = Eval(f.Args[1], vars, ref scale);
                if (k == Complex.Zero) return NaN;
                return Power(a, Complex.One / k);
            }
            case "abs": return a.Magnitude;
            case "degrees": return a * (System.Math.PI / 180);
            case "arg": return a.Phase;
            case "floor": return IsReal(a) ? System.Math.Floor(a.Real) : NaN;
            case "ceil": return IsReal(a) ? System.Math.Ceiling(a.Real) : NaN;
            case "factorial": return IsReal(a) ? Gamma(a.Real + 1) : NaN;
            case "binom":
            {
                if (f.Args.Count != 2) return NaN;
                var k = Eval(f.Args[1], vars, ref scale);
                if (!IsReal(k) || k.Real != System.Math.Round(k.Real) || k.Real < 0 || k.Real > 200) return NaN;
                // n(n-1)...(n-k+1)/k! holds for any n, so binom(x, 2) compares with x(x-1)/2.
                Complex r = 1;
                for (int i = 0; i < (int)k.Real; i++) r = r * (a - i) / (i + 1);
                return r;
            }
            case "max" or "min":
            {
                double best = f.Name == "max" ? double.NegativeInfinity : double.PositiveInfinity;
                foreach (var arg in f.Args)
                {
                    var v = Eval(arg, vars, ref scale);
                    if (!IsReal(v)) return NaN;
                    best = f.Name == "max" ? System.Math.Max(best, v.Real) : System.Math.Min(best, v.Real);
                }
                return best;
            }
            case "gcd" or "lcm":
            {
                var exact = ExactEvaluator.Evaluate(f);
                return exact?.ToDouble() ?? double.NaN;
            }
            default: return NaN;
        }
    }

    static Complex Inverse(Complex z) => z == Complex.Zero ? NaN : Complex.One / z;

    /// <summary>Gamma function for real arguments (Lanczos approximation, g = 7), exact for small integers.</summary>
    internal static double Gamma(double x)
    {
        if (x == System.Math.Round(x))
        {
            if (x <= 0) return double.NaN;
            if (x > 171) return double.NaN;
            double r = 1;
            for (int i = 2; i < (int)x; i++) r *= i;
            return r;
        }
        if (x < 0.5) return System.Math.PI / (System.Math.Sin(System.Math.PI * x) * Gamma(1 - x));
        x -= 1;
        double[] c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        double s = c[0];
        for (int i = 1; i < 9; i++) s += c[i] / (x + i);
        double t = x + 7.5;
        return System.Math.Sqrt(2 * System.Math.PI) * System.Math.Pow(t, x + 0.5) * System.Math.Exp(-t) * s;
    }
}

/// <summary>Facts about a tree used by the comparison rules.</summary>
internal static class TreeFacts
{
    /// <summary>The free variables: the index of a \sum or \prod is bound inside it.</summary>
    public static void CollectSymbols(MathNode node, HashSet<string> into)
    {
        if (node is SymbolNode s) into.Add(s.Name);
        else if (node is FuncNode { Name: "sum" or "prod", Args: [var body, SymbolNode index, var lo, var hi] })
        {
            var inBody = new HashSet<string>();
            CollectSymbols(body, inBody);
            inBody.Remove(index.Name);
            into.UnionWith(inBody);
            CollectSymbols(lo, into);
            CollectSymbols(hi, into);
        }
        else foreach (var c in node.Children) CollectSymbols(c, into);
    }

    public static bool HasSymbols(MathNode node)
    {
        if (node is SymbolNode) return true;
        if (node is FuncNode { Name: "sum" or "prod" })
        {
            var free = new HashSet<string>();
            CollectSymbols(node, free);
            return free.Count > 0;
        }
        foreach (var c in node.Children) if (HasSymbols(c)) return true;
        return false;
    }

    public static bool ContainsBigOperator(MathNode node)
    {
        if (node is FuncNode { Name: "sum" or "prod" }) return true;
        foreach (var c in node.Children) if (ContainsBigOperator(c)) return true;
        return false;
    }

    /// <summary>
    /// The tree with the terms of every sum and the factors of every product in one order (by their printed
    /// form), so that a_i b_{n-i} and b_{n-i} a_i print alike. Products with a matrix keep their order.
    /// </summary>
    public static MathNode Canonical(MathNode node) => node switch
    {
        SumNode s => new SumNode(Sorted(s.Terms)),
        ProductNode p when !Contains<MatrixNode>(p) => new ProductNode(Sorted(p.Factors)),
        NegNode n => new NegNode(Canonical(n.X)),
        DivNode d => new DivNode(Canonical(d.A), Canonical(d.B)),
        PowNode p => new PowNode(Canonical(p.Base), Canonical(p.Exp)),
        FuncNode f => new FuncNode(f.Name, f.Args.Select(Canonical).ToList()),
        _ => node,
    };

    static List<MathNode> Sorted(IEnumerable<MathNode> items) =>
        items.Select(Canonical).OrderBy(x => x.ToString(), StringComparer.Ordinal).ToList();

    /// <summary>Whether a number is written with a decimal point (the writer may mean an approximation).</summary>
    public static bool HasDecimal(MathNode node)
    {
        if (node is NumberNode { IsDecimal: true }) return true;
        foreach (var c in node.Children) if (HasDecimal(c)) return true;
        return false;
    }

    public static bool Contains<T>(MathNode node) where T : MathNode
    {
        if (node is T) return true;
        foreach (var c in node.Children) if (Contains<T>(c)) return true;
        return false;
    }

    public static bool ContainsInfinity(MathNode node)
    {
        if (node is ConstantNode { Kind: Constant.Infinity }) return true;
        foreach (var c in node.Children) if (ContainsInfinity(c)) return true;
        return false;
    }

    /// <summary>
    /// Whether the value depends on the branch of a root, logarithm or fractional power of a variable:
    /// such expressions are compared only where contest problems take variables, at positive values.
    /// </summary>
    public static bool IsDomainSensitive(MathNode node)
    {
        switch (node)
        {
            case FuncNode f when f.Name is "sqrt" or "log" or "ln" or "log10" or "arcsin" or "arccos" or "arcsec" or "arccsc" or "factorial":
                if (f.Args.Any(HasSymbols)) return true;
                break;
            case PowNode p when HasSymbols(p.Base):
                var e = ExactEvaluator.Evaluate(p.Exp);
                if (e is null || !e.Value.IsInteger) return true;
                break;
        }
        foreach (var c in node.Children) if (IsDomainSensitive(c)) return true;
        return false;
    }
}
