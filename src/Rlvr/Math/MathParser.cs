using System.Numerics;

namespace Rlvr.Math;

/// <summary>
/// Recursive-descent parser from a normalized answer (LaTeX or plain math) to a <see cref="MathNode"/>.
/// Precedence, loosest first: answer list (",", ";", "and", "or") &gt; relation (= &lt; \le \in ...)
/// &gt; set operation (\cup) &gt; ratio (:) &gt; sum (+ - \pm) &gt; product (\cdot / implicit) &gt; unary minus
/// &gt; power &gt; postfix (! %) &gt; atom. Nesting depth and token count are capped so that any input
/// parses in bounded time and stack.
/// </summary>
public sealed class MathParser
{
    /// <summary>Longest answer (in tokens) that is parsed; longer ones are compared as strings.</summary>
    public const int MaxTokens = 800;
    const int MaxDepth = 80;

    readonly List<Token> tokens;
    int pos;
    int depth;
    int absDepth;
    /// <summary>Index letters of the \sum / \prod being parsed: inside them i and e are the index, not constants.</summary>
    readonly HashSet<string> indices = [];

    sealed class ParseFailure(string message) : Exception(message);

    MathParser(List<Token> tokens) => this.tokens = tokens;

    /// <summary>Parses an answer that has gone through <see cref="LatexNormalizer.Normalize"/>; null when it is not math this parser reads.</summary>
    public static MathNode? Parse(string normalized)
    {
        var tokens = MathLexer.Tokenize(normalized);
        if (tokens.Count > MaxTokens || tokens.Count <= 1) return null;
        if (IsTextAnswer(tokens)) return new TextNode(TextOf(tokens));
        try { return new MathParser(tokens).ParseAnswer(); }
        catch (ParseFailure) { return null; }
    }

    // ---------- text answers ----------

    /// <summary>Words between answers: "and", "or", ", and" (commas and spaces ignored).</summary>
    static bool IsSeparatorWord(string text)
    {
        var w = string.Concat(text.Where(char.IsAsciiLetter)).ToLowerInvariant();
        return w is "" or "and" or "or" or "andalso" or "orelse";
    }

    static bool IsTextAnswer(List<Token> tokens)
    {
        bool hasWords = false;
        foreach (var t in tokens)
        {
            switch (t.Kind)
            {
                case TokenKind.Text: hasWords = true; break;
                case TokenKind.Word:
                    if (MathLexer.Functions.Contains(t.Text) || t.Text is "pi" or "inf" or "infinity" or "oo") return false;
                    if (!IsSeparatorWord(t.Text)) hasWords = true;
                    break;
                case TokenKind.Letter: case TokenKind.End: case TokenKind.Unknown: break;
                case TokenKind.Op when t.Text is "," or "(" or ")" or ";" or ":" or "'" or "-" or "&": break;
                default: return false;
            }
        }
        return hasWords;
    }

    static string TextOf(List<Token> tokens) =>
        string.Join(" ", tokens.Where(t => t.Kind != TokenKind.End).Select(t => t.Text)).Trim();

    // ---------- helpers ----------

    Token Peek => tokens[pos];
    Token PeekAt(int k) => tokens[System.Math.Min(pos + k, tokens.Count - 1)];
    Token Next() => tokens[pos < tokens.Count - 1 ? pos++ : pos];
    static ParseFailure Fail(string why) => new(why);

    void Expect(TokenKind kind, string text)
    {
        var t = Next();
        if (t.Kind != kind || t.Text != text) throw Fail($"expected {text}, found {t.Text}");
    }

    bool AcceptOp(string op)
    {
        if (!Peek.IsOp(op)) return false;
        pos++;
        return true;
    }

    bool AcceptWord(string word)
    {
        if (Peek.Kind != TokenKind.Word || !Peek.Text.Equals(word, StringComparison.OrdinalIgnoreCase)) return false;
        pos++;
        return true;
    }

    bool AcceptCommand(string name)
    {
        if (!Peek.Is(TokenKind.Command, name)) return false;
        pos++;
        return true;
    }

    void Enter()
    {
        if (++depth > MaxDepth) throw Fail("nesting too deep");
    }

    // ---------- grammar ----------

