namespace Rlvr.Text.Jinja;

/// <summary>
/// Parses the Jinja subset chat templates use: <c>if/elif/else</c>, <c>for</c> (with <c>else</c>, a filter
/// condition and tuple targets), <c>set</c> (also <c>set ns.attr</c>), <c>break</c>/<c>continue</c>, and
/// expressions with Jinja's precedence. Any other tag is an error naming it and its line.
/// </summary>
internal sealed class Parser
{
    readonly List<Segment> segments;
    readonly string origin;
    int index;

    // Within one tag:
    IReadOnlyList<Token> tokens = [];
    int at;

    Parser(List<Segment> segments, string origin)
    {
        this.segments = segments;
        this.origin = origin;
    }

    public static IReadOnlyList<Node> Parse(string source, string origin)
    {
        var parser = new Parser(new Lexer(source, origin).Segments(), origin);
        var body = parser.ParseBody(out var end);
        if (end != null) throw parser.Error(end.Line, $"unexpected '{{% {end.Tokens[0].Text} %}}' with no open block");
        return body;
    }

    /// <summary>Nodes up to the next tag that closes or continues a block (elif/else/endif/endfor), returned in <paramref name="end"/>; null at the end of the template.</summary>
    List<Node> ParseBody(out Segment? end)
    {
        var nodes = new List<Node>();
        while (index < segments.Count)
        {
            var seg = segments[index++];
            switch (seg.Kind)
            {
                case SegmentKind.Text:
                    nodes.Add(new TextNode(seg.Text, seg.Line));
                    break;
                case SegmentKind.Output:
                    Begin(seg);
                    nodes.Add(new OutputNode(ParseExpression(), seg.Line));
                    ExpectEnd();
                    break;
                default:
                    Begin(seg);
                    var keyword = tokens[0].Kind == TokenKind.Name ? tokens[0].Text : throw Error(seg.Line, "expected a tag name after '{%'");
                    switch (keyword)
                    {
                        case "if": nodes.Add(ParseIf(seg)); break;
                        case "for": nodes.Add(ParseFor(seg)); break;
                        case "set": nodes.Add(ParseSet(seg)); break;
                        case "break" or "continue":
                            at = 1;
                            ExpectEnd();
                            nodes.Add(new LoopControlNode(keyword == "break", seg.Line));
                            break;
                        case "elif" or "else" or "endif" or "endfor":
                            end = seg;
                            return nodes;
                        default:
                            throw Error(seg.Line, $"unsupported Jinja tag '{{% {keyword} %}}' (rlvr's template engine knows if/elif/else, for, set, break, continue)");
                    }
                    break;
            }
        }
        end = null;
        return nodes;
    }

