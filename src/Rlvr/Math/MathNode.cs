using System.Text;

namespace Rlvr.Math;

/// <summary>A parsed answer: an expression tree. <see cref="ToString"/> prints a plain form used in the grader's reasons.</summary>
public abstract record MathNode
{
    public sealed override string ToString()
    {
        var sb = new StringBuilder();
        Print(sb);
        return sb.ToString();
    }

    internal abstract void Print(StringBuilder sb);

    protected static void PrintList(StringBuilder sb, IReadOnlyList<MathNode> items, string sep)
    {
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(sep);
            items[i].Print(sb);
        }
    }

    /// <summary>Children, for walks (free variables, decimal literals, ...).</summary>
    public abstract IEnumerable<MathNode> Children { get; }
}

/// <summary>A number literal. <see cref="IsDecimal"/>: written with a decimal point (an approximation may be meant).</summary>
public sealed record NumberNode(BigRational Value, bool IsDecimal, string Text) : MathNode
{
    internal override void Print(StringBuilder sb) => sb.Append(Text);
    public override IEnumerable<MathNode> Children => [];
}

/// <summary>A number written in another base, <c>1011_2</c>.</summary>
public sealed record BaseNumberNode(string Digits, int Base) : MathNode
{
    internal override void Print(StringBuilder sb) => sb.Append(Digits).Append('_').Append(Base);
    public override IEnumerable<MathNode> Children => [];
}

/// <summary>A variable, possibly with a subscript (<c>a_1</c>, <c>x_{n+1}</c>) or a Greek name (<c>alpha</c>).</summary>
public sealed record SymbolNode(string Name) : MathNode
{
    internal override void Print(StringBuilder sb) => sb.Append(Name);
    public override IEnumerable<MathNode> Children => [];
}

public enum Constant { Pi, E, I, Infinity }

public sealed record ConstantNode(Constant Kind) : MathNode
{
    internal override void Print(StringBuilder sb) => sb.Append(Kind switch
    {
        Constant.Pi => "pi", Constant.E => "e", Constant.I => "i", _ => "oo",
    });
    public override IEnumerable<MathNode> Children => [];
}

public sealed record SumNode(IReadOnlyList<MathNode> Terms) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('('); PrintList(sb, Terms, " + "); sb.Append(')'); }
    public override IEnumerable<MathNode> Children => Terms;
}

public sealed record NegNode(MathNode X) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('-'); X.Print(sb); }
    public override IEnumerable<MathNode> Children => [X];
}

public sealed record ProductNode(IReadOnlyList<MathNode> Factors) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('('); PrintList(sb, Factors, "*"); sb.Append(')'); }
    public override IEnumerable<MathNode> Children => Factors;
}

public sealed record DivNode(MathNode A, MathNode B) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('('); A.Print(sb); sb.Append(")/("); B.Print(sb); sb.Append(')'); }
    public override IEnumerable<MathNode> Children => [A, B];
}

public sealed record PowNode(MathNode Base, MathNode Exp) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('('); Base.Print(sb); sb.Append(")^("); Exp.Print(sb); sb.Append(')'); }
    public override IEnumerable<MathNode> Children => [Base, Exp];
}

/// <summary>A function application: sin, cos, ..., log (args: x, base), sqrt (args: x, index), abs, floor, ceil, factorial, binom, ...</summary>
public sealed record FuncNode(string Name, IReadOnlyList<MathNode> Args) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append(Name).Append('('); PrintList(sb, Args, ", "); sb.Append(')'); }
    public override IEnumerable<MathNode> Children => Args;
}

/// <summary><c>a \pm b</c>: two answers, a + b and a - b (expanded before comparison).</summary>
public sealed record PlusMinusNode(MathNode A, MathNode B) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('('); A.Print(sb); sb.Append(" +- "); B.Print(sb); sb.Append(')'); }
    public override IEnumerable<MathNode> Children => [A, B];
}