    MathNode ParseAnswer()
    {
        var items = new List<MathNode>();
        // "\text{The answer is } 5": text before the answer is dropped, plain words are not ("March 5" is not 5).
        while (true)
        {
            if (Peek.Kind == TokenKind.Text) pos++;
            else if (!AcceptSeparator()) break;
        }
        // "= 5", "\approx 8.24": a relation sign left over from the sentence the answer was cut from.
        if (Peek.IsOp("=") || Peek.Is(TokenKind.Command, "approx")) pos++;
        bool joinedByAnd = false;
        while (Peek.Kind != TokenKind.End)
        {
            var item = ParseRelation();
            // "x \ge 1 and x \le 3": two bounds on one variable joined by "and" are one set, their intersection.
            if (joinedByAnd && items.Count > 0 && IsBoundOnOneVariable(items[^1]) && IsBoundOnOneVariable(item) && SameVariables(items[^1], item))
                items[^1] = new SetOpNode(SetOpKind.Intersection, [items[^1], item]);
            else items.Add(item);
            SkipAnnotations();
            if (Peek.Kind == TokenKind.End) break;
            joinedByAnd = false;
            int separators = 0;
            while (true)
            {
                bool and = IsAnd(Peek);
                if (!AcceptSeparator()) break;
                joinedByAnd |= and;
                separators++;
            }
            if (separators == 0) throw Fail($"unexpected {Peek.Text}");
            SkipAnnotations();
        }
        if (items.Count == 0) throw Fail("empty");
        return items.Count == 1 ? items[0] : new AnswerListNode(items);
    }

    static bool IsAnd(Token t) => t.Kind is TokenKind.Word or TokenKind.Text && string.Concat(t.Text.Where(char.IsAsciiLetter)).Equals("and", StringComparison.OrdinalIgnoreCase);

    static bool IsBoundOnOneVariable(MathNode n)
    {
        if (n is not RelationNode r || r.Ops.Any(o => o is not (RelOp.Lt or RelOp.Le or RelOp.Gt or RelOp.Ge))) return false;
        var vars = new HashSet<string>();
        TreeFacts.CollectSymbols(r, vars);
        return vars.Count == 1;
    }

    static bool SameVariables(MathNode a, MathNode b)
    {
        var (va, vb) = (new HashSet<string>(), new HashSet<string>());
        TreeFacts.CollectSymbols(a, va);
        TreeFacts.CollectSymbols(b, vb);
        return va.SetEquals(vb);
    }

    bool AcceptSeparator()
    {
        var t = Peek;
        if ((t.Kind == TokenKind.Op && t.Text is "," or ";" or "\\\\")
            || (t.Kind is TokenKind.Word or TokenKind.Text && IsSeparatorWord(t.Text)))
        {
            pos++;
            return true;
        }
        return false;
    }

    /// <summary>Units and words around an answer ("5 \text{ cm}^2", "12 apples", "3 \pmod{7}"): not part of the value.</summary>
    void SkipAnnotations()
    {
        while (true)
        {
            var t = Peek;
            bool isWord = (t.Kind == TokenKind.Text || (t.Kind == TokenKind.Word && !IsMathWord(t.Text)))
                          && !IsSeparatorWord(t.Text);
            if (isWord)
            {
                pos++;
                // cm^2, \text{ units}^3
                if (Peek.IsOp("^") && PeekAt(1).Kind == TokenKind.Number) pos += 2;
                else if (Peek.IsOp("^") && PeekAt(1).IsOp("{") && PeekAt(2).Kind == TokenKind.Number && PeekAt(3).IsOp("}")) pos += 4;
                continue;
            }
            if (t.Kind == TokenKind.Command && t.Text is "pmod" or "bmod" or "mod")
            {
                // "3 \pmod{7}": the residue is the answer.
                pos++;
                if (Peek.IsOp("{")) SkipGroup();
                else if (Peek.Kind is TokenKind.Number or TokenKind.Letter) pos++;
                continue;
            }
            return;
        }
    }

    void SkipGroup()
    {
        int level = 0;
        do
        {
            var t = Next();
            if (t.Kind == TokenKind.End) return;
            if (t.IsOp("{")) level++;
            else if (t.IsOp("}")) level--;
        } while (level > 0);
    }

