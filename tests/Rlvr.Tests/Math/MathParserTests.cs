using Rlvr.Math;

namespace Rlvr.Tests.Math;

/// <summary>Parsed trees, printed in the plain form the grader's reasons use.</summary>
public class MathParserTests
{
    static string? Tree(string answer) => MathParser.Parse(LatexNormalizer.Normalize(answer))?.ToString();

    [Theory]
    [InlineData(@"\frac12", "(1)/(2)")]
    [InlineData(@"\frac{1}{2}", "(1)/(2)")]
    [InlineData(@"\sqrt2x", "(sqrt(2)*x)")]
    [InlineData("-2^2", "-(2)^(2)")]
    [InlineData("2^-1", "(2)^(-1)")]
    [InlineData("2^3^2", "(2)^((3)^(2))")]
    [InlineData("x^23", "(x)^(23)")]
    [InlineData("2x^2y", "(2*(x)^(2)*y)")]
    [InlineData("1/2x", "((1)/(2)*x)")]
    [InlineData(@"2\frac{1}{2}", "2 1/2")]
    [InlineData(@"2\frac{3}{2}", "(2*(3)/(2))")]
    [InlineData(@"\sin^2 x", "(sin(x))^(2)")]
    [InlineData(@"\sin^{-1} x", "arcsin(x)")]
    [InlineData(@"\sin 2x \cos x", "(sin((2*x))*cos(x))")]
    [InlineData(@"\log_2 8", "log(8, 2)")]
    [InlineData(@"\sqrt[3]{x}", "sqrt(x, 3)")]
    [InlineData("a_{n+1} - a_1", "(a_n+1 + -a_1)")]
    [InlineData("|x|+|y|", "(abs(x) + abs(y))")]
    [InlineData("(0,1]", "(0, 1]")]
    [InlineData("(0,1)", "(0, 1)")]
    [InlineData(@"[1,\infty)", "[1, oo)")]
    [InlineData(@"\{1,2\}", "{1, 2}")]
    [InlineData(@"x \in (0, 1) \cup (2, 3)", "x in (0, 1) U (2, 3)")]
    [InlineData(@"1 \pm \sqrt{2}", "(1 +- sqrt(2))")]
    [InlineData("1 < x <= 3", "1 < x <= 3")]
    [InlineData(@"\text{odd}", "\"odd\"")]
    [InlineData("1011_2", "1011_2")]
    [InlineData(@"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", "[1, 2; 3, 4]")]
    [InlineData(@"5\text{ cm}^2", "5")]
    [InlineData(@"\$1,\!000", "1000")]
    [InlineData("x = 1 or x = 2", "x = 1, x = 2")]
    [InlineData("3:4", "ratio(3, 4)")]
    [InlineData(@"0.\overline{3}", "0.(3)")]
    [InlineData(@"\{x \mid x > 0\}", "x > 0")]
    public void Parses_to(string answer, string tree) => Assert.Equal(tree, Tree(answer));

    [Theory]
    [InlineData(@"\frac{1}{")]
    [InlineData("((((1")]
    [InlineData("1 +")]
    [InlineData(@"\begin{pmatrix} 1 & 2 \\ 3 \end{pmatrix}")]
    [InlineData("March 5")]
    public void Malformed_or_non_math_answers_do_not_parse(string answer) => Assert.Null(Tree(answer));

    [Fact]
    public void Decimal_literals_are_exact_but_marked()
    {
        var n = Assert.IsType<NumberNode>(MathParser.Parse("0.25"));
        Assert.True(n.IsDecimal);
        Assert.Equal(BigRational.Create(1, 4), n.Value);
    }
}
