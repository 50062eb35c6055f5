using System.Globalization;
using System.Numerics;

namespace Rlvr.Math;

/// <summary>
/// An exact rational number p/q with big integers (q &gt; 0, gcd(p, q) = 1). Operations that would
/// exceed <see cref="MaxBits"/> return null so that a hostile input (10^{10^{10}}) cannot stall the grader.
/// </summary>
public readonly struct BigRational : IEquatable<BigRational>, IComparable<BigRational>
{
    /// <summary>Largest numerator or denominator kept exactly (about 3,000 decimal digits).</summary>
    public const int MaxBits = 10_000;

    public BigInteger Num { get; }
    public BigInteger Den { get; }

    public static readonly BigRational Zero = new(BigInteger.Zero, BigInteger.One, normalized: true);
    public static readonly BigRational One = new(BigInteger.One, BigInteger.One, normalized: true);

    BigRational(BigInteger num, BigInteger den, bool normalized)
    {
        Num = num;
        Den = den;
    }

    public static BigRational FromInteger(BigInteger n) => new(n, BigInteger.One, normalized: true);

    /// <summary>p/q reduced; null when q = 0 or the result is too large.</summary>
    public static BigRational? Create(BigInteger num, BigInteger den)
    {
        if (den.IsZero) return null;
        if (den.Sign < 0) { num = -num; den = -den; }
        var g = BigInteger.GreatestCommonDivisor(num, den);
        if (!g.IsOne && !g.IsZero) { num /= g; den /= g; }
        if (num.IsZero) den = BigInteger.One;
        if (TooBig(num) || TooBig(den)) return null;
        return new BigRational(num, den, normalized: true);
    }

    static bool TooBig(BigInteger n) => n.GetBitLength() > MaxBits;

    public bool IsInteger => Den.IsOne;
    public int Sign => Num.Sign;
    public bool IsZero => Num.IsZero;

    public static BigRational? operator +(BigRational a, BigRational b) => Create(a.Num * b.Den + b.Num * a.Den, a.Den * b.Den);
    public static BigRational? operator -(BigRational a, BigRational b) => Create(a.Num * b.Den - b.Num * a.Den, a.Den * b.Den);
    public static BigRational? operator *(BigRational a, BigRational b) => Create(a.Num * b.Num, a.Den * b.Den);
    public static BigRational? operator /(BigRational a, BigRational b) => Create(a.Num * b.Den, a.Den * b.Num);
    public static BigRational operator -(BigRational a) => new(-a.Num, a.Den, normalized: true);
    public BigRational Abs() => new(BigInteger.Abs(Num), Den, normalized: true);

    /// <summary>a^n for an integer n; null when the result would be too large (checked before computing).</summary>
    public BigRational? Pow(BigInteger n)
    {
        if (n.IsZero) return One;
        if (IsZero) return n.Sign > 0 ? Zero : null;
        if (Num.IsOne && Den.IsOne) return One;
        if (BigInteger.Abs(Num).IsOne && Den.IsOne) return n.IsEven ? One : this;
        long bits = System.Math.Max(BigInteger.Abs(Num).GetBitLength(), Den.GetBitLength());
        if (BigInteger.Abs(n) > MaxBits || bits * (long)BigInteger.Abs(n) > MaxBits + 64) return null;
        int e = (int)BigInteger.Abs(n);
        var p = Create(BigInteger.Pow(Num, e), BigInteger.Pow(Den, e));
        if (p is null) return null;
        return n.Sign > 0 ? p : Create(p.Value.Den, p.Value.Num);
    }

    /// <summary>The exact k-th root when it is rational (negative values allowed for odd k), else null.</summary>
    public BigRational? Root(int k)
    {
        if (k <= 0) return null;
        if (k == 1) return this;
        if (Sign < 0)
        {
            if (k % 2 == 0) return null;
            return (-this).Root(k) is { } r ? -r : null;
        }
        var n = IntegerRoot(Num, k);
        var d = IntegerRoot(Den, k);
        return n is null || d is null ? null : Create(n.Value, d.Value);
    }

    /// <summary>The exact integer k-th root of a non-negative integer, or null.</summary>
    static BigInteger? IntegerRoot(BigInteger x, int k)
    {
        if (x.IsZero || x.IsOne) return x;
        // Newton's method from a floating-point estimate, then an exact check of the neighbours.
        double est = System.Math.Exp(BigInteger.Log(x) / k);
        if (double.IsInfinity(est) || double.IsNaN(est)) return null;
        BigInteger r = new(System.Math.Round(est));
        if (x.GetBitLength() > 100)
        {
            for (int it = 0; it < 200; it++)
            {
                if (r.IsZero) r = BigInteger.One;
                var next = ((k - 1) * r + x / BigInteger.Pow(r, k - 1)) / k;
                if (BigInteger.Abs(next - r) <= 1) { r = next; break; }
                r = next;
            }
        }
        for (var c = r - 2; c <= r + 2; c++)
            if (c.Sign >= 0 && BigInteger.Pow(c, k) == x) return c;
        return null;
    }

    public BigInteger Floor() => BigInteger.Divide(Num - (Num.Sign < 0 ? Den - 1 : 0), Den);
    public BigInteger Ceiling() => -(-this).Floor();

    /// <summary>Rounded to <paramref name="digits"/> decimal places, halves away from zero.</summary>
    public BigRational RoundDecimals(int digits)
    {
        var scale = BigInteger.Pow(10, digits);
        var scaled = Num * scale;
        var twice = 2 * BigInteger.Abs(scaled) + Den;
        var q = twice / (2 * Den);
        if (scaled.Sign < 0) q = -q;
        return Create(q, scale)!.Value;
    }

    public double ToDouble()
    {
        if (Den.IsOne) return (double)Num;
        // Scale so that both parts fit a double even for huge numerators and denominators.
        long shift = System.Math.Max(Num.GetBitLength(), Den.GetBitLength()) - 900;
        if (shift > 0)
        {
            var n = Num >> (int)shift;
            var d = Den >> (int)shift;
            if (d.IsZero) return Num.Sign * double.PositiveInfinity;
            return (double)n / (double)d;
        }
        return (double)Num / (double)Den;
    }

    /// <summary>Parses "123", "-4.56", "1.5e-3"; null when the text is not such a number.</summary>
    public static BigRational? ParseDecimal(string text)
    {
        text = text.Trim();
        int exp = 0;
        int e = text.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            if (!int.TryParse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exp) || System.Math.Abs(exp) > 3000)
                return null;
            text = text[..e];
        }
        bool neg = text.StartsWith('-');
        if (neg || text.StartsWith('+')) text = text[1..];
        int dot = text.IndexOf('.');
        string intPart = dot < 0 ? text : text[..dot];
        string frac = dot < 0 ? "" : text[(dot + 1)..];
        if (intPart.Length + frac.Length == 0 || !AllDigits(intPart) || !AllDigits(frac)) return null;
        if (intPart.Length + frac.Length > 3000) return null;
        var digits = BigInteger.Parse("0" + intPart + frac, CultureInfo.InvariantCulture);
        int scale = frac.Length - exp;
        BigRational? r = scale >= 0
            ? Create(digits, BigInteger.Pow(10, scale))
            : Create(digits * BigInteger.Pow(10, -scale), BigInteger.One);
        return r is { } v && neg ? -v : r;
    }

    static bool AllDigits(string s)
    {
        foreach (var c in s) if (c < '0' || c > '9') return false;
        return true;
    }

    public bool Equals(BigRational other) => Num == other.Num && Den == other.Den;
    public override bool Equals(object? obj) => obj is BigRational r && Equals(r);
    public override int GetHashCode() => HashCode.Combine(Num, Den);
    public int CompareTo(BigRational other) => (Num * other.Den).CompareTo(other.Num * Den);
    public static bool operator ==(BigRational a, BigRational b) => a.Equals(b);
    public static bool operator !=(BigRational a, BigRational b) => !a.Equals(b);

    public override string ToString()
    {
        string Short(BigInteger n)
        {
            var s = n.ToString(CultureInfo.InvariantCulture);
            return s.Length > 40 ? s[..18] + "..." + s[^18..] : s;
        }
        return Den.IsOne ? Short(Num) : Short(Num) + "/" + Short(Den);
    }
}