    static bool IsMathWord(string w) => MathLexer.Functions.Contains(w) || w is "pi" or "inf" or "infinity" or "oo" || Scales.ContainsKey(w.ToLowerInvariant());

    /// <summary>"3 million" is 3,000,000, not 3 with a unit.</summary>
    static readonly Dictionary<string, int> Scales = new() { ["hundred"] = 2, ["thousand"] = 3, ["million"] = 6, ["billion"] = 9, ["trillion"] = 12 };

    MathNode ParseRelation()
    {
        Enter();
        var first = ParseSetExpression();
        List<MathNode>? operands = null;
        List<RelOp>? ops = null;
        while (TryRelOp(out var op))
        {
            operands ??= [first];
            ops ??= [];
            ops.Add(op);
            operands.Add(ParseSetExpression());
        }
        depth--;
        return operands is null ? first : new RelationNode(operands, ops!);
    }

    bool TryRelOp(out RelOp op)
    {
        var t = Peek;
        RelOp? r = t.Kind switch
        {
            TokenKind.Op => t.Text switch
            {
                "=" => RelOp.Eq, "<" => RelOp.Lt, ">" => RelOp.Gt, "<=" => RelOp.Le, ">=" => RelOp.Ge, "!=" => RelOp.Ne, _ => null,
            },
            TokenKind.Command => t.Text switch
            {
                "le" or "leq" or "leqslant" or "leqq" => RelOp.Le,
                "ge" or "geq" or "geqslant" or "geqq" => RelOp.Ge,
                "lt" => RelOp.Lt, "gt" => RelOp.Gt,
                "ne" or "neq" => RelOp.Ne,
                "in" => RelOp.In,
                "approx" or "simeq" or "cong" => RelOp.Approx,
                "equiv" => RelOp.Eq,
                _ => null,
            },
            _ => null,
        };
        op = r ?? RelOp.Eq;
        if (r is null) return false;
        pos++;
        return true;
    }

    MathNode ParseSetExpression()
    {
        var left = ParseRatio();
        while (true)
        {
            SetOpKind? kind = Peek.Kind == TokenKind.Command ? Peek.Text switch
            {
                "cup" => SetOpKind.Union, "cap" => SetOpKind.Intersection, "setminus" or "backslash" => SetOpKind.Difference, _ => null,
            } : Peek.Is(TokenKind.Letter, "U") && PeekAt(1).Kind == TokenKind.Op && PeekAt(1).Text is "(" or "[" ? SetOpKind.Union : null;
            if (kind is null) return left;
            pos++;
            var right = ParseRatio();
            left = left is SetOpNode s && s.Kind == kind ? new SetOpNode(kind.Value, [.. s.Items, right]) : new SetOpNode(kind.Value, [left, right]);
        }
    }

    /// <summary>A ratio a : b (or a : b : c), kept as the function "ratio"; also clock times such as 4:30.</summary>
    MathNode ParseRatio()
    {
        var first = ParseAdditive();
        if (!Peek.IsOp(":")) return first;
        var parts = new List<MathNode> { first };
        while (AcceptOp(":")) parts.Add(ParseAdditive());
        return new FuncNode("ratio", parts);
    }

    MathNode ParseAdditive()
    {
        Enter();
        var terms = new List<MathNode>();
        if (Peek.Kind == TokenKind.Command && Peek.Text is "pm" or "mp")
        {
            pos++;
            terms.Add(new PlusMinusNode(new NumberNode(BigRational.Zero, false, "0"), ParseTerm()));
        }
        else terms.Add(ParseTerm());
        while (true)
        {
            if (AcceptOp("+")) terms.Add(ParseTerm());
            else if (AcceptOp("-")) terms.Add(new NegNode(ParseTerm()));
            else if (Peek.Kind == TokenKind.Command && Peek.Text is "pm" or "mp")
            {
                pos++;
                var a = terms.Count == 1 ? terms[0] : new SumNode(terms.ToList());
                terms = [new PlusMinusNode(a, ParseTerm())];
            }
            else break;
        }
        depth--;
        return terms.Count == 1 ? terms[0] : new SumNode(terms);
    }

