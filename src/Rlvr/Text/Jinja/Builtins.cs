using System.Globalization;

namespace Rlvr.Text.Jinja;

/// <summary>Jinja's filters that chat templates use. An unknown filter is an error naming it.</summary>
internal static class Filters
{
    public static object? Apply(string name, object? value, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, Interpreter run, int line)
    {
        object? Arg(int i, string key, object? dflt) => i < args.Count ? args[i] : kwargs.TryGetValue(key, out var v) ? v : dflt;
        List<object?> Items() => Py.Iterate(value)?.ToList() ?? throw run.Error(line, $"filter '{name}' needs a sequence, got '{Py.TypeName(value)}'");
        switch (name)
        {
            case "trim": return Methods.Strip(Py.Str(value), Arg(0, "chars", null) as string, left: true, right: true);
            case "length" or "count": return Py.Length(value) ?? throw run.Error(line, $"object of type '{Py.TypeName(value)}' has no len()");
            case "upper": return Py.Str(value).ToUpperInvariant();
            case "lower": return Py.Str(value).ToLowerInvariant();
            case "capitalize":
                var s = Py.Str(value);
                return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            case "title": return CultureInfo.InvariantCulture.TextInfo.ToTitleCase(Py.Str(value).ToLowerInvariant());
            case "default" or "d":
                var useDefault = Py.Truthy(Arg(1, "boolean", false)) ? !Py.Truthy(value) : value is Undefined;
                return useDefault ? Arg(0, "default_value", "") : value;
            case "first": return Items() is { Count: > 0 } f ? f[0] : new Undefined("the sequence is empty, so it has no first item");
            case "last": return Items() is { Count: > 0 } l ? l[^1] : new Undefined("the sequence is empty, so it has no last item");
            case "join":
                var attribute = Arg(1, "attribute", null) as string;
                return string.Join(Py.Str(Arg(0, "d", "")), Items().Select(x => Py.Str(attribute == null ? x : Attribute(x, attribute))));
            case "string": return Py.Str(value);
            case "list": return Items();
            case "reverse": return value is string r ? string.Concat(r.EnumerateRunes().Reverse()) : Enumerable.Reverse(Items()).ToList();
            case "int":
                return value switch
                {
                    long i => i,
                    double d => (long)d,
                    bool b => b ? 1L : 0L,
                    string str when long.TryParse(str.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
                    _ => Arg(0, "default", 0L),
                };
            case "float":
                return value switch
                {
                    long i => (double)i,
                    double d => d,
                    string str when double.TryParse(str.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) => x,
                    _ => Arg(0, "default", 0.0),
                };
            case "replace":
                return Py.Str(value).Replace(Py.Str(Arg(0, "old", "")), Py.Str(Arg(1, "new", "")), StringComparison.Ordinal);
            case "tojson": return Py.Json(value, Arg(0, "indent", null) as long? is { } n2 ? (int)n2 : null);
            case "items":
                return value is Dictionary<string, object?> dict ? dict.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()
                    : throw run.Error(line, $"filter 'items' needs a dict, got '{Py.TypeName(value)}'");
            case "map":
                var mapAttribute = Arg(0, "attribute", null) as string ?? throw run.Error(line, "filter 'map' is supported with attribute='...' only");
                return Items().Select(x => Attribute(x, mapAttribute)).ToList();
            case "selectattr" or "rejectattr":
                var attr = Arg(0, "attribute", null) as string ?? throw run.Error(line, $"filter '{name}' needs an attribute name");
                var test = args.Count > 1 ? Py.Str(args[1]) : null;
                var testArgs = args.Skip(2).ToList();
                return Items().Where(x =>
                {
                    var v = Attribute(x, attr);
                    var passed = test == null ? Py.Truthy(v) : run.RunTest(test, v, testArgs, line);
                    return passed == (name == "selectattr");
                }).ToList();
            default:
                throw run.Error(line, $"unsupported Jinja filter '{name}'");
        }
    }

