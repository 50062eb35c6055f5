using System.Globalization;
using System.Text;

namespace Rlvr.Text.Jinja;

/// <summary>Runs a parsed template: statements write to the output, expressions evaluate with Python's semantics.</summary>
internal sealed class Interpreter
{
    readonly string origin;
    readonly StringBuilder output = new();
    readonly List<Dictionary<string, object?>> scopes = [];

    enum Flow { Normal, Break, Continue }

    Interpreter(string origin, IReadOnlyDictionary<string, object?> variables)
    {
        this.origin = origin;
        scopes.Add(new Dictionary<string, object?>
        {
            ["raise_exception"] = (Callable)((args, _) =>
                throw new TemplateException($"{origin}: the template raised an error: {(args.Count > 0 ? Py.Str(args[0]) : "")}")),
            ["namespace"] = (Callable)((args, kwargs) => new Namespace(new Dictionary<string, object?>(kwargs))),
            ["range"] = (Callable)((args, _) => Range(args)),
        });
        scopes.Add(new Dictionary<string, object?>(variables));
    }

    public static string Run(IReadOnlyList<Node> nodes, string origin, IReadOnlyDictionary<string, object?> variables)
    {
        var interpreter = new Interpreter(origin, variables);
        if (interpreter.Execute(nodes) != Flow.Normal) throw new TemplateException($"{origin}: 'break' or 'continue' outside a loop");
        return interpreter.output.ToString();
    }

