using Rlvr.Math;

namespace Rlvr.Tests.Math;

public class AnswerExtractionTests
{
    [Theory]
    [InlineData(@"We get $\boxed{2}$ and $\boxed{3}$.", "2, 3", "boxed")]
    [InlineData(@"$x = \boxed{2}$ or $x = \boxed{-2}$", "2, -2", "boxed")]
    [InlineData(@"Try \boxed{1}. Checking again, the result is \boxed{4}.", "4", "boxed")]
    [InlineData("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", @"\frac{3}{4}", "phrase")]
    [InlineData("Thus the answer is 12 apples.", "12 apples", "phrase")]
    [InlineData("**Answer:** $x=5$", "x=5", "phrase")]
    [InlineData("The answer is: \\(7\\)", "7", "phrase")]
    [InlineData("x = 3", "x = 3", "bare")]
    [InlineData(@"$\dfrac12$", @"$\dfrac12$", "bare")]
    [InlineData(@"\text{odd}", @"\text{odd}", "bare")]
    [InlineData("Here is a zero matrix: $0$ and then $\\begin{pmatrix}0\\end{pmatrix}$", @"\begin{pmatrix}0\end{pmatrix}", "last math")]
    [InlineData("so we get \\[ 42 \\] as required, see $$ $$", "42", "last math")]
    [InlineData("I counted 3 red and 4 blue, 7 in all", "7", "last number")]
    [InlineData("{Friday}", "{Friday}", "bare text")]
    [InlineData("Final Answer: The smallest $k$ is 27.", "27", "phrase")]
    [InlineData("**Final Answer:** the total is $\\frac{3}{4}$ of the cake.", @"\frac{3}{4}", "phrase")]
    [InlineData("Since $n$ must be positive, the number of students is 41.", "41", "final statement")]
    [InlineData("We need $2x + 3 = 13$, giving x = 5.", "5", "final statement")]
    [InlineData("The total cost was $x = 4 \\cdot 5$, so she paid 25 dollars.", "25", "final statement")]
    [InlineData("We need $2x + 3 = 13$. We check it by trying 2 values.", "2x + 3 = 13", "last math")]
    [InlineData("So $x = 5$ is the answer.", "x = 5", "last math")]
    public void Rules_apply_in_order(string response, string expected, string source)
    {
        var (answer, from) = AnswerExtraction.ExtractWithSource(response, ExtractionOptions.Default);
        Assert.Equal(expected, answer);
        Assert.Equal(source, from);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n ")]
    [InlineData("I could not solve this problem.")]
    public void A_response_without_an_answer_gives_null(string response) =>
        Assert.Null(AnswerExtraction.Extract(response, ExtractionOptions.Default));

    [Fact]
    public void Boxed_only_ignores_every_other_rule()
    {
        Assert.Null(AnswerExtraction.Extract("The final answer is $5$.", ExtractionOptions.BoxedOnly));
        Assert.Equal("5", AnswerExtraction.Extract(@"so \boxed{5}", ExtractionOptions.BoxedOnly));
    }

    [Fact]
    public void The_last_number_fallback_can_be_turned_off()
    {
        var noNumber = ExtractionOptions.Default with { LastNumber = false };
        Assert.Equal("7", AnswerExtraction.Extract("I counted 3 red and 4 blue, 7 in all", ExtractionOptions.Default));
        Assert.Null(AnswerExtraction.Extract("I counted 3 red and 4 blue, 7 in all", noNumber));
    }

    [Theory]
    [InlineData(@"The boxes hold $\boxed{\dfrac{1}{52}}$ and, as before, $\boxed{\dfrac{1}{52}}$ again.", @"\dfrac{1}{52}")]
    [InlineData(@"$\frac{1}{2}$", @"$\frac{1}{2}$")]
    [InlineData("x=3", "x=3")]
    [InlineData(@"\text{(B)}", @"\text{(B)}")]
    public void Gold_answers_come_from_the_last_box_or_the_whole_field(string gold, string expected) =>
        Assert.Equal(expected, AnswerExtraction.ExtractGold(gold));

    [Theory]
    [InlineData("-4, 3", "First root: $\\boxed{3}$.\n\nSecond root: $\\boxed{-4}$.", true)]
    [InlineData("1, 2, 3", "We find $x = \\boxed{1}$, then $x=\\boxed{2}$, and finally $x = \\boxed{3}$.", true)]
    [InlineData("1, 2, 3", "We find $x = \\boxed{1}$, then $x=\\boxed{2}$.", false)]
    [InlineData("3, 4", "first $\\boxed{2}$, then $\\boxed{3}$ and $\\boxed{5}$", false)]
    [InlineData("3", "We get $\\boxed{2}$; rechecking, $\\boxed{3}$", true)]
    [InlineData("2", "We get $\\boxed{2}$; rechecking, $\\boxed{3}$", false)]
    public void Several_boxes_are_one_answer_only_against_a_list_of_as_many(string gold, string response, bool correct) =>
        Assert.Equal(correct, MathVerifier.Grade(gold, response).Correct);

    [Fact]
    public void No_answer_is_its_own_outcome()
    {
        var r = MathVerifier.Grade("5", "I have no idea.");
        Assert.Equal(GradeOutcome.NoAnswer, r.Outcome);
        Assert.False(r.Correct);
        Assert.Null(r.Extracted);
        var wrong = MathVerifier.Grade("5", @"\boxed{6}");
        Assert.Equal(GradeOutcome.Wrong, wrong.Outcome);
        Assert.Equal("6", wrong.Extracted);
        Assert.Equal("5", wrong.GoldAnswer);
    }

    [Fact]
    public void Require_boxed_makes_an_unboxed_answer_no_answer()
    {
        var options = new VerifierOptions { Extraction = ExtractionOptions.BoxedOnly };
        Assert.Equal(GradeOutcome.NoAnswer, MathVerifier.Grade("5", "The answer is 5.", options).Outcome);
        Assert.Equal(GradeOutcome.Correct, MathVerifier.Grade("5", @"The answer is \boxed{5}.", options).Outcome);
    }
}
