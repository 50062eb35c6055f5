using System.Globalization;
using System.Numerics;
using System.Text;

namespace Rlvr.Math;

internal enum Decision { Equal, Different, Unknown }

internal readonly record struct Verdict(Decision Decision, string Reason)
{
    public static Verdict Equal(string reason) => new(Decision.Equal, reason);
    public static Verdict Different(string reason) => new(Decision.Different, reason);
    public static Verdict Unknown(string reason) => new(Decision.Unknown, reason);
    public bool IsEqual => Decision == Decision.Equal;
}

/// <summary>
/// Decides whether a predicted answer tree is equivalent to the gold one. The rules (docs/verifier.md):
/// rationals exactly; other constants numerically (1e-9 relative); a decimal written by either side
/// is accepted when both agree to 6 decimal places; expressions with variables at random points;
/// equations and inequalities up to a constant factor; sets and answer lists order-free; tuples,
/// intervals and matrices ordered with their ends and shape; <c>x = 3</c> equal to 3; percentages
/// as written or divided by 100 against a value without a percent sign.
/// </summary>
internal sealed class Equivalence
{
    const int MaxLevel = 12;
    const int MaxItems = 64;
    const double ExactTolerance = 1e-9;
    const double PointTolerance = 1e-8;
    int budget = 5000;

    public static Verdict Compare(MathNode gold, MathNode pred) => new Equivalence().Compare(gold, pred, 0);

    Verdict Compare(MathNode g, MathNode p, int level)
    {
        if (level > MaxLevel || --budget < 0) return Verdict.Unknown("comparison too deep");
        g = GroupAssignments(Expand(Unwrap(g)));
        p = GroupAssignments(Expand(Unwrap(p)));
        if (g is not MatrixNode && TreeFacts.Contains<MatrixNode>(g) && MatrixValue(g) is { } gm) g = gm;
        if (p is not MatrixNode && TreeFacts.Contains<MatrixNode>(p) && MatrixValue(p) is { } pm) p = pm;

        if (g is RelationNode gr && p is RelationNode pr) return CompareRelations(gr, pr);
        if (p is RelationNode predRel)
        {
            if (AssignedValue(predRel, prediction: true) is { } v) p = v;
            else if (IsSetLike(g) && InequalityToSet(predRel) is { } set) p = set;
            else return Verdict.Different("the prediction is an equation or inequality, the gold is not");
        }
        if (g is RelationNode goldRel)
        {
            if (AssignedValue(goldRel, prediction: false) is { } v) g = v;
            else if (IsSetLike(p) && InequalityToSet(goldRel) is { } set) g = set;
            else return Verdict.Different("the gold is an equation or inequality, the prediction is not");
        }
        if (g is RelationNode || p is RelationNode) return Compare(g, p, level + 1);

        if (g is TextNode gt && TextAsSet(gt) is { } gs) g = gs;
        if (p is TextNode pt && TextAsSet(pt) is { } ps) p = ps;
        if (g is TextNode || p is TextNode) return CompareText(g, p);
        if (IsIntervalLike(g) || IsIntervalLike(p)) return CompareSets(g, p, level);
        if (IsCollection(g) || IsCollection(p)) return CompareCollections(g, p, level);
        return CompareScalars(g, p);
    }

    /// <summary>A one-item list is its item; <c>x \in S</c> is S.</summary>
    static MathNode Unwrap(MathNode n)
    {
        for (int i = 0; i < 4; i++)
        {
            if (n is AnswerListNode { Items.Count: 1 } l) n = l.Items[0];
            else if (n is RelationNode { Ops.Count: 1 } r && r.Ops[0] == RelOp.In) n = r.Operands[1];
            else break;
        }
        return n;
    }

    // ---------- \pm ----------

    /// <summary>Expands a ± b into the answers a + b and a - b (at most 16 of them).</summary>
    static MathNode Expand(MathNode n)
    {
        if (!TreeFacts.Contains<PlusMinusNode>(n)) return n;
        if (n is AnswerListNode or SetNode)
        {
            var items = n.Children.SelectMany(ExpandAll).ToList();
            return n is SetNode ? new SetNode(items) : new AnswerListNode(items);
        }
        var all = ExpandAll(n);
        return all.Count == 1 ? all[0] : new AnswerListNode(all);
    }

    static List<MathNode> ExpandAll(MathNode n)
    {
        if (!TreeFacts.Contains<PlusMinusNode>(n)) return [n];
        if (n is PlusMinusNode pm)
        {
            var r = new List<MathNode>();
            foreach (var a in ExpandAll(pm.A))
            foreach (var b in ExpandAll(pm.B))
            {
                r.Add(new SumNode([a, b]));
                r.Add(new SumNode([a, new NegNode(b)]));
            }
            return r.Take(16).ToList();
        }
        var children = n.Children.ToList();
        var combos = new List<List<MathNode>> { new() };
        foreach (var c in children)
        {
            var options = ExpandAll(c);
            combos = combos.SelectMany(prefix => options.Select(o => new List<MathNode>(prefix) { o })).Take(16).ToList();
        }
        return combos.Select(c => Rebuild(n, c)).ToList();
    }

    static MathNode Rebuild(MathNode n, List<MathNode> c) => n switch
    {
        SumNode => new SumNode(c),
        NegNode => new NegNode(c[0]),
        ProductNode => new ProductNode(c),
        DivNode => new DivNode(c[0], c[1]),
        PowNode => new PowNode(c[0], c[1]),
        FuncNode f => new FuncNode(f.Name, c),
        PercentNode => new PercentNode(c[0]),
        RelationNode r => new RelationNode(c, r.Ops),
        TupleNode t => new TupleNode(c, t.Parenthesized),
        IntervalNode i => new IntervalNode(c[0], c[1], i.LoClosed, i.HiClosed),
        _ => n,
    };

    // ---------- relations ----------