    MathNode ParseTerm()
    {
        var factors = new List<MathNode> { ParseFactor() };
        while (true)
        {
            var t = Peek;
            if (t.IsOp("*") || (t.Kind == TokenKind.Command && t.Text is "cdot" or "times" or "ast" or "bullet"))
            {
                pos++;
                factors.Add(ParseFactor());
            }
            else if (t.IsOp("/") || t.Is(TokenKind.Command, "div") || t.Is(TokenKind.Command, "over"))
            {
                pos++;
                var d = ParseFactor();
                factors = [new DivNode(Product(factors), d)];
            }
            else if (StartsImplicitFactor(t))
            {
                bool frac = t.Is(TokenKind.Command, "frac");
                var f = ParsePower();
                // 2\frac{1}{2} is the mixed number 5/2 when the fraction is proper and the whole part an integer literal.
                if (frac && factors.Count == 1 && MixedNumber(factors[0], f) is { } mixed)
                {
                    factors[0] = mixed;
                    continue;
                }
                factors.Add(f);
            }
            else break;
        }
        return Product(factors);
    }

    /// <summary>The mixed number whole + n/d, when whole is an integer literal (or its negation) and n/d a proper fraction of literals.</summary>
    static MathNode? MixedNumber(MathNode whole, MathNode fraction)
    {
        bool negative = whole is NegNode;
        if (negative) whole = ((NegNode)whole).X;
        if (whole is not NumberNode { IsDecimal: false } w
            || fraction is not DivNode { A: NumberNode { IsDecimal: false } n, B: NumberNode { IsDecimal: false } d }
            || n.Value.Sign <= 0 || n.Value.CompareTo(d.Value) >= 0
            || (n.Value / d.Value) is not { } part || (w.Value + part) is not { } value)
            return null;
        MathNode r = new NumberNode(value, false, $"{w.Text} {n.Text}/{d.Text}");
        return negative ? new NegNode(r) : r;
    }

    static MathNode Product(List<MathNode> factors) => factors.Count == 1 ? factors[0] : new ProductNode(factors);

    bool StartsImplicitFactor(Token t) => t.Kind switch
    {
        TokenKind.Number or TokenKind.BaseNumber or TokenKind.Letter or TokenKind.BeginEnv => true,
        TokenKind.Word => IsMathWord(t.Text),
        TokenKind.Command => !NotAtoms.Contains(t.Text) || t.Text is "frac" or "sqrt" or "binom" or "sum" or "prod",
        TokenKind.Op => t.Text is "(" or "{" || (t.Text is "|" or "||" && absDepth == 0),
        _ => false,
    };

    MathNode ParseFactor()
    {
        Enter();
        MathNode r;
        if (AcceptOp("-")) r = new NegNode(ParseFactor());
        else if (AcceptOp("+")) r = ParseFactor();
        else if (Peek.Kind == TokenKind.Command && Peek.Text is "pm" or "mp")
        {
            pos++;
            r = new PlusMinusNode(new NumberNode(BigRational.Zero, false, "0"), ParseFactor());
        }
        else r = ParsePower();
        depth--;
        return r;
    }

    MathNode ParsePower()
    {
        var b = ParsePostfix(ParseAtom());
        if (AcceptOp("^"))
        {
            b = new PowNode(b, ParseExponent());
            b = ParsePostfix(b);
        }
        return b;
    }

    MathNode ParseExponent()
    {
        Enter();
        MathNode e;
        if (AcceptOp("{"))
        {
            e = ParseAdditive();
            Expect(TokenKind.Op, "}");
        }
        else if (AcceptOp("-")) e = new NegNode(ParseExponent());
        else if (AcceptOp("+")) e = ParseExponent();
        else
        {
            e = ParseAtom();
            if (AcceptOp("^")) e = new PowNode(e, ParseExponent());
        }
        depth--;
        return e;
    }

    MathNode ParsePostfix(MathNode node)
    {
        while (true)
        {
            if (AcceptOp("!")) node = new FuncNode("factorial", [node]);
            else if (AcceptOp("%") || AcceptWord("percent") || AcceptWord("pct")) node = new PercentNode(node);
            else if (AcceptCommand("degree")) node = new FuncNode("degrees", [node]);
            else if (Peek.IsOp("'") && node is SymbolNode s) { pos++; node = new SymbolNode(s.Name + "'"); }
            else return node;
        }
    }