    Flow Execute(IReadOnlyList<Node> nodes)
    {
        foreach (var node in nodes)
        {
            var flow = Execute(node);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow Execute(Node node)
    {
        switch (node)
        {
            case TextNode t:
                output.Append(t.Text);
                return Flow.Normal;
            case OutputNode o:
                output.Append(Py.Str(Evaluate(o.Value)));
                return Flow.Normal;
            case IfNode i:
                foreach (var (condition, body) in i.Branches)
                    if (Py.Truthy(Evaluate(condition))) return Execute(body);
                return Execute(i.Else);
            case ForNode f:
                return ExecuteFor(f);
            case SetNode s:
                var value = Evaluate(s.Value);
                if (s.Attribute == null) scopes[^1][s.Name] = value;
                else if (Lookup(s.Name) is Namespace ns) ns.Attributes[s.Attribute] = value;
                else throw Error(s.Line, $"'{{% set {s.Name}.{s.Attribute} %}}' needs '{s.Name}' to be a namespace()");
                return Flow.Normal;
            case LoopControlNode c:
                return c.IsBreak ? Flow.Break : Flow.Continue;
            default:
                throw new InvalidOperationException(node.GetType().Name);
        }
    }

    Flow ExecuteFor(ForNode f)
    {
        var iterable = Evaluate(f.Iterable);
        var items = (Py.Iterate(iterable) ?? throw Error(f.Line, $"'{Py.TypeName(iterable)}' object is not iterable")).ToList();
        if (f.Filter != null)
            items = items.Where(item => WithScope(() => { Bind(f.Targets, item, f.Line); return Py.Truthy(Evaluate(f.Filter)); })).ToList();
        if (items.Count == 0) return Execute(f.Else);
        for (var i = 0; i < items.Count; i++)
        {
            var loop = new Dictionary<string, object?>
            {
                ["index0"] = (long)i, ["index"] = (long)i + 1, ["revindex0"] = (long)(items.Count - 1 - i),
                ["revindex"] = (long)(items.Count - i), ["first"] = i == 0, ["last"] = i == items.Count - 1,
                ["length"] = (long)items.Count,
                ["previtem"] = i > 0 ? items[i - 1] : new Undefined("there is no previous item"),
                ["nextitem"] = i < items.Count - 1 ? items[i + 1] : new Undefined("there is no next item"),
            };
            var item = items[i];
            var flow = WithScope(() =>
            {
                scopes[^1]["loop"] = loop;
                Bind(f.Targets, item, f.Line);
                return Execute(f.Body);
            });
            if (flow == Flow.Break) break;
        }
        return Flow.Normal;
    }

    void Bind(IReadOnlyList<string> targets, object? item, int line)
    {
        if (targets.Count == 1) { scopes[^1][targets[0]] = item; return; }
        if (item is not List<object?> parts || parts.Count != targets.Count)
            throw Error(line, $"cannot unpack {Py.TypeName(item)} into {targets.Count} loop variables");
        for (var k = 0; k < targets.Count; k++) scopes[^1][targets[k]] = parts[k];
    }

    T WithScope<T>(Func<T> body)
    {
        scopes.Add([]);
        try { return body(); }
        finally { scopes.RemoveAt(scopes.Count - 1); }
    }

    object? Lookup(string name)
    {
        for (var i = scopes.Count - 1; i >= 0; i--)
            if (scopes[i].TryGetValue(name, out var v)) return v;
        return new Undefined($"'{name}' is undefined");
    }

    // ---- expressions ----

    object? Evaluate(Expr e)
    {
        switch (e)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return Lookup(n.Name);
            case ListExpr l: return l.Items.Select(Evaluate).ToList();
            case DictExpr d:
                var dict = new Dictionary<string, object?>();
                foreach (var (k, v) in d.Items)
                    dict[Evaluate(k) as string ?? throw Error(d.Line, "dict keys must be strings")] = Evaluate(v);
                return dict;
            case AttributeExpr a: return GetAttribute(Evaluate(a.Target), a.Name, a.Line);
            case ItemExpr i: return GetItem(Evaluate(i.Target), Evaluate(i.Index), i.Line);
            case SliceExpr s: return Slice(Evaluate(s.Target), s);
            case CallExpr c: return Call(c);
            case FilterExpr f: return Filter(f);
            case TestExpr t: return Test(t) != t.Negated;
            case UnaryExpr u: return Unary(u);
            case BinaryExpr b: return Binary(b);
            case ConditionalExpr c:
                return Py.Truthy(Evaluate(c.Condition)) ? Evaluate(c.Then)
                    : c.Else != null ? Evaluate(c.Else) : new Undefined("the condition was false and there is no 'else'");
            default: throw new InvalidOperationException(e.GetType().Name);
        }
    }

    /// <summary>Jinja's <c>a.b</c>: a method of the value when it has one by that name, else its item <c>b</c>.</summary>
    object? GetAttribute(object? target, string name, int line)
    {
        if (target is Undefined u) throw Error(line, $"{u.What}, so it has no attribute '{name}'");
        if (Methods.Find(target, name) is { } method) return method;
        return target switch
        {
            Dictionary<string, object?> d => d.TryGetValue(name, out var v) ? v : new Undefined($"'dict object' has no attribute '{name}'"),
            Namespace ns => ns.Attributes.TryGetValue(name, out var v) ? v : new Undefined($"namespace has no attribute '{name}'"),
            _ => new Undefined($"'{Py.TypeName(target)} object' has no attribute '{name}'"),
        };
    }

    /// <summary>Jinja's <c>a[b]</c>: the item, else an attribute of that name.</summary>
    object? GetItem(object? target, object? index, int line)
    {
        switch (target)
        {
            case Undefined u: throw Error(line, $"{u.What}, so it has no item {Py.Repr(index)}");
            case Dictionary<string, object?> d when index is string key:
                return d.TryGetValue(key, out var v) ? v : new Undefined($"'dict object' has no attribute '{key}'");
            case List<object?> l when index is long k:
                var at = k < 0 ? k + l.Count : k;
                return at >= 0 && at < l.Count ? l[(int)at] : new Undefined($"list index {k} out of range");
            case string s when index is long k:
                var runes = s.EnumerateRunes().ToList();
                var r = k < 0 ? k + runes.Count : k;
                return r >= 0 && r < runes.Count ? runes[(int)r].ToString() : new Undefined($"string index {k} out of range");
        }
        return index is string name ? GetAttribute(target, name, line) : new Undefined($"'{Py.TypeName(target)} object' has no item {Py.Repr(index)}");
    }

    object? Slice(object? target, SliceExpr s)
    {
        long? Bound(Expr? e) => e == null ? null : Evaluate(e) is long l ? l : throw Error(s.Line, "slice bounds must be integers");
        var (start, stop, step) = (Bound(s.Start), Bound(s.Stop), Bound(s.Step) ?? 1);
        if (step == 0) throw Error(s.Line, "slice step cannot be zero");
        List<object?> items = target switch
        {
            List<object?> l => l,
            string str => str.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
            _ => throw Error(s.Line, $"'{Py.TypeName(target)}' object cannot be sliced"),
        };
        // Python's slice.indices()
        long n = items.Count;
        long Clamp(long? v, long dflt, long lo, long hi) => v == null ? dflt : System.Math.Clamp(v.Value < 0 ? v.Value + n : v.Value, lo, hi);
        var result = new List<object?>();
        if (step > 0)
            for (var i = Clamp(start, 0, 0, n); i < Clamp(stop, n, 0, n); i += step) result.Add(items[(int)i]);
        else
            for (var i = Clamp(start, n - 1, -1, n - 1); i > Clamp(stop, -1, -1, n - 1); i += step) result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    object? Call(CallExpr c)
    {
        var callee = Evaluate(c.Callee);
        if (callee is not Callable f)
            throw Error(c.Line, callee is Undefined u ? $"{u.What}, so it cannot be called" : $"'{Py.TypeName(callee)}' object is not callable");
        var (args, kwargs) = EvaluateArguments(c.Args);
        try { return f(args, kwargs); }
        catch (Exception ex) when (ex is not TemplateException) { throw Error(c.Line, ex.Message); }
    }

    (List<object?>, Dictionary<string, object?>) EvaluateArguments(Arguments a) =>
        (a.Positional.Select(Evaluate).ToList(), a.Named.ToDictionary(n => n.Name, n => Evaluate(n.Value)));

    object? Filter(FilterExpr f)
    {
        var value = Evaluate(f.Value);
        var (args, kwargs) = EvaluateArguments(f.Args);
        try { return Filters.Apply(f.Name, value, args, kwargs, this, f.Line); }
        catch (Exception ex) when (ex is not TemplateException) { throw Error(f.Line, $"filter '{f.Name}': {ex.Message}"); }
    }

    bool Test(TestExpr t)
    {
        var value = Evaluate(t.Value);
        var (args, _) = EvaluateArguments(t.Args);
        return Tests.Apply(t.Name, value, args, t.Line, this);
    }

    object? Unary(UnaryExpr u)
    {
        var v = Evaluate(u.Operand);
        return u.Op switch
        {
            "not" => !Py.Truthy(v),
            "-" => v switch { long l => (object)-l, double d => -d, _ => throw Error(u.Line, $"bad operand type for unary -: '{Py.TypeName(v)}'") },
            _ => Py.IsNumber(v) ? v : throw Error(u.Line, $"bad operand type for unary +: '{Py.TypeName(v)}'"),
        };
    }

    object? Binary(BinaryExpr b)
    {
        if (b.Op == "and") { var l = Evaluate(b.Left); return Py.Truthy(l) ? Evaluate(b.Right) : l; }
        if (b.Op == "or") { var l = Evaluate(b.Left); return Py.Truthy(l) ? l : Evaluate(b.Right); }
        var left = Evaluate(b.Left);
        var right = Evaluate(b.Right);
        switch (b.Op)
        {
            case "~": return Py.Str(left) + Py.Str(right);
            case "==": return Py.Eq(left, right);
            case "!=": return !Py.Eq(left, right);
            case "in": return Contains(right, left, b.Line);
            case "not in": return !Contains(right, left, b.Line);
            case "<" or ">" or "<=" or ">=":
                var cmp = Py.Compare(left, right) ?? throw Error(b.Line, $"'{b.Op}' not supported between '{Py.TypeName(left)}' and '{Py.TypeName(right)}'");
                return b.Op switch { "<" => cmp < 0, ">" => cmp > 0, "<=" => cmp <= 0, _ => cmp >= 0 };
        }
        if (left is Undefined ul) throw Error(b.Line, $"{ul.What}, so it cannot be used with '{b.Op}'");
        if (right is Undefined ur) throw Error(b.Line, $"{ur.What}, so it cannot be used with '{b.Op}'");
        return (b.Op, left, right) switch
        {
            ("+", string x, string y) => x + y,
            ("+", List<object?> x, List<object?> y) => x.Concat(y).ToList(),
            ("*", string x, long n) => string.Concat(Enumerable.Repeat(x, (int)System.Math.Max(0, n))),
            ("*", List<object?> x, long n) => Enumerable.Repeat(x, (int)System.Math.Max(0, n)).SelectMany(l => l).ToList(),
            (_, long x, long y) => IntegerArithmetic(b, x, y),
            (_, long or double, long or double) => FloatArithmetic(b, Convert.ToDouble(left, CultureInfo.InvariantCulture), Convert.ToDouble(right, CultureInfo.InvariantCulture)),
            _ => throw Error(b.Line, $"unsupported operand types for {b.Op}: '{Py.TypeName(left)}' and '{Py.TypeName(right)}'"),
        };
    }

    object IntegerArithmetic(BinaryExpr b, long x, long y)
    {
        if (y == 0 && b.Op is "/" or "//" or "%") throw Error(b.Line, "division by zero");
        // Each arm is boxed on its own: a switch over long and double arms would turn every result into a double.
        return b.Op switch
        {
            "+" => (object)(x + y),
            "-" => x - y,
            "*" => x * y,
            "/" => (double)x / y,
            "//" => (long)System.Math.Floor((double)x / y),
            "%" => ((x % y) + y) % y,
            "**" => y >= 0 ? (object)(long)System.Math.Pow(x, y) : System.Math.Pow(x, y),
            _ => throw Error(b.Line, $"unknown operator {b.Op}"),
        };
    }

    object FloatArithmetic(BinaryExpr b, double x, double y)
    {
        if (y == 0 && b.Op is "/" or "//" or "%") throw Error(b.Line, "float division by zero");
        return b.Op switch
        {
            "+" => x + y,
            "-" => x - y,
            "*" => x * y,
            "/" => x / y,
            "//" => System.Math.Floor(x / y),
            "%" => x - y * System.Math.Floor(x / y),
            "**" => System.Math.Pow(x, y),
            _ => throw Error(b.Line, $"unknown operator {b.Op}"),
        };
    }

    bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        Dictionary<string, object?> d => item is string key && d.ContainsKey(key),
        List<object?> l => l.Any(x => Py.Eq(x, item)),
        Undefined u => throw Error(line, $"{u.What}, so 'in' cannot look into it"),
        _ => throw Error(line, $"argument of type '{Py.TypeName(container)}' is not a container"),
    };

    static List<object?> Range(IReadOnlyList<object?> args)
    {
        var n = args.Select(a => a as long? ?? throw new InvalidOperationException("range() takes integers")).ToList();
        var (start, stop, step) = n.Count switch { 1 => (0L, n[0], 1L), 2 => (n[0], n[1], 1L), 3 => (n[0], n[1], n[2]), _ => throw new InvalidOperationException("range() takes 1 to 3 arguments") };
        if (step == 0) throw new InvalidOperationException("range() step must not be zero");
        var result = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step) result.Add(i);
        return result;
    }

    /// <summary>Calls a test (for filters such as selectattr).</summary>
    internal bool RunTest(string name, object? value, IReadOnlyList<object?> args, int line) => Tests.Apply(name, value, args, line, this);

    internal TemplateException Error(int line, string message) => new($"{origin}:{line}: {message}");
}