    /// <summary>
    /// The value an equation assigns: <c>x = 3</c>, <c>f(x) = x^2</c>, <c>3 = x</c>, or a computation
    /// chain of constants <c>1 + 2 = 3</c> gives its last side. <c>7 = 11a + c</c> assigns nothing.
    /// </summary>
    static MathNode? AssignedValue(RelationNode r, bool prediction)
    {
        if (r.Ops.Any(o => o is not (RelOp.Eq or RelOp.Approx))) return null;
        var operands = r.Operands;
        // \frac{\sqrt2}{2} \approx 0.707, x = \sqrt3 \approx 1.732: the exact part, the side before the first \approx.
        int approx = 0;
        while (approx < r.Ops.Count && r.Ops[approx] != RelOp.Approx) approx++;
        if (approx < r.Ops.Count && !IsSymbolLike(operands[approx], prediction)) operands = operands.Take(approx + 1).ToList();
        if (operands.Count == 1) return operands[0];
        var first = operands[0];
        var last = operands[^1];
        if (IsSymbolLike(first, prediction)) return last;
        if (operands.Count == 2 && IsSymbolLike(last, prediction)) return first;
        if (operands.All(o => !TreeFacts.HasSymbols(o))) return last;
        return null;
    }

    /// <summary>
    /// A left-hand side that names what is assigned: x, a_1, f(x), f^{-1}(x), (x, y), m\angle A, AB, and quantities
    /// built from names only: |PQ|, P:Q, \frac{AM}{MC}, [ABC]. Anything with a number (7, 2x, x^2 + 1) is a
    /// condition to solve, not a name. A sum of names (x + y = 15) names a value in a prediction (asked for x + y);
    /// in a gold answer it is an equation (a line).
    /// </summary>
    static bool IsSymbolLike(MathNode n, bool sums = false) => n switch
    {
        SymbolNode => true,
        TupleNode t => t.Items.All(i => i is SymbolNode),
        PowNode { Base: SymbolNode } p => p.Exp is NegNode { X: NumberNode { Text: "1" } },
        ProductNode p => p.Factors.All(f => IsSymbolLike(f, sums)),
        FuncNode { Name: "abs" or "ratio" } f => f.Args.All(a => IsSymbolLike(a, sums)),
        DivNode d => IsSymbolLike(d.A, sums) && IsSymbolLike(d.B, sums),
        SumNode s => sums && s.Terms.All(t => IsSymbolLike(t is NegNode neg ? neg.X : t, sums)),
        _ => false,
    };

    /// <summary>
    /// m=3, n=1; m=5, n=1: assignments that give the same names values in turn are one tuple per turn,
    /// (3, 1), (5, 1). A single turn (x=1, y=2) is left to the tuple rule.
    /// </summary>
    static MathNode GroupAssignments(MathNode n)
    {
        if (n is not AnswerListNode { Items.Count: >= 4 } l) return n;
        var names = new List<string>(l.Items.Count);
        foreach (var item in l.Items)
        {
            if (item is not RelationNode { Ops: [RelOp.Eq], Operands: [SymbolNode name, _] }) return n;
            names.Add(name.Name);
        }
        int k = names.IndexOf(names[0], 1);
        if (k < 2 || names.Count % k != 0 || names.Take(k).Distinct().Count() != k) return n;
        for (int i = k; i < names.Count; i++) if (names[i] != names[i % k]) return n;
        var tuples = l.Items.Chunk(k).Select(turn => (MathNode)new TupleNode(turn.Select(a => ((RelationNode)a).Operands[1]).ToList(), true));
        return new AnswerListNode(tuples.ToList());
    }

    // ---------- matrix arithmetic ----------

    const int MaxMatrixSide = 8;

    /// <summary>A sum, difference, scalar multiple, quotient by a scalar or product of explicit matrices, as one matrix of entry trees; null otherwise.</summary>
    static MatrixNode? MatrixValue(MathNode n)
    {
        switch (n)
        {
            case MatrixNode m:
                return m.Rows.Count <= MaxMatrixSide && m.Rows[0].Count <= MaxMatrixSide ? m : null;
            case NegNode neg:
                return MatrixValue(neg.X) is { } negated ? Map(negated, e => new NegNode(e)) : null;
            case DivNode d when !TreeFacts.Contains<MatrixNode>(d.B):
                return MatrixValue(d.A) is { } a ? Map(a, e => new DivNode(e, d.B)) : null;
            case SumNode s:
            {
                MatrixNode? acc = null;
                foreach (var t in s.Terms)
                {
                    if (MatrixValue(t) is not { } m) return null;
                    if (acc is null) { acc = m; continue; }
                    if (m.Rows.Count != acc.Rows.Count || m.Rows[0].Count != acc.Rows[0].Count) return null;
                    var sum = acc;
                    acc = new MatrixNode(sum.Rows.Select((row, i) => (IReadOnlyList<MathNode>)row.Select((e, j) => (MathNode)new SumNode([e, m.Rows[i][j]])).ToList()).ToList());
                }
                return acc;
            }
            case ProductNode p:
            {
                // Left to right: scalars scale, matrices multiply in the order written (AB is not BA).
                MathNode acc = p.Factors[0];
                foreach (var f in p.Factors.Skip(1))
                {
                    bool accMatrix = TreeFacts.Contains<MatrixNode>(acc), fMatrix = TreeFacts.Contains<MatrixNode>(f);
                    if (!accMatrix && !fMatrix) acc = new ProductNode([acc, f]);
                    else if (!accMatrix) acc = MatrixValue(f) is { } fm ? Map(fm, e => new ProductNode([acc, e])) : null!;
                    else if (!fMatrix) acc = MatrixValue(acc) is { } am ? Map(am, e => new ProductNode([e, f])) : null!;
                    else acc = MatrixValue(acc) is { } left && MatrixValue(f) is { } right ? Multiply(left, right)! : null!;
                    if (acc is null) return null;
                }
                return acc as MatrixNode;
            }
            default:
                return null;
        }
    }

    static MatrixNode Map(MatrixNode m, Func<MathNode, MathNode> f) =>
        new(m.Rows.Select(row => (IReadOnlyList<MathNode>)row.Select(f).ToList()).ToList());

    static MatrixNode? Multiply(MatrixNode a, MatrixNode b)
    {
        int n = a.Rows.Count, inner = a.Rows[0].Count, m = b.Rows[0].Count;
        if (inner != b.Rows.Count) return null;
        var rows = new List<IReadOnlyList<MathNode>>(n);
        for (int i = 0; i < n; i++)
        {
            var row = new List<MathNode>(m);
            for (int j = 0; j < m; j++)
                row.Add(new SumNode(Enumerable.Range(0, inner).Select(k => (MathNode)new ProductNode([a.Rows[i][k], b.Rows[k][j]])).ToList()));
            rows.Add(row);
        }
        return new MatrixNode(rows);
    }