    static readonly HashSet<string> Greek =
    [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "omicron", "rho", "varrho", "sigma", "varsigma", "tau", "upsilon", "phi", "varphi", "chi",
        "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega", "ell",
    ];

    MathNode ParseAtom()
    {
        Enter();
        var t = Next();
        MathNode r = t.Kind switch
        {
            TokenKind.Number => ParseNumber(t.Text),
            TokenKind.BaseNumber => new BaseNumberNode(t.Text, t.Base),
            TokenKind.Letter => ParseLetter(t.Text),
            TokenKind.Word => ParseWord(t.Text),
            TokenKind.Command => ParseCommand(t.Text),
            TokenKind.BeginEnv => ParseEnvironment(t.Text),
            TokenKind.Op => t.Text switch
            {
                "(" => ParseBracket('('),
                "[" => ParseBracket('['),
                "\\{" => ParseSet("\\}"),
                "{" => ParseBraceGroup(),
                "|" or "||" => ParseAbs(t.Text),
                _ => throw Fail($"unexpected {t.Text}"),
            },
            _ => throw Fail($"unexpected {t.Text}"),
        };
        depth--;
        return r;
    }

    MathNode ParseNumber(string text)
    {
        // 0.\overline{3}, 1.2\overline{34}: repeating decimals.
        if (text.Contains('.') && Peek.Is(TokenKind.Command, "overline") && PeekAt(1).IsOp("{") && PeekAt(2).Kind == TokenKind.Number && PeekAt(3).IsOp("}")
            && PeekAt(2).Text.All(char.IsAsciiDigit))
        {
            var repeat = PeekAt(2).Text;
            pos += 4;
            var head = text.TrimEnd('.');
            int decimals = text.Length - text.IndexOf('.') - 1;
            var whole = BigRational.ParseDecimal(head.Length == 0 ? "0" : head) ?? throw Fail("bad number");
            var rep = BigRational.Create(BigInteger.Parse(repeat), (BigInteger.Pow(10, repeat.Length) - 1) * BigInteger.Pow(10, decimals))
                      ?? throw Fail("bad number");
            var v = whole + rep ?? throw Fail("bad number");
            return new NumberNode(v, false, text + "(" + repeat + ")");
        }
        var value = BigRational.ParseDecimal(text) ?? throw Fail($"bad number {text}");
        bool isDecimal = text.Contains('.') || text.Contains('e') || text.Contains('E');
        return new NumberNode(value, isDecimal, text);
    }

    MathNode ParseLetter(string letter)
    {
        if (Peek.IsOp("_"))
        {
            pos++;
            return new SymbolNode(letter + "_" + ParseSubscriptText());
        }
        if (FunctionLetters.Contains(letter) && FunctionApplication() is { } args) return new SymbolNode($"{letter}({args})");
        if (indices.Contains(letter)) return new SymbolNode(letter);
        return letter switch
        {
            "e" => new ConstantNode(Constant.E),
            "i" => new ConstantNode(Constant.I),
            _ => new SymbolNode(letter),
        };
    }

    /// <summary>Letters that name functions in contest answers: f(2) is a value of f, not f times 2.</summary>
    static readonly HashSet<string> FunctionLetters = ["f", "g", "h", "p", "q", "F", "G", "H", "P", "Q"];

    /// <summary>"(2)", "(x)", "(-1, y)" right after a function letter: consumed and returned as text; null (nothing consumed) otherwise.</summary>
    string? FunctionApplication()
    {
        if (!Peek.IsOp("(")) return null;
        var parts = new List<string>();
        int k = 1;
        while (true)
        {
            string sign = "";
            if (PeekAt(k).IsOp("-")) { sign = "-"; k++; }
            var t = PeekAt(k);
            if (t.Kind is not (TokenKind.Number or TokenKind.Letter)) return null;
            parts.Add(sign + t.Text);
            var next = PeekAt(k + 1);
            k += 2;
            if (next.IsOp(")")) break;
            if (!next.IsOp(",")) return null;
        }
        pos += k;
        return string.Join(",", parts);
    }