/// <summary><c>x\%</c>; compared as x, or as x/100 against a value written without a percent sign (see docs/verifier.md).</summary>
public sealed record PercentNode(MathNode X) : MathNode
{
    internal override void Print(StringBuilder sb) { X.Print(sb); sb.Append('%'); }
    public override IEnumerable<MathNode> Children => [X];
}

public enum RelOp { Eq, Ne, Lt, Le, Gt, Ge, In, Approx }

/// <summary>An equation, inequality or chain of them: Operands[0] Ops[0] Operands[1] Ops[1] ...</summary>
public sealed record RelationNode(IReadOnlyList<MathNode> Operands, IReadOnlyList<RelOp> Ops) : MathNode
{
    internal override void Print(StringBuilder sb)
    {
        for (int i = 0; i < Operands.Count; i++)
        {
            if (i > 0) sb.Append(' ').Append(Ops[i - 1] switch
            {
                RelOp.Eq => "=", RelOp.Ne => "!=", RelOp.Lt => "<", RelOp.Le => "<=", RelOp.Gt => ">",
                RelOp.Ge => ">=", RelOp.In => "in", _ => "~=",
            }).Append(' ');
            Operands[i].Print(sb);
        }
    }
    public override IEnumerable<MathNode> Children => Operands;
}

/// <summary>An ordered tuple <c>(a, b, ...)</c> or vector <c>\langle a, b \rangle</c>; <c>(a, b)</c> may also be read as an open interval.</summary>
public sealed record TupleNode(IReadOnlyList<MathNode> Items, bool Parenthesized) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append(Parenthesized ? "(" : "<"); PrintList(sb, Items, ", "); sb.Append(Parenthesized ? ")" : ">"); }
    public override IEnumerable<MathNode> Children => Items;
}

/// <summary>A set <c>\{a, b\}</c> (order-free, duplicates ignored).</summary>
public sealed record SetNode(IReadOnlyList<MathNode> Items) : MathNode
{
    internal override void Print(StringBuilder sb) { sb.Append('{'); PrintList(sb, Items, ", "); sb.Append('}'); }
    public override IEnumerable<MathNode> Children => Items;
}

public sealed record IntervalNode(MathNode Lo, MathNode Hi, bool LoClosed, bool HiClosed) : MathNode
{
    internal override void Print(StringBuilder sb)
    {
        sb.Append(LoClosed ? '[' : '('); Lo.Print(sb); sb.Append(", "); Hi.Print(sb); sb.Append(HiClosed ? ']' : ')');
    }
    public override IEnumerable<MathNode> Children => [Lo, Hi];
}

public enum SetOpKind { Union, Intersection, Difference }

public sealed record SetOpNode(SetOpKind Kind, IReadOnlyList<MathNode> Items) : MathNode
{
    internal override void Print(StringBuilder sb) => PrintList(sb, Items, Kind switch { SetOpKind.Union => " U ", SetOpKind.Intersection => " n ", _ => " \\ " });
    public override IEnumerable<MathNode> Children => Items;
}

public sealed record MatrixNode(IReadOnlyList<IReadOnlyList<MathNode>> Rows) : MathNode
{
    internal override void Print(StringBuilder sb)
    {
        sb.Append('[');
        for (int r = 0; r < Rows.Count; r++)
        {
            if (r > 0) sb.Append("; ");
            PrintList(sb, Rows[r], ", ");
        }
        sb.Append(']');
    }
    public override IEnumerable<MathNode> Children => Rows.SelectMany(r => r);
}

/// <summary>Several answers separated by commas ("Enter all solutions"): compared order-free.</summary>
public sealed record AnswerListNode(IReadOnlyList<MathNode> Items) : MathNode
{
    internal override void Print(StringBuilder sb) => PrintList(sb, Items, ", ");
    public override IEnumerable<MathNode> Children => Items;
}

/// <summary>A text answer (<c>\text{odd}</c>, a multiple-choice letter, a name).</summary>
public sealed record TextNode(string Value) : MathNode
{
    internal override void Print(StringBuilder sb) => sb.Append('"').Append(Value).Append('"');
    public override IEnumerable<MathNode> Children => [];
}