    Verdict CompareRelations(RelationNode g, RelationNode p)
    {
        var v = CompareRelationsAlgebraically(g, p);
        if (v.IsEqual) return v;
        // -3 < x < 3 against |x| < 3: inequalities in the same one variable that describe the same set.
        var (gv, pv) = (new HashSet<string>(), new HashSet<string>());
        TreeFacts.CollectSymbols(g, gv);
        TreeFacts.CollectSymbols(p, pv);
        if (gv.SetEquals(pv) && InequalityToSet(g) is { } gs && InequalityToSet(p) is { } ps && CompareSets(gs, ps, MaxLevel - 2) is { IsEqual: true } sets)
            return Verdict.Equal("the same set: " + sets.Reason);
        return v;
    }

    Verdict CompareRelationsAlgebraically(RelationNode g, RelationNode p)
    {
        var gs = Normalize(g);
        var ps = Normalize(p);
        if (gs is null || ps is null)
        {
            // x \in S chains and the like: compare operand by operand.
            return g.Ops.SequenceEqual(p.Ops) && g.Operands.Count == p.Operands.Count
                   && g.Operands.Zip(p.Operands).All(t => Compare(t.First, t.Second, MaxLevel - 1).IsEqual)
                ? Verdict.Equal("same relation, equal sides") : Verdict.Different("different relations");
        }
        if (gs.Count != ps.Count) return Verdict.Different("different number of relations");
        if (!g.Operands.Any(TreeFacts.HasSymbols) && !p.Operands.Any(TreeFacts.HasSymbols))
        {
            // Statements about numbers (2/3 ~ 0.67): the same numbers in the same relations, read either way round.
            bool Same(IReadOnlyList<MathNode> a, IReadOnlyList<MathNode> b) => a.Zip(b).All(t => Compare(t.First, t.Second, MaxLevel - 1).IsEqual);
            if (g.Ops.SequenceEqual(p.Ops) && Same(g.Operands, p.Operands)) return Verdict.Equal("the same statement about numbers");
            if (g.Ops.SequenceEqual(p.Ops.Reverse().Select(Flip)) && Same(g.Operands, p.Operands.Reverse().ToList()))
                return Verdict.Equal("the same statement about numbers, reversed");
            return Verdict.Different($"different statements about numbers: {g} vs {p}");
        }
        var used = new bool[ps.Count];
        foreach (var (diff, op) in gs)
        {
            int match = -1;
            for (int j = 0; j < ps.Count && match < 0; j++)
                if (!used[j] && ps[j].Op == op && Proportional(diff, ps[j].Diff, positive: op is RelOp.Lt or RelOp.Le).IsEqual) match = j;
            if (match < 0) return Verdict.Different($"relations differ: {g} vs {p}");
            used[match] = true;
        }
        return Verdict.Equal("equivalent relations (same up to a constant factor)");
    }

    /// <summary>Each relation of a chain as (lhs - rhs) op 0 with op in =, !=, &lt;, &lt;=.</summary>
    static List<(MathNode Diff, RelOp Op)>? Normalize(RelationNode r)
    {
        var list = new List<(MathNode, RelOp)>();
        for (int i = 0; i < r.Ops.Count; i++)
        {
            var a = r.Operands[i];
            var b = r.Operands[i + 1];
            switch (r.Ops[i])
            {
                case RelOp.Eq or RelOp.Approx: list.Add((Difference(a, b), RelOp.Eq)); break;
                case RelOp.Ne: list.Add((Difference(a, b), RelOp.Ne)); break;
                case RelOp.Lt: list.Add((Difference(a, b), RelOp.Lt)); break;
                case RelOp.Le: list.Add((Difference(a, b), RelOp.Le)); break;
                case RelOp.Gt: list.Add((Difference(b, a), RelOp.Lt)); break;
                case RelOp.Ge: list.Add((Difference(b, a), RelOp.Le)); break;
                default: return null;
            }
            if (TreeFacts.ContainsInfinity(a) || TreeFacts.ContainsInfinity(b) || !IsScalar(a) || !IsScalar(b)) return null;
        }
        return list;
    }

    static MathNode Difference(MathNode a, MathNode b) => new SumNode([a, new NegNode(b)]);

    static bool IsScalar(MathNode n) => n is not (TupleNode or SetNode or IntervalNode or SetOpNode or MatrixNode or AnswerListNode or TextNode);

    /// <summary>Whether f = c·h for a constant c ≠ 0 (c &gt; 0 when <paramref name="positive"/>), tested at random points.</summary>
    Verdict Proportional(MathNode f, MathNode h, bool positive)
    {
        var vars = Variables(f, h);
        if (vars is null) return Verdict.Unknown("too many variables");
        Complex? ratio = null;
        int valid = 0;
        foreach (var env in Points(vars, TreeFacts.IsDomainSensitive(f) || TreeFacts.IsDomainSensitive(h), 1))
        {
            var a = NumericEvaluator.Evaluate(f, env, out double fa);
            var b = NumericEvaluator.Evaluate(h, env, out double ha);
            if (IsNaN(a) || IsNaN(b)) continue;
            valid++;
            bool aZero = Near(a, 0, fa, PointTolerance), bZero = Near(b, 0, ha, PointTolerance);
            if (aZero || bZero)
            {
                if (aZero != bZero) return Verdict.Different("not proportional");
                continue;
            }
            var r = a / b;
            if (ratio is null) ratio = r;
            else if ((r - ratio.Value).Magnitude > 1e-7 * System.Math.Max(1, ratio.Value.Magnitude)) return Verdict.Different("not proportional");
        }
        if (valid < 2) return Verdict.Unknown("relations could not be evaluated");
        if (ratio is { } c && positive && (System.Math.Abs(c.Imaginary) > 1e-9 || c.Real <= 0)) return Verdict.Different("inequality reversed");
        return Verdict.Equal("proportional");
    }

    // ---------- sets and intervals ----------

    static bool IsIntervalLike(MathNode n) => n is IntervalNode or SetOpNode;

    static bool IsSetLike(MathNode n) =>
        IsIntervalLike(n) || n is SetNode || n is TupleNode { Parenthesized: true, Items.Count: 2 }
        || n is AnswerListNode l && l.Items.All(i => IsSetLike(i) || i is RelationNode);