    /// <summary>The subscript of a variable as text: a_1, a_{n+1}, x_{10}.</summary>
    string ParseSubscriptText()
    {
        if (Peek.IsOp("{"))
        {
            int start = pos + 1;
            SkipGroup();
            return MathLexer.Join(tokens.Skip(start).Take(pos - 1 - start));
        }
        var t = Next();
        if (t.Kind is TokenKind.End) throw Fail("empty subscript");
        return MathLexer.Join([t]);
    }

    MathNode ParseWord(string w)
    {
        if (Scales.TryGetValue(w.ToLowerInvariant(), out int zeros))
            return new NumberNode(BigRational.FromInteger(System.Numerics.BigInteger.Pow(10, zeros)), false, w);
        if (w == "pi") return new ConstantNode(Constant.Pi);
        if (w is "inf" or "infinity" or "oo") return new ConstantNode(Constant.Infinity);
        if (MathLexer.Functions.Contains(w)) return ParseFunction(w);
        throw Fail($"word {w}");
    }

    MathNode ParseCommand(string name)
    {
        switch (name)
        {
            case "frac":
            {
                var a = ParseArgument();
                var b = ParseArgument();
                return new DivNode(a, b);
            }
            case "sqrt":
            {
                MathNode? index = null;
                if (AcceptOp("["))
                {
                    index = ParseAdditive();
                    Expect(TokenKind.Op, "]");
                }
                var x = ParseArgument();
                return new FuncNode("sqrt", index is null ? [x] : [x, index]);
            }
            case "binom":
            {
                var n = ParseArgument();
                var k = ParseArgument();
                return new FuncNode("binom", [n, k]);
            }
            case "sum" or "prod": return ParseBigOperator(name);
            case "pi": return new ConstantNode(Constant.Pi);
            case "infty" or "infin" or "infinity": return new ConstantNode(Constant.Infinity);
            case "emptyset" or "varnothing": return new SetNode([]);
            case "lfloor": return Delimited("floor", "rfloor");
            case "lceil": return Delimited("ceil", "rceil");
            case "langle":
            {
                var items = ParseItems();
                if (!AcceptCommand("rangle")) throw Fail("missing \\rangle");
                return new TupleNode(items, Parenthesized: false);
            }
        }
        if (name == "mathbb:R") return new IntervalNode(new NegNode(new ConstantNode(Constant.Infinity)), new ConstantNode(Constant.Infinity), false, false);
        if (name.StartsWith("mathbb:", StringComparison.Ordinal)) return new SymbolNode("\\mathbb{" + name[7..] + "}");
        if (Greek.Contains(name))
        {
            var sym = "\\" + name;
            if (AcceptOp("_")) sym += "_" + ParseSubscriptText();
            return new SymbolNode(sym);
        }
        if (MathLexer.Functions.Contains(name) || name is "arg") return ParseFunction(name);
        if (Accents.Contains(name))
        {
            // \overline{CD}, \vec{v}: a named object, compared by its name.
            int start = pos;
            if (Peek.IsOp("{")) SkipGroup(); else Next();
            return new SymbolNode("\\" + name + "{" + MathLexer.Join(tokens.Skip(start).Take(pos - start)).Trim('{', '}') + "}");
        }
        if (NotAtoms.Contains(name)) throw Fail($"unexpected \\{name}");
        // \triangle, \angle, \ldots, \heartsuit: a symbol without arguments.
        return new SymbolNode("\\" + name);
    }

    /// <summary>\sum_{k=1}^{n} body, \prod_{k=1}^{10} body: the function sum (or prod) of (body, k, 1, n). The body is the product that follows.</summary>
    MathNode ParseBigOperator(string name)
    {
        Expect(TokenKind.Op, "_");
        Expect(TokenKind.Op, "{");
        var start = ParseRelation();
        Expect(TokenKind.Op, "}");
        if (start is not RelationNode { Ops: [RelOp.Eq], Operands: [var index, var lo] }) throw Fail("\\" + name + " without an index");
        var letter = index switch
        {
            SymbolNode s => s.Name,
            ConstantNode { Kind: Constant.I } => "i",
            ConstantNode { Kind: Constant.E } => "e",
            _ => throw Fail("\\" + name + " without an index"),
        };
        Expect(TokenKind.Op, "^");
        var hi = ParseExponent();
        bool added = indices.Add(letter);
        var body = ParseTerm();
        if (added) indices.Remove(letter);
        return new FuncNode(name, [body, new SymbolNode(letter), lo, hi]);
    }