    IfNode ParseIf(Segment tag)
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        IReadOnlyList<Node> elseBody = [];
        at = 1;
        var condition = ParseExpression();
        ExpectEnd();
        while (true)
        {
            var body = ParseBody(out var end);
            branches.Add((condition, body));
            var word = end?.Tokens[0].Text ?? throw Error(tag.Line, "'{% if %}' is never closed with '{% endif %}'");
            Begin(end);
            at = 1;
            if (word == "elif")
            {
                condition = ParseExpression();
                ExpectEnd();
                continue;
            }
            ExpectEnd();
            if (word == "else")
            {
                elseBody = ParseBody(out end);
                word = end?.Tokens[0].Text;
                if (word != "endif") throw Error(end?.Line ?? tag.Line, "'{% if %}...{% else %}' must be closed with '{% endif %}'");
                Begin(end!);
                at = 1;
                ExpectEnd();
            }
            else if (word != "endif") throw Error(end!.Line, $"'{{% {word} %}}' inside '{{% if %}}'");
            return new IfNode(branches, elseBody, tag.Line);
        }
    }

    ForNode ParseFor(Segment tag)
    {
        at = 1;
        var targets = new List<string> { ExpectName() };
        while (Accept(",")) targets.Add(ExpectName());
        if (!AcceptName("in")) throw Error(tag.Line, "expected 'in' in '{% for %}'");
        var iterable = ParseOr(); // not a conditional: "if" starts the loop filter
        var filter = AcceptName("if") ? ParseExpression() : null;
        if (AcceptName("recursive")) throw Error(tag.Line, "recursive loops are not supported");
        ExpectEnd();
        var body = ParseBody(out var end);
        IReadOnlyList<Node> elseBody = [];
        if (end?.Tokens[0].Text == "else")
        {
            Begin(end);
            at = 1;
            ExpectEnd();
            elseBody = ParseBody(out end);
        }
        if (end?.Tokens[0].Text != "endfor") throw Error(end?.Line ?? tag.Line, "'{% for %}' must be closed with '{% endfor %}'");
        Begin(end);
        at = 1;
        ExpectEnd();
        return new ForNode(targets, iterable, filter, body, elseBody, tag.Line);
    }

    SetNode ParseSet(Segment tag)
    {
        at = 1;
        var name = ExpectName();
        var attribute = Accept(".") ? ExpectName() : null;
        if (!Accept("=")) throw Error(tag.Line, "expected '=' in '{% set %}' (block set and tuple targets are not supported)");
        var value = ParseExpression();
        ExpectEnd();
        return new SetNode(name, attribute, value, tag.Line);
    }

    // ---- expressions, by Jinja's precedence (lowest first) ----

    Expr ParseExpression()
    {
        var expr = ParseOr();
        while (AcceptName("if"))
        {
            var condition = ParseOr();
            var otherwise = AcceptName("else") ? ParseExpression() : null;
            expr = new ConditionalExpr(condition, expr, otherwise, expr.Line);
        }
        return expr;
    }

    Expr ParseOr()
    {
        var left = ParseAnd();
        while (AcceptName("or")) left = new BinaryExpr("or", left, ParseAnd(), left.Line);
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (AcceptName("and")) left = new BinaryExpr("and", left, ParseNot(), left.Line);
        return left;
    }

    Expr ParseNot()
    {
        var line = Current.Line;
        return AcceptName("not") ? new UnaryExpr("not", ParseNot(), line) : ParseCompare();
    }

    Expr ParseCompare()
    {
        var left = ParseAdditive();
        while (true)
        {
            string? op = null;
            foreach (var o in new[] { "==", "!=", "<", ">", "<=", ">=" })
                if (Current.Kind == TokenKind.Operator && Current.Text == o) op = o;
            if (op != null) at++;
            else if (AcceptName("in")) op = "in";
            else if (Current.Is("not") && Peek(1).Is("in")) { at += 2; op = "not in"; }
            else return left;
            left = new BinaryExpr(op, left, ParseAdditive(), left.Line);
        }
    }

    Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Text is "+" or "-")
        {
            var op = Next().Text;
            left = new BinaryExpr(op, left, ParseConcat(), left.Line);
        }
        return left;
    }

    Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (Accept("~")) left = new BinaryExpr("~", left, ParseMultiplicative(), left.Line);
        return left;
    }

    Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Next().Text;
            left = new BinaryExpr(op, left, ParsePower(), left.Line);
        }
        return left;
    }

    Expr ParsePower()
    {
        var left = ParseUnary(withFilters: true);
        while (Accept("**")) left = new BinaryExpr("**", left, ParseUnary(withFilters: true), left.Line);
        return left;
    }

    Expr ParseUnary(bool withFilters)
    {
        var line = Current.Line;
        Expr expr;
        if (Accept("-")) expr = new UnaryExpr("-", ParseUnary(withFilters: false), line);
        else if (Accept("+")) expr = new UnaryExpr("+", ParseUnary(withFilters: false), line);
        else expr = ParsePostfix(ParsePrimary());
        return withFilters ? ParseFilters(expr) : expr;
    }

    Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.String:
                var s = (string)t.Value!;
                while (Current.Kind == TokenKind.String) s += (string)Next().Value!; // adjacent literals join, as in Python
                return new LiteralExpr(s, t.Line);
            case TokenKind.Integer or TokenKind.Float:
                return new LiteralExpr(t.Value, t.Line);
            case TokenKind.Name:
                return t.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line),
                    "false" or "False" => new LiteralExpr(false, t.Line),
                    "none" or "None" => new LiteralExpr(null, t.Line),
                    _ => new NameExpr(t.Text, t.Line),
                };
        }
        if (t.Is("("))
        {
            if (Accept(")")) return new ListExpr([], t.Line);
            var first = ParseExpression();
            if (Accept(")")) return first;
            var items = new List<Expr> { first };
            while (Accept(",") && !Current.Is(")")) items.Add(ParseExpression());
            Expect(")");
            return new ListExpr(items, t.Line); // a tuple; lists stand in for tuples
        }
        if (t.Is("["))
        {
            var items = new List<Expr>();
            while (!Accept("]"))
            {
                items.Add(ParseExpression());
                if (!Accept(",")) { Expect("]"); break; }
            }
            return new ListExpr(items, t.Line);
        }
        if (t.Is("{"))
        {
            var items = new List<(Expr, Expr)>();
            while (!Accept("}"))
            {
                var key = ParseExpression();
                Expect(":");
                items.Add((key, ParseExpression()));
                if (!Accept(",")) { Expect("}"); break; }
            }
            return new DictExpr(items, t.Line);
        }
        throw Error(t.Line, $"unexpected {t} in an expression");
    }

    Expr ParsePostfix(Expr expr)
    {
        while (true)
        {
            if (Accept(".")) expr = new AttributeExpr(expr, Next() is { Kind: TokenKind.Name or TokenKind.Integer } t ? t.Text : throw Error(expr.Line, "expected a name after '.'"), expr.Line);
            else if (Accept("[")) expr = ParseSubscript(expr);
            else if (Current.Is("(")) expr = new CallExpr(expr, ParseArguments(), expr.Line);
            else return expr;
        }
    }

    Expr ParseSubscript(Expr target)
    {
        Expr? start = null, stop = null, step = null;
        if (!Current.Is(":")) start = ParseExpression();
        if (!Accept(":")) { Expect("]"); return new ItemExpr(target, start!, target.Line); }
        if (!Current.Is(":") && !Current.Is("]")) stop = ParseExpression();
        if (Accept(":") && !Current.Is("]")) step = ParseExpression();
        Expect("]");
        return new SliceExpr(target, start, stop, step, target.Line);
    }

    Expr ParseFilters(Expr expr)
    {
        while (true)
        {
            if (Accept("|"))
            {
                var name = ExpectName();
                expr = new FilterExpr(expr, name, Current.Is("(") ? ParseArguments() : Arguments.None, expr.Line);
            }
            else if (AcceptName("is"))
            {
                var negated = AcceptName("not");
                var name = ExpectName();
                Arguments args;
                if (Current.Is("(")) args = ParseArguments();
                else if (Current.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || Current.Kind == TokenKind.Name && Current.Text is not ("else" or "or" or "and" or "if" or "is" or "in" or "not"))
                    args = new Arguments([ParsePostfix(ParsePrimary())], []); // "x is divisibleby 3"
                else args = Arguments.None;
                expr = new TestExpr(expr, name, args, negated, expr.Line);
            }
            else if (Current.Is("(")) expr = new CallExpr(expr, ParseArguments(), expr.Line);
            else return expr;
        }
    }

    Arguments ParseArguments()
    {
        Expect("(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!Accept(")"))
        {
            if (Current.Kind == TokenKind.Name && Peek(1).Is("="))
            {
                var name = Next().Text;
                at++;
                named.Add((name, ParseExpression()));
            }
            else positional.Add(ParseExpression());
            if (!Accept(",")) { Expect(")"); break; }
        }
        return new Arguments(positional, named);
    }

    // ---- token helpers ----

    void Begin(Segment seg)
    {
        tokens = seg.Tokens;
        at = 0;
    }

    Token Current => tokens[at];
    Token Peek(int k) => tokens[System.Math.Min(at + k, tokens.Count - 1)];
    Token Next() => Current.Kind == TokenKind.End ? throw Error(Current.Line, "unexpected end of tag") : tokens[at++];

    bool Accept(string op)
    {
        if (Current.Kind != TokenKind.Operator || Current.Text != op) return false;
        at++;
        return true;
    }

    bool AcceptName(string name)
    {
        if (Current.Kind != TokenKind.Name || Current.Text != name) return false;
        at++;
        return true;
    }

    void Expect(string op)
    {
        if (!Accept(op)) throw Error(Current.Line, $"expected '{op}', found {Current}");
    }

    string ExpectName() => Current.Kind == TokenKind.Name ? Next().Text : throw Error(Current.Line, $"expected a name, found {Current}");

    void ExpectEnd()
    {
        if (Current.Kind != TokenKind.End) throw Error(Current.Line, $"unexpected {Current}");
    }

    TemplateException Error(int line, string message) => new($"{origin}:{line}: {message}");
}