    /// <summary>A one-variable inequality as a set: x &gt; 3 is (3, oo); 1 &lt;= x &lt; 2 is [1, 2); x != 0 is (-oo, 0) U (0, oo).</summary>
    static MathNode? InequalityToSet(RelationNode r)
    {
        var vars = new HashSet<string>();
        foreach (var o in r.Operands) TreeFacts.CollectSymbols(o, vars);
        if (vars.Count != 1) return null;
        MathNode inf = new ConstantNode(Constant.Infinity), negInf = new NegNode(new ConstantNode(Constant.Infinity));
        if (r.Ops.Count == 1)
        {
            var (a, op, b) = (r.Operands[0], r.Ops[0], r.Operands[1]);
            if (IsVariableOrItsDistance(b) && !IsVariableOrItsDistance(a)) { (a, b) = (b, a); op = Flip(op); }
            if (!IsVariableOrItsDistance(a) || TreeFacts.HasSymbols(b)) return null;
            if (DistanceCentre(a) is { } c)
            {
                // |x - c| < b is (c - b, c + b); |x - c| > b is (-oo, c - b) U (c + b, oo).
                MathNode lo = new SumNode([c, new NegNode(b)]), hi = new SumNode([c, b]);
                return op switch
                {
                    RelOp.Lt or RelOp.Le => new IntervalNode(lo, hi, op == RelOp.Le, op == RelOp.Le),
                    RelOp.Gt or RelOp.Ge => new SetOpNode(SetOpKind.Union,
                        [new IntervalNode(negInf, lo, false, op == RelOp.Ge), new IntervalNode(hi, inf, op == RelOp.Ge, false)]),
                    RelOp.Eq => new SetNode([lo, hi]),
                    _ => null,
                };
            }
            return op switch
            {
                RelOp.Lt => new IntervalNode(negInf, b, false, false),
                RelOp.Le => new IntervalNode(negInf, b, false, true),
                RelOp.Gt => new IntervalNode(b, inf, false, false),
                RelOp.Ge => new IntervalNode(b, inf, true, false),
                RelOp.Eq => new SetNode([b]),
                RelOp.Ne => new SetOpNode(SetOpKind.Union, [new IntervalNode(negInf, b, false, false), new IntervalNode(b, inf, false, false)]),
                _ => null,
            };
        }
        if (r.Ops.Count == 2 && IsVariableOrItsDistance(r.Operands[1]) && !TreeFacts.HasSymbols(r.Operands[0]) && !TreeFacts.HasSymbols(r.Operands[2]))
        {
            var (lo, hi) = (r.Operands[0], r.Operands[2]);
            var (op1, op2) = (r.Ops[0], r.Ops[1]);
            if (op1 is RelOp.Gt or RelOp.Ge && op2 is RelOp.Gt or RelOp.Ge) { (lo, hi) = (hi, lo); (op1, op2) = (Flip(op2), Flip(op1)); }
            if (op1 is not (RelOp.Lt or RelOp.Le) || op2 is not (RelOp.Lt or RelOp.Le)) return null;
            bool loClosed = op1 == RelOp.Le, hiClosed = op2 == RelOp.Le;
            if (DistanceCentre(r.Operands[1]) is not { } c) return new IntervalNode(lo, hi, loClosed, hiClosed);
            // lo <= |x - c| <= hi is [c - hi, c - lo] U [c + lo, c + hi].
            return new SetOpNode(SetOpKind.Union,
            [
                new IntervalNode(new SumNode([c, new NegNode(hi)]), new SumNode([c, new NegNode(lo)]), hiClosed, loClosed),
                new IntervalNode(new SumNode([c, lo]), new SumNode([c, hi]), loClosed, hiClosed),
            ]);
        }
        return null;
    }

    static bool IsVariableOrItsDistance(MathNode n) => n is SymbolNode || DistanceCentre(n) is not null;

    /// <summary>The centre c of |x - c| (|x| is 0, |x + 2| is -2); null for anything else.</summary>
    static MathNode? DistanceCentre(MathNode n)
    {
        if (n is not FuncNode { Name: "abs", Args: [var inner] }) return null;
        if (inner is SymbolNode) return new NumberNode(BigRational.Zero, false, "0");
        if (inner is SumNode { Terms: [SymbolNode, var t] } && !TreeFacts.HasSymbols(t)) return new NegNode(t);
        if (inner is SumNode { Terms: [var u, SymbolNode] } && !TreeFacts.HasSymbols(u)) return new NegNode(u);
        return null;
    }

    static RelOp Flip(RelOp op) => op switch
    {
        RelOp.Lt => RelOp.Gt, RelOp.Gt => RelOp.Lt, RelOp.Le => RelOp.Ge, RelOp.Ge => RelOp.Le, _ => op,
    };

    /// <summary>An interval of the real line with its ends as trees and (when they evaluate) numbers; points are [a, a].</summary>
    sealed record Piece(MathNode Lo, MathNode Hi, bool LoClosed, bool HiClosed, double LoValue, double HiValue);

    Verdict CompareSets(MathNode g, MathNode p, int level)
    {
        var gp = Pieces(g);
        var pp = Pieces(p);
        if (gp is null || pp is null)
        {
            if (g is IntervalNode || p is IntervalNode || g is SetOpNode || p is SetOpNode)
                return Verdict.Different($"an interval or union against a different kind of answer");
            return Verdict.Unknown("not a set of reals");
        }
        bool numeric = gp.Concat(pp).All(x => !double.IsNaN(x.LoValue) && !double.IsNaN(x.HiValue));
        if (numeric)
        {
            gp = Merge(gp);
            pp = Merge(pp);
        }
        if (gp.Count != pp.Count) return Verdict.Different($"{gp.Count} intervals vs {pp.Count}");
        var used = new bool[pp.Count];
        foreach (var a in gp)
        {
            int match = -1;
            for (int j = 0; j < pp.Count && match < 0; j++)
                if (!used[j] && SamePiece(a, pp[j], level)) match = j;
            if (match < 0) return Verdict.Different($"interval {Show(a)} not in the prediction");
            used[match] = true;
        }
        return Verdict.Equal("the same set of reals (intervals and points, ends included)");
    }

    static string Show(Piece x) => $"{(x.LoClosed ? '[' : '(')}{x.Lo}, {x.Hi}{(x.HiClosed ? ']' : ')')}";

    bool SamePiece(Piece a, Piece b, int level)
    {
        bool loInf = double.IsInfinity(a.LoValue), hiInf = double.IsInfinity(a.HiValue);
        if ((!loInf && a.LoClosed != b.LoClosed) || (!hiInf && a.HiClosed != b.HiClosed)) return false;
        return Compare(a.Lo, b.Lo, level + 1).IsEqual && Compare(a.Hi, b.Hi, level + 1).IsEqual;
    }