    static readonly HashSet<string> Accents =
        ["overline", "bar", "hat", "widehat", "vec", "tilde", "widetilde", "dot", "ddot", "underline", "overrightarrow", "overleftrightarrow", "mathring", "check", "breve"];

    /// <summary>Commands that are operators, relations or delimiters: never an atom on their own.</summary>
    static readonly HashSet<string> NotAtoms =
    [
        "cdot", "times", "div", "ast", "pm", "mp", "le", "leq", "ge", "geq", "ne", "neq", "lt", "gt", "in", "notin", "approx", "equiv",
        "cup", "cap", "setminus", "rfloor", "rceil", "rangle", "right", "left", "over", "choose", "to", "mid",
        "quad", "qquad", "colon", "subset", "subseteq", "supset", "implies", "iff", "Rightarrow", "rightarrow", "Leftrightarrow",
        "sum", "prod", "int", "lim", "frac", "sqrt", "binom", "begin", "end", "pmod", "bmod", "mod", "hline", "degree",
    ];

    MathNode Delimited(string func, string close)
    {
        var inner = ParseAdditive();
        if (!AcceptCommand(close)) throw Fail($"missing \\{close}");
        return new FuncNode(func, [inner]);
    }

    /// <summary>An argument of \frac, \sqrt, \binom: a {group}, or a single token (\frac12 is 1/2, \sqrt2x is sqrt(2)*x).</summary>
    MathNode ParseArgument()
    {
        var t = Peek;
        if (t.IsOp("{"))
        {
            pos++;
            var e = ParseAdditive();
            Expect(TokenKind.Op, "}");
            return e;
        }
        if (t.Kind == TokenKind.Number && t.Text.Length > 1 && char.IsAsciiDigit(t.Text[0]) && char.IsAsciiDigit(t.Text[1]))
        {
            tokens[pos] = t with { Text = t.Text[1..] };
            return ParseNumber(t.Text[..1]);
        }
        if (t.Kind is TokenKind.Number or TokenKind.Letter or TokenKind.Command) return ParseAtom();
        throw Fail("missing argument");
    }

    static readonly Dictionary<string, string> FunctionAliases = new()
    {
        ["asin"] = "arcsin", ["acos"] = "arccos", ["atan"] = "arctan", ["lg"] = "log10",
    };

    static readonly HashSet<string> Trig = ["sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh"];

    MathNode ParseFunction(string name)
    {
        Enter();
        name = FunctionAliases.GetValueOrDefault(name, name);
        MathNode? power = null;
        if (AcceptOp("^")) power = ParseExponent();
        MathNode? logBase = null;
        if (name == "log" && AcceptOp("_"))
        {
            if (AcceptOp("{"))
            {
                logBase = ParseAdditive();
                Expect(TokenKind.Op, "}");
            }
            else logBase = ParseAtom();
        }
        if (power is null && AcceptOp("^")) power = ParseExponent();
        var args = ParseFunctionArguments();
        if (logBase is not null) args.Add(logBase);
        MathNode node = new FuncNode(name, args);
        if (power is not null)
        {
            // \sin^{-1} x is arcsin x; \sin^2 x is (sin x)^2.
            bool inverse = power is NegNode { X: NumberNode { Text: "1" } };
            if (inverse && Trig.Contains(name) && !name.EndsWith('h')) node = new FuncNode("arc" + name, args);
            else node = new PowNode(node, power);
        }
        depth--;
        return node;
    }