    static object? Attribute(object? item, string name) =>
        item is Dictionary<string, object?> d && d.TryGetValue(name, out var v) ? v : new Undefined($"no attribute '{name}'");
}

/// <summary>Jinja's tests (<c>x is defined</c>, ...). An unknown test is an error naming it.</summary>
internal static class Tests
{
    public static bool Apply(string name, object? value, IReadOnlyList<object?> args, int line, Interpreter run)
    {
        object? Arg() => args.Count > 0 ? args[0] : throw run.Error(line, $"test '{name}' needs an argument");
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "string" => value is string,
            "number" => value is long or double,
            "integer" => value is long,
            "float" => value is double,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "mapping" => value is Dictionary<string, object?>,
            "sequence" or "iterable" => value is string or List<object?> or Dictionary<string, object?>,
            "callable" => value is Callable,
            "even" => value is long e && e % 2 == 0,
            "odd" => value is long o && o % 2 != 0,
            "divisibleby" => value is long a && Arg() is long b && b != 0 && a % b == 0,
            "eq" or "equalto" or "==" => Py.Eq(value, Arg()),
            "ne" or "!=" => !Py.Eq(value, Arg()),
            "in" => Arg() switch
            {
                string s => value is string sub && s.Contains(sub, StringComparison.Ordinal),
                List<object?> l => l.Any(x => Py.Eq(x, value)),
                Dictionary<string, object?> d => value is string k && d.ContainsKey(k),
                _ => false,
            },
            _ => throw run.Error(line, $"unsupported Jinja test '{name}'"),
        };
    }
}

/// <summary>The Python methods of strings and dicts that templates call (<c>content.strip()</c>, <c>d.items()</c>, ...).</summary>
internal static class Methods
{
    public static Callable? Find(object? target, string name) => (target, name) switch
    {
        (string s, "strip") => (a, _) => Strip(s, Chars(a), true, true),
        (string s, "lstrip") => (a, _) => Strip(s, Chars(a), true, false),
        (string s, "rstrip") => (a, _) => Strip(s, Chars(a), false, true),
        (string s, "lower") => (_, _) => s.ToLowerInvariant(),
        (string s, "upper") => (_, _) => s.ToUpperInvariant(),
        (string s, "startswith") => (a, _) => Prefixes(a).Any(p => s.StartsWith(p, StringComparison.Ordinal)),
        (string s, "endswith") => (a, _) => Prefixes(a).Any(p => s.EndsWith(p, StringComparison.Ordinal)),
        (string s, "replace") => (a, _) => s.Replace(Py.Str(a[0]), Py.Str(a[1]), StringComparison.Ordinal),
        (string s, "split") => (a, _) => Split(s, a),
        (Dictionary<string, object?> d, "items") => (_, _) => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
        (Dictionary<string, object?> d, "keys") => (_, _) => d.Keys.Select(k => (object?)k).ToList(),
        (Dictionary<string, object?> d, "values") => (_, _) => d.Values.ToList(),
        (Dictionary<string, object?> d, "get") => (a, _) => a.Count > 0 && a[0] is string k && d.TryGetValue(k, out var v) ? v : a.Count > 1 ? a[1] : null,
        _ => null,
    };

    static string? Chars(IReadOnlyList<object?> args) => args.Count > 0 ? args[0] as string : null;

    static IEnumerable<string> Prefixes(IReadOnlyList<object?> args) =>
        args.Count > 0 && args[0] is List<object?> l ? l.Select(Py.Str) : args.Select(Py.Str).Take(1);

    /// <summary>Python's str.strip(chars): whitespace when <paramref name="chars"/> is null.</summary>
    public static string Strip(string s, string? chars, bool left, bool right)
    {
        bool Strippable(char c) => chars == null ? char.IsWhiteSpace(c) : chars.Contains(c);
        var start = 0;
        var end = s.Length;
        if (left) while (start < end && Strippable(s[start])) start++;
        if (right) while (end > start && Strippable(s[end - 1])) end--;
        return s[start..end];
    }

    static List<object?> Split(string s, IReadOnlyList<object?> args)
    {
        var sep = args.Count > 0 ? args[0] as string : null;
        var max = args.Count > 1 && args[1] is long m && m >= 0 ? (int)m + 1 : int.MaxValue;
        var parts = sep == null
            ? s.Split((char[]?)null, max, StringSplitOptions.RemoveEmptyEntries)
            : s.Split(sep, max);
        return parts.Select(p => (object?)p).ToList();
    }
}