    /// <summary>The pieces of every item (a list of answers, a union), or null when one item is not a set of reals.</summary>
    List<Piece>? UnionPieces(IEnumerable<MathNode> items)
    {
        var all = new List<Piece>();
        foreach (var item in items)
        {
            if (Pieces(item) is not { } ps) return null;
            all.AddRange(ps);
        }
        return all;
    }

    List<Piece>? Pieces(MathNode n)
    {
        n = Unwrap(n);
        switch (n)
        {
            case IntervalNode i: return [MakePiece(i.Lo, i.Hi, i.LoClosed, i.HiClosed)];
            case TupleNode { Parenthesized: true, Items.Count: 2 } t: return [MakePiece(t.Items[0], t.Items[1], false, false)];
            case SetNode s: return s.Items.Select(x => MakePiece(x, x, true, true)).ToList();
            case RelationNode r: return InequalityToSet(r) is { } set ? Pieces(set) : null;
            case AnswerListNode l: return UnionPieces(l.Items);
            case SetOpNode { Kind: SetOpKind.Union } u: return UnionPieces(u.Items);
            case SetOpNode { Kind: SetOpKind.Intersection } x:
            {
                var acc = Pieces(x.Items[0]);
                foreach (var item in x.Items.Skip(1))
                {
                    var other = Pieces(item);
                    if (acc is null || other is null || acc.Concat(other).Any(q => double.IsNaN(q.LoValue) || double.IsNaN(q.HiValue))) return null;
                    acc = acc.SelectMany(a => other.Select(b => Intersect(a, b))).OfType<Piece>().ToList();
                }
                return acc;
            }
            case SetOpNode { Kind: SetOpKind.Difference, Items.Count: 2 } d:
            {
                // R \ {0}, [0, 5] \ {2}: remove finitely many points from intervals.
                var from = Pieces(d.Items[0]);
                if (from is null || Unwrap(d.Items[1]) is not SetNode removed) return null;
                foreach (var point in removed.Items)
                {
                    var x = MakePiece(point, point, true, true);
                    if (double.IsNaN(x.LoValue)) return null;
                    from = from.SelectMany(piece => Cut(piece, x)).ToList();
                }
                return from;
            }
            default:
                return IsScalar(n) && n is not RelationNode ? [MakePiece(n, n, true, true)] : null;
        }
    }

    /// <summary>The common part of two pieces with numeric ends, or null when they do not meet.</summary>
    static Piece? Intersect(Piece a, Piece b)
    {
        var lo = a.LoValue > b.LoValue ? a : b.LoValue > a.LoValue ? b : a with { LoClosed = a.LoClosed && b.LoClosed };
        var hi = a.HiValue < b.HiValue ? a : b.HiValue < a.HiValue ? b : a with { HiClosed = a.HiClosed && b.HiClosed };
        var r = new Piece(lo.Lo, hi.Hi, lo.LoClosed, hi.HiClosed, lo.LoValue, hi.HiValue);
        return r.LoValue < r.HiValue || (r.LoValue == r.HiValue && r.LoClosed && r.HiClosed) ? r : null;
    }

    static IEnumerable<Piece> Cut(Piece piece, Piece point)
    {
        double v = point.LoValue;
        bool inside = (v > piece.LoValue || (v == piece.LoValue && piece.LoClosed)) && (v < piece.HiValue || (v == piece.HiValue && piece.HiClosed));
        if (!inside) { yield return piece; yield break; }
        if (v > piece.LoValue) yield return piece with { Hi = point.Lo, HiValue = v, HiClosed = false };
        if (v < piece.HiValue)
            yield return piece with { Lo = point.Lo, LoValue = v, LoClosed = false };
    }

    static Piece MakePiece(MathNode lo, MathNode hi, bool loClosed, bool hiClosed) =>
        new(lo, hi, loClosed, hiClosed, RealValue(lo), RealValue(hi));

    /// <summary>The real value of a constant end (infinities included); NaN when it has variables or is complex.</summary>
    static double RealValue(MathNode n)
    {
        if (InfinitySign(n) is int s && s != 0) return s * double.PositiveInfinity;
        if (TreeFacts.HasSymbols(n) || TreeFacts.ContainsInfinity(n)) return double.NaN;
        var v = NumericEvaluator.Evaluate(n, null);
        return System.Math.Abs(v.Imaginary) > 1e-12 ? double.NaN : v.Real;
    }

    /// <summary>Sorts pieces and joins those that overlap or touch, so that (0, 1] U (1, 2) equals (0, 2).</summary>
    static List<Piece> Merge(List<Piece> pieces)
    {
        var sorted = pieces.OrderBy(x => x.LoValue).ThenBy(x => x.LoClosed ? 0 : 1).ToList();
        var merged = new List<Piece>();
        foreach (var x in sorted)
        {
            if (merged.Count > 0)
            {
                var last = merged[^1];
                bool touches = x.LoValue < last.HiValue || (Same(x.LoValue, last.HiValue) && (x.LoClosed || last.HiClosed));
                if (touches)
                {
                    if (x.HiValue > last.HiValue && !Same(x.HiValue, last.HiValue))
                        merged[^1] = last with { Hi = x.Hi, HiValue = x.HiValue, HiClosed = x.HiClosed };
                    else if (Same(x.HiValue, last.HiValue) && x.HiClosed && !last.HiClosed)
                        merged[^1] = last with { HiClosed = true };
                    if (Same(x.LoValue, last.LoValue) && x.LoClosed && !last.LoClosed) merged[^1] = merged[^1] with { LoClosed = true };
                    continue;
                }
            }
            merged.Add(x);
        }
        return merged;
    }

    static bool Same(double a, double b) => a == b || System.Math.Abs(a - b) <= 1e-12 * System.Math.Max(1, System.Math.Abs(a));

    // ---------- collections ----------

    static bool IsCollection(MathNode n) => n is AnswerListNode or SetNode or TupleNode or MatrixNode;

