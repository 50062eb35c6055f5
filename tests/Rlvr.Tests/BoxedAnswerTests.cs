using Rlvr.Math;

namespace Rlvr.Tests;

public class BoxedAnswerTests
{
    [Theory]
    [InlineData(@"so \boxed{5}.", "5")]
    [InlineData(@"first \boxed{1} then \boxed{\frac{1}{2}}", @"\frac{1}{2}")]
    [InlineData(@"\boxed{\left\{ \frac{a}{b} \right\}}", @"\left\{ \frac{a}{b} \right\}")]
    [InlineData(@"$\boxed 7$", "7")]
    [InlineData(@"\fbox{x+1}", "x+1")]
    [InlineData(@"\boxed{(1, {2})} and \boxedfoo{3}", "(1, {2})")]
    public void Finds_the_last_box(string text, string expected) => Assert.Equal(expected, BoxedAnswer.Last(text));

    [Theory]
    [InlineData("no box here")]
    [InlineData(@"\boxed{unclosed")]
    public void No_box_gives_null(string text) => Assert.Null(BoxedAnswer.Last(text));
}