    List<MathNode> ParseFunctionArguments()
    {
        if (AcceptOp("("))
        {
            var items = ParseItems();
            Expect(TokenKind.Op, ")");
            if (items.Count == 0) throw Fail("empty arguments");
            return items;
        }
        if (AcceptOp("{"))
        {
            var e = ParseAdditive();
            Expect(TokenKind.Op, "}");
            return [e];
        }
        // \sin 2x, \ln x: the implicit product that follows, up to an operator or another function.
        var factors = new List<MathNode> { ParseFactor() };
        while (StartsImplicitFactor(Peek) && !StartsFunction(Peek) && !Peek.IsOp("(")) factors.Add(ParsePower());
        return [Product(factors)];
    }

    static bool StartsFunction(Token t) =>
        (t.Kind is TokenKind.Command or TokenKind.Word) && (MathLexer.Functions.Contains(t.Text) || t.Text == "arg");

    List<MathNode> ParseItems()
    {
        var items = new List<MathNode>();
        if (Peek.Kind == TokenKind.Op && Peek.Text is ")" or "]" or "\\}" or "}") return items;
        if (Peek.Is(TokenKind.Command, "rangle")) return items;
        while (true)
        {
            items.Add(ParseRelation());
            if (!AcceptOp(",") && !AcceptOp(";")) return items;
        }
    }

    MathNode ParseBracket(char open)
    {
        var items = ParseItems();
        var close = Next();
        if (close.Kind != TokenKind.Op || close.Text is not (")" or "]")) throw Fail($"unclosed {open}");
        if (items.Count == 0) throw Fail("empty brackets");
        bool sameKind = (open == '(' && close.Text == ")") || (open == '[' && close.Text == "]");
        if (items.Count == 1 && sameKind) return items[0];
        if (items.Count == 2 && (open == '[' || close.Text == "]"))
            return new IntervalNode(items[0], items[1], open == '[', close.Text == "]");
        if (!sameKind) throw Fail("mismatched brackets");
        return new TupleNode(items, Parenthesized: open == '(');
    }

    MathNode ParseSet(string close)
    {
        // \{x \mid x > 0\}: a set-builder set is represented by its condition (compared as a set of reals).
        absDepth++;
        var items = ParseItems();
        absDepth--;
        if (items.Count == 1 && items[0] is SymbolNode && (Peek.IsOp("|") || Peek.Is(TokenKind.Command, "mid")))
        {
            pos++;
            var condition = ParseRelation();
            Expect(TokenKind.Op, close);
            return condition is RelationNode ? condition : throw Fail("set-builder without a condition");
        }
        Expect(TokenKind.Op, close);
        return new SetNode(items);
    }

    MathNode ParseBraceGroup()
    {
        var items = ParseItems();
        Expect(TokenKind.Op, "}");
        if (items.Count == 0) throw Fail("empty group");
        // A LaTeX group is just grouping; a plain-text {1, 2} is a set.
        return items.Count == 1 ? items[0] : new SetNode(items);
    }

    MathNode ParseAbs(string bar)
    {
        absDepth++;
        var inner = ParseAdditive();
        absDepth--;
        Expect(TokenKind.Op, bar);
        return new FuncNode("abs", [inner]);
    }

    static readonly HashSet<string> MatrixEnvironments = ["pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix", "smallmatrix", "array"];

    MathNode ParseEnvironment(string env)
    {
        if (!MatrixEnvironments.Contains(env)) throw Fail($"environment {env}");
        var rows = new List<IReadOnlyList<MathNode>>();
        var row = new List<MathNode>();
        while (true)
        {
            var t = Peek;
            if (t.Kind == TokenKind.End) throw Fail($"unclosed {env}");
            if (t.Kind == TokenKind.EndEnv)
            {
                pos++;
                if (row.Count > 0) rows.Add(row);
                break;
            }
            if (t.IsOp("\\\\"))
            {
                pos++;
                if (row.Count > 0) rows.Add(row);
                row = [];
                continue;
            }
            if (t.Is(TokenKind.Command, "hline")) { pos++; continue; }
            row.Add(ParseRelation());
            if (!AcceptOp("&") && !Peek.IsOp("\\\\") && Peek.Kind != TokenKind.EndEnv) throw Fail("bad matrix cell");
        }
        if (rows.Count == 0 || rows.Any(r => r.Count != rows[0].Count)) throw Fail("ragged matrix");
        return new MatrixNode(rows);
    }
}