    Verdict CompareCollections(MathNode g, MathNode p, int level)
    {
        if (g is MatrixNode || p is MatrixNode) return CompareMatrices(g, p, level);
        if (g is TupleNode gt && p is TupleNode pt) return CompareOrdered(gt.Items, pt.Items, level, "tuple");
        // An answer list "1, 2" against a tuple "(1, 2)": the same ordered answer without parentheses.
        if (g is TupleNode t1 && p is AnswerListNode l1 && IsListOfValues(l1, t1.Items.Count)) return CompareOrdered(t1.Items, l1.Items, level, "tuple");
        if (p is TupleNode t2 && g is AnswerListNode l2 && IsListOfValues(l2, t2.Items.Count)) return CompareOrdered(l2.Items, t2.Items, level, "tuple");
        return CompareUnordered(Items(g), Items(p), level);
    }

    static bool IsListOfValues(AnswerListNode l, int count) => l.Items.Count == count && l.Items.All(i => !IsCollection(i));

    static IReadOnlyList<MathNode> Items(MathNode n) => n switch
    {
        AnswerListNode l => l.Items,
        SetNode s => s.Items,
        _ => [n],
    };

    Verdict CompareOrdered(IReadOnlyList<MathNode> g, IReadOnlyList<MathNode> p, int level, string what)
    {
        if (g.Count != p.Count) return Verdict.Different($"{what} of {g.Count} vs {p.Count} items");
        for (int i = 0; i < g.Count; i++)
        {
            var v = Compare(g[i], p[i], level + 1);
            if (!v.IsEqual) return Verdict.Different($"{what} item {i + 1} differs: {v.Reason}");
        }
        return Verdict.Equal($"{what}s equal item by item");
    }

    Verdict CompareUnordered(IReadOnlyList<MathNode> g, IReadOnlyList<MathNode> p, int level)
    {
        if (g.Count > MaxItems || p.Count > MaxItems) return Verdict.Unknown("too many items");
        var gu = Distinct(g, level);
        var pu = Distinct(p, level);
        if (gu.Count != pu.Count) return Verdict.Different($"{gu.Count} distinct answers vs {pu.Count}");
        var used = new bool[pu.Count];
        foreach (var a in gu)
        {
            int match = -1;
            for (int j = 0; j < pu.Count && match < 0; j++)
                if (!used[j] && Compare(a, pu[j], level + 1).IsEqual) match = j;
            if (match < 0) return Verdict.Different($"{a} has no equal in the prediction");
            used[match] = true;
        }
        return Verdict.Equal(gu.Count == 1 ? "single answer equal" : "same answers in any order");
    }

    List<MathNode> Distinct(IReadOnlyList<MathNode> items, int level)
    {
        var r = new List<MathNode>();
        foreach (var x in items)
            if (!r.Any(y => Compare(y, x, level + 1).IsEqual)) r.Add(x);
        return r;
    }

    Verdict CompareMatrices(MathNode g, MathNode p, int level)
    {
        if (g is MatrixNode gm && p is MatrixNode pm)
        {
            if (gm.Rows.Count != pm.Rows.Count || gm.Rows[0].Count != pm.Rows[0].Count)
                return Verdict.Different($"matrix shapes differ");
            return CompareOrdered(gm.Rows.SelectMany(r => r).ToList(), pm.Rows.SelectMany(r => r).ToList(), level, "matrix entry");
        }
        // A column or row vector against a tuple of the same entries.
        var m = (g as MatrixNode ?? (MatrixNode)p);
        var other = g is MatrixNode ? p : g;
        if (other is TupleNode or AnswerListNode && (m.Rows.Count == 1 || m.Rows[0].Count == 1))
        {
            var entries = m.Rows.SelectMany(r => r).ToList();
            var items = Items(other is TupleNode t ? new AnswerListNode(t.Items) : other);
            return g is MatrixNode ? CompareOrdered(entries, items, level, "vector") : CompareOrdered(items, entries, level, "vector");
        }
        return Verdict.Different("a matrix against a different kind of answer");
    }

    // ---------- text ----------

    static Verdict CompareText(MathNode g, MathNode p)
    {
        var a = TextKey(g);
        var b = TextKey(p);
        // "five" against 5.
        if (NumberWords.TryGetValue(a, out var na)) a = na.ToString(CultureInfo.InvariantCulture);
        if (NumberWords.TryGetValue(b, out var nb)) b = nb.ToString(CultureInfo.InvariantCulture);
        return a.Length > 0 && a == b ? Verdict.Equal("same text") : Verdict.Different($"text differs: '{a}' vs '{b}'");
    }

    /// <summary>"all real numbers" is (-oo, oo); "no solution" and "none" are the empty set.</summary>
    static MathNode? TextAsSet(TextNode t) => TextKey(t) switch
    {
        "allrealnumbers" or "allreals" or "realnumbers" or "allrealvalues" or "everyrealnumber" =>
            new IntervalNode(new NegNode(new ConstantNode(Constant.Infinity)), new ConstantNode(Constant.Infinity), false, false),
        "none" or "nosolution" or "nosolutions" or "norealsolution" or "norealsolutions" or "emptyset" => new SetNode([]),
        _ => null,
    };

    static readonly Dictionary<string, int> NumberWords = new[]
    {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    }.Select((w, i) => (w, i)).ToDictionary(x => x.w, x => x.i);

