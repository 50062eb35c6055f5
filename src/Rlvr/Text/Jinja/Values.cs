using System.Globalization;
using System.Text;

namespace Rlvr.Text.Jinja;

/// <summary>An error in a template or raised by it (<c>raise_exception</c>); the message names the template and line.</summary>
public sealed class TemplateException(string message) : FormatException(message);

/// <summary>Jinja's Undefined: a missing variable, key or attribute. Prints as "", is false, and fails when used further.</summary>
internal sealed class Undefined(string what)
{
    public string What { get; } = what;
}

/// <summary>The object <c>namespace(...)</c> makes: attributes that a <c>set</c> inside a loop can change.</summary>
internal sealed class Namespace(Dictionary<string, object?> attributes)
{
    public Dictionary<string, object?> Attributes { get; } = attributes;
}

/// <summary>A function callable from a template: positional and named arguments.</summary>
internal delegate object? Callable(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs);

/// <summary>
/// Values are Python's as Jinja sees them: string, long, double, bool, null (None), <see cref="List{T}"/>
/// of values (lists and tuples), <see cref="Dictionary{TKey,TValue}"/> with string keys, <see cref="Undefined"/>,
/// <see cref="Namespace"/> and <see cref="Callable"/>. These are Python's semantics for them.
/// </summary>
internal static class Py
{
    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python's str(), which is what <c>{{ }}</c>, <c>~</c> and the <c>string</c> filter print.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        string s => StringRepr(s),
        Undefined => "",
        List<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
        Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => StringRepr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        Namespace => "<Namespace>",
        _ => "<function>",
    };

    static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var s = d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        return s.Contains('.') || s.Contains('e') ? s : s + ".0";
    }

    static string StringRepr(string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                default:
                    if (c == quote) sb.Append('\\');
                    sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    static double ToDouble(object? v) => v switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => double.NaN };

    public static bool Eq(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Eq(p.First, p.Second)),
            (Dictionary<string, object?> x, Dictionary<string, object?> y) =>
                x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var w) && Eq(kv.Value, w)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Python's ordering of numbers and of strings (by code point); null when the two can't be ordered.</summary>
    public static int? Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string x && b is string y) return string.CompareOrdinal(x, y);
        return null;
    }

    /// <summary>The items a <c>for</c> loop or a filter walks: list items, dict keys, string characters.</summary>
    public static IEnumerable<object?>? Iterate(object? v) => v switch
    {
        List<object?> l => l,
        Dictionary<string, object?> d => d.Keys,
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()),
        Undefined => [],
        _ => null,
    };

    public static long? Length(object? v) => v switch
    {
        string s => s.EnumerateRunes().Count(),
        List<object?> l => l.Count,
        Dictionary<string, object?> d => d.Count,
        Undefined => 0,
        _ => null,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        _ => "function",
    };

    /// <summary>Python's json.dumps(v, ensure_ascii=False), HF's <c>tojson</c>.</summary>
    public static string Json(object? v, int? indent, int depth = 0)
    {
        string Nested(IEnumerable<string> parts, char open, char close)
        {
            var list = parts.ToList();
            if (list.Count == 0) return $"{open}{close}";
            if (indent == null) return open + string.Join(", ", list) + close;
            var pad = "\n" + new string(' ', indent.Value * (depth + 1));
            return open + pad + string.Join("," + pad, list) + "\n" + new string(' ', indent.Value * depth) + close;
        }
        return v switch
        {
            null or Undefined => "null",
            bool b => b ? "true" : "false",
            long or double => Repr(v),
            string s => JsonString(s),
            List<object?> l => Nested(l.Select(x => Json(x, indent, depth + 1)), '[', ']'),
            Dictionary<string, object?> d => Nested(d.Select(kv => JsonString(kv.Key) + ": " + Json(kv.Value, indent, depth + 1)), '{', '}'),
            _ => throw new InvalidOperationException($"Object of type {TypeName(v)} is not JSON serializable"),
        };
    }

    static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                case '\b': sb.Append(@"\b"); break;
                case '\f': sb.Append(@"\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
