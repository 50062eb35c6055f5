using Rlvr.Math;

namespace Rlvr.Tests.Math;

public class BoxedAnswerTests
{
    [Theory]
    [InlineData(@"so \boxed{5}.", "5")]
    [InlineData(@"first \boxed{1} then \boxed{\frac{1}{2}}", @"\frac{1}{2}")]
    [InlineData(@"\boxed{\left\{ \frac{a}{b} \right\}}", @"\left\{ \frac{a}{b} \right\}")]
    [InlineData(@"$\boxed 7$", "7")]
    [InlineData(@"\fbox{x+1}", "x+1")]
    [InlineData(@"\boxed{(1, {2})} and \boxedfoo{3}", "(1, {2})")]
    [InlineData(@"\boxed {5}", "5")]
    [InlineData(@"\boxed{\{1, 2\}}", @"\{1, 2\}")]
    [InlineData(@"\boxed{\boxed{3}}", "3")]
    [InlineData(@"\boxed{a^{b^{c^{d}}}}", "a^{b^{c^{d}}}")]
    [InlineData(@"\fbox{1} and later \boxed{2}", "2")]
    public void Finds_the_last_box(string text, string expected) => Assert.Equal(expected, BoxedAnswer.Last(text));

    [Theory]
    [InlineData("no box here")]
    [InlineData(@"\boxed{unclosed")]
    [InlineData(@"\boxed{1} and a truncated \boxed{2")]
    public void No_box_or_an_unclosed_last_box_gives_null(string text) => Assert.Null(BoxedAnswer.Last(text));

    [Fact]
    public void All_lists_top_level_boxes_in_order_with_positions()
    {
        var text = @"a \boxed{1} b \fbox{\boxed{2}} c";
        var boxes = BoxedAnswer.All(text);
        Assert.Equal(2, boxes.Count);
        Assert.Equal("1", boxes[0].Content);
        Assert.Equal(@"\boxed{2}", boxes[1].Content);
        Assert.Equal(@"\boxed{1}", text[boxes[0].Start..boxes[0].End]);
        Assert.All(boxes, b => Assert.True(b.Closed));
    }
}