    /// <summary>Lower-case letters and digits only: \text{(A)} and A, "Odd" and \text{odd} agree.</summary>
    internal static string TextKey(MathNode n)
    {
        var s = n is TextNode t ? t.Value : n.ToString();
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) if (char.IsLetterOrDigit(c)) sb.Append(char.ToLowerInvariant(c));
        return sb.ToString();
    }

    // ---------- scalars ----------

    Verdict CompareScalars(MathNode g, MathNode p)
    {
        if (g is BaseNumberNode || p is BaseNumberNode) return CompareBaseNumbers(g, p);
        if (IsRatio(g) || IsRatio(p)) return CompareRatios(g, p);
        if (IsDegrees(g) || IsDegrees(p)) return CompareDegrees(g, p);
        bool gPercent = g is PercentNode, pPercent = p is PercentNode;
        var gx = g is PercentNode gp ? gp.X : g;
        var px = p is PercentNode pp ? pp.X : p;
        var v = CompareValues(gx, px);
        if (v.IsEqual || gPercent == pPercent) return v;
        // 50\% against 0.5: a percentage written as a fraction.
        var hundred = new NumberNode(BigRational.FromInteger(100), false, "100");
        var asFraction = gPercent ? CompareValues(new DivNode(gx, hundred), px) : CompareValues(gx, new DivNode(px, hundred));
        return asFraction.IsEqual ? Verdict.Equal("percentage equal as a fraction: " + asFraction.Reason) : v;
    }

    static bool IsDegrees(MathNode n) => n is FuncNode { Name: "degrees" } || n is NegNode { X: FuncNode { Name: "degrees" } };

    /// <summary>The number of degrees of an angle written with a degree sign (-5^\circ gives -5).</summary>
    static MathNode DegreesValue(MathNode n) => n is NegNode neg ? new NegNode(DegreesValue(neg.X)) : ((FuncNode)n).Args[0];

    /// <summary>30^\circ equals 30 as written, and equals \frac{\pi}{6} (its value in radians) against an answer without a degree sign.</summary>
    Verdict CompareDegrees(MathNode g, MathNode p)
    {
        var gx = IsDegrees(g) ? DegreesValue(g) : g;
        var px = IsDegrees(p) ? DegreesValue(p) : p;
        var asWritten = CompareScalars(gx, px);
        if (asWritten.IsEqual || IsDegrees(g) == IsDegrees(p)) return asWritten;
        var radians = CompareValues(IsDegrees(g) ? g : gx, IsDegrees(p) ? p : px);
        return radians.IsEqual ? Verdict.Equal("the same angle in radians: " + radians.Reason) : asWritten;
    }

    static bool IsRatio(MathNode n) => n is FuncNode { Name: "ratio" };

    /// <summary>
    /// a:b equals c:d part by part (2:4 is not 1:2: ratios are asked in lowest terms, and 4:30 may be a time);
    /// a:b against a number compares a/b (3:1 is 3).
    /// </summary>
    Verdict CompareRatios(MathNode g, MathNode p)
    {
        if (g is FuncNode { Name: "ratio" } gr && p is FuncNode { Name: "ratio" } pr)
        {
            if (gr.Args.Count != pr.Args.Count) return Verdict.Different("ratios of different lengths");
            for (int i = 0; i < gr.Args.Count; i++)
                if (!CompareValues(gr.Args[i], pr.Args[i]).IsEqual) return Verdict.Different($"ratios differ: {g} vs {p}");
            return Verdict.Equal("the same ratio");
        }
        var ratio = (FuncNode)(IsRatio(g) ? g : p);
        if (ratio.Args.Count != 2) return Verdict.Different("a ratio against a number");
        var quotient = new DivNode(ratio.Args[0], ratio.Args[1]);
        var r = IsRatio(g) ? CompareValues(quotient, p) : CompareValues(g, quotient);
        return r.IsEqual ? Verdict.Equal("ratio equal to the number: " + r.Reason) : Verdict.Different($"{g} vs {p}");
    }

    static Verdict CompareBaseNumbers(MathNode g, MathNode p)
    {
        if (g is BaseNumberNode a && p is BaseNumberNode b)
            return a.Base == b.Base && ExactEvaluator.BaseValue(a) == ExactEvaluator.BaseValue(b)
                ? Verdict.Equal($"same number in base {a.Base}") : Verdict.Different("different numbers or bases");
        var based = (g as BaseNumberNode ?? (BaseNumberNode)p);
        var other = g is BaseNumberNode ? p : g;
        // 1011_2 against 1011: the same digits with the base left implicit.
        if (other is NumberNode n && Digits(n.Text) == Digits(based.Digits)) return Verdict.Equal("same digits, base omitted");
        return Verdict.Different($"{based} vs {other}");
    }

    static string Digits(string s) => s.TrimStart('0').ToUpperInvariant() is { Length: > 0 } d ? d : "0";

    Verdict CompareValues(MathNode g, MathNode p)
    {
        var gi = InfinitySign(g);
        var pi = InfinitySign(p);
        if (gi != 0 || pi != 0)
            return gi is not null && gi == pi ? Verdict.Equal("same infinity") : Verdict.Different($"{g} vs {p}");
        var vars = Variables(g, p);
        if (vars is null) return Verdict.Unknown("too many variables");
        var v = vars.Count == 0 ? CompareConstants(g, p) : CompareFunctions(g, p, vars);
        if (v.Decision != Decision.Unknown) return v;
        // Evaluation could not decide (an unknown function, an undefined value): compare the trees.
        if (g.ToString() == p.ToString()) return Verdict.Equal("same expression tree");
        return TreeFacts.Canonical(g).ToString() == TreeFacts.Canonical(p).ToString()
            ? Verdict.Equal("same expression tree up to the order of terms and factors") : Verdict.Different($"{v.Reason}; trees differ");
    }

    /// <summary>+1 for oo, -1 for -oo, 0 without infinity, null for infinity inside a larger expression.</summary>
    static int? InfinitySign(MathNode n) => n switch
    {
        ConstantNode { Kind: Constant.Infinity } => 1,
        NegNode neg => -InfinitySign(neg.X),
        _ => TreeFacts.ContainsInfinity(n) ? null : 0,
    };

    static Verdict CompareConstants(MathNode g, MathNode p)
    {
        bool approximate = TreeFacts.HasDecimal(g) || TreeFacts.HasDecimal(p);
        if (ExactEvaluator.Evaluate(g) is { } ge && ExactEvaluator.Evaluate(p) is { } pe)
        {
            if (ge == pe) return Verdict.Equal($"exact: {ge}");
            if (approximate && RoundedEqual(ge, pe)) return Verdict.Equal($"equal to 6 decimal places: {ge} ~ {pe}");
            if (!TreeFacts.HasDecimal(g) && StatedPlaces(p) is int d && ge.RoundDecimals(d) == pe)
                return Verdict.Equal($"the exact value rounded to the {d} places the prediction gives: {ge} ~ {pe}");
            return Verdict.Different($"exact values differ: {ge} vs {pe}");
        }
        var a = NumericEvaluator.Evaluate(g, null, out double ga);
        var b = NumericEvaluator.Evaluate(p, null, out double pa);
        if (IsNaN(a) || IsNaN(b)) return Verdict.Unknown("could not evaluate");
        if (Near(a, b, System.Math.Max(ga, pa) * 1e-3, ExactTolerance)) return Verdict.Equal($"numerically equal: {Show(a)}");
        if (approximate && RoundedEqual(a, b)) return Verdict.Equal($"equal to 6 decimal places: {Show(a)} ~ {Show(b)}");
        if (!TreeFacts.HasDecimal(g) && StatedPlaces(p) is int places && System.Math.Abs(a.Imaginary) < 1e-12
            && System.Math.Round(a.Real, places, MidpointRounding.AwayFromZero) is var rounded
            && System.Math.Abs(rounded - b.Real) <= 1e-12 * System.Math.Max(1, System.Math.Abs(rounded)))
            return Verdict.Equal($"the value rounded to the {places} places the prediction gives: {Show(a)} ~ {Show(b)}");
        return Verdict.Different($"values differ: {Show(a)} vs {Show(b)}");
    }

    /// <summary>
    /// The decimal places of a prediction that is a plain decimal with at least 4 places and 4 significant digits
    /// (0.6667, -1.4142): such a prediction states its precision, and an exact gold that rounds to it there is
    /// equal. Shorter decimals (0.333, 3.14, 33.33) are not: they are left to the 6-places rule.
    /// </summary>
    static int? StatedPlaces(MathNode p)
    {
        if (p is NegNode neg) p = neg.X;
        if (p is not NumberNode { IsDecimal: true } n || n.Text.Contains('e') || n.Text.Contains('E')) return null;
        int dot = n.Text.IndexOf('.');
        if (dot < 0) return null;
        int places = n.Text.Length - dot - 1;
        int significant = n.Text.Replace(".", "").TrimStart('0').Length;
        return places is >= 4 and <= 12 && significant >= 4 ? places : null;
    }

    /// <summary>Equal when rounded to 6 decimal places (math-verify's rule); tiny values must also agree to 0.1 %.</summary>
    static bool RoundedEqual(BigRational a, BigRational b)
    {
        if (a.RoundDecimals(6) != b.RoundDecimals(6)) return false;
        return TinyAgree(a.ToDouble(), b.ToDouble());
    }

    static bool RoundedEqual(Complex a, Complex b)
    {
        if (System.Math.Abs(a.Imaginary - b.Imaginary) > 1e-6) return false;
        double x = a.Real, y = b.Real;
        if (System.Math.Abs(System.Math.Round(x, 6) - System.Math.Round(y, 6)) > 1e-9 * System.Math.Max(1, System.Math.Abs(x))) return false;
        return TinyAgree(x, y);
    }

    static bool TinyAgree(double x, double y)
    {
        double m = System.Math.Max(System.Math.Abs(x), System.Math.Abs(y));
        return m >= 1e-3 || System.Math.Abs(x - y) <= 1e-3 * m;
    }

    static string Show(Complex c) => System.Math.Abs(c.Imaginary) < 1e-12
        ? c.Real.ToString("G10", CultureInfo.InvariantCulture)
        : $"{c.Real.ToString("G10", CultureInfo.InvariantCulture)}{(c.Imaginary < 0 ? "-" : "+")}{System.Math.Abs(c.Imaginary).ToString("G10", CultureInfo.InvariantCulture)}i";

    static bool IsNaN(Complex c) => double.IsNaN(c.Real) || double.IsNaN(c.Imaginary);

    /// <summary>
    /// Equal at random points. Where a side overflows or underflows a double at most of them (e^{1000x}), the
    /// points are tried again nearer 0; a comparison with too few points where both are finite is undecided.
    /// </summary>
    static Verdict CompareFunctions(MathNode g, MathNode p, List<string> vars)
    {
        bool positiveOnly = TreeFacts.IsDomainSensitive(g) || TreeFacts.IsDomainSensitive(p);
        int valid = 0;
        foreach (var shrink in PointScales)
        {
            foreach (var env in Points(vars, positiveOnly, shrink))
            {
                var a = NumericEvaluator.Evaluate(g, env, out double ga);
                var b = NumericEvaluator.Evaluate(p, env, out double pa);
                if (IsNaN(a) || IsNaN(b)) continue;
                if (!Near(a, b, System.Math.Max(ga, pa), PointTolerance))
                    return Verdict.Different($"differ at {string.Join(", ", env.Select(kv => kv.Key + "=" + Show(kv.Value)))}: {Show(a)} vs {Show(b)}");
                valid++;
            }
            if (valid >= 3) return Verdict.Equal($"equal at {valid} random points of {string.Join(", ", vars)}");
        }
        return Verdict.Unknown("too few points where both are defined");
    }

    /// <summary>Point sets tried in turn: the random points, then the same points 100 and 10,000 times nearer 0.</summary>
    static readonly double[] PointScales = [1, 1e-2, 1e-4];

    /// <summary>
    /// a and b agree to <paramref name="tol"/> relative to the larger of them, or to the largest magnitude that
    /// cancelled while computing them (so that sin^2 x + cos^2 x - 1 is 0, but x^{-500} is not).
    /// </summary>
    static bool Near(Complex a, Complex b, double cancelled, double tol) =>
        (a - b).Magnitude <= tol * System.Math.Max(cancelled, System.Math.Max(a.Magnitude, b.Magnitude));

    // ---------- random points ----------

    static List<string>? Variables(MathNode a, MathNode b)
    {
        var set = new HashSet<string>();
        TreeFacts.CollectSymbols(a, set);
        TreeFacts.CollectSymbols(b, set);
        if (set.Count > Columns) return null;
        var list = set.ToList();
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    const int Columns = 48;
    static readonly double[][] PositivePoints = MakePoints(6, 0.55, 2.95, seed: 12345);
    static readonly double[][] SignedPoints = MakePoints(3, -2.9, 2.9, seed: 67890);

    static double[][] MakePoints(int rows, double lo, double hi, int seed)
    {
        var rng = new Random(seed);
        var r = new double[rows][];
        for (int i = 0; i < rows; i++)
        {
            r[i] = new double[Columns];
            for (int j = 0; j < Columns; j++)
            {
                double v;
                do v = lo + (hi - lo) * rng.NextDouble(); while (System.Math.Abs(v) < 0.3);
                r[i][j] = v;
            }
        }
        return r;
    }

    /// <summary>
    /// Variable bindings to test at: positive values (where contest problems take their variables),
    /// and, unless roots or logarithms of variables make the value branch-dependent, some negative ones.
    /// </summary>
    static IEnumerable<Dictionary<string, Complex>> Points(List<string> vars, bool positiveOnly, double shrink)
    {
        var rows = positiveOnly ? PositivePoints : PositivePoints.Concat(SignedPoints);
        foreach (var row in rows)
        {
            var env = new Dictionary<string, Complex>(vars.Count);
            for (int j = 0; j < vars.Count; j++) env[vars[j]] = row[j] * shrink;
            yield return env;
        }
    }
}
