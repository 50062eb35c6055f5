using System.Text.Json.Nodes;

namespace Rlvr.Tests.Math;

public class GradeCommandTests
{
    [Fact]
    public void Grades_a_jsonl_file_line_by_line()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "in.jsonl");
        var output = Path.Combine(dir, "out.jsonl");
        File.WriteAllLines(input,
        [
            """{"id": 1, "gold": "$\\frac{1}{2}$", "prediction": "The answer is $\\boxed{0.5}$."}""",
            """{"id": "b", "gold": "Thus $\\boxed{14917}$.", "prediction": "14916"}""",
            "",
            """{"id": 3, "gold": "x=3", "prediction": "I give up."}""",
        ]);
        var r = CliRunner.Run("grade", "--input", input, "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal(1, (int)lines[0]["id"]!);
        Assert.True((bool)lines[0]["correct"]!);
        Assert.Equal("0.5", (string)lines[0]["extracted"]!);
        Assert.Equal("b", (string)lines[1]["id"]!);
        Assert.False((bool)lines[1]["correct"]!);
        Assert.Equal("14916", (string)lines[1]["extracted"]!);
        Assert.Equal("no_answer", (string)lines[2]["outcome"]!);
        Assert.Null(lines[2]["extracted"]);
        Assert.All(lines, l => Assert.False(string.IsNullOrEmpty((string?)l["reason"])));
        Assert.Contains("graded 3: 1 correct, 1 wrong, 1 without an answer", r.Stderr);
    }

    [Fact]
    public void A_gold_array_accepts_any_of_its_answers_and_numbers_are_text()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "in.jsonl");
        File.WriteAllLines(input,
        [
            """{"id": 1, "gold": ["2", "\\frac{1}{2}"], "prediction": "0.5"}""",
            """{"id": 2, "gold": ["2", "3"], "prediction": "4"}""",
            """{"id": 3, "gold": 42, "prediction": "42.0"}""",
            """{"id": 4, "gold": "1", "prediction": null}""",
        ]);
        var r = CliRunner.Run("grade", "--input", input);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal([true, false, true, false], lines.Select(l => (bool)l["correct"]!));
        Assert.Equal("no_answer", (string)lines[3]["outcome"]!);
    }

    [Fact]
    public void Grades_one_pair_from_the_command_line()
    {
        var r = CliRunner.Run("grade", "--gold", @"\dfrac{1}{2}", "--prediction", "0.5", "--verbose");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var o = JsonNode.Parse(r.Stdout)!.AsObject();
        Assert.True((bool)o["correct"]!);
        Assert.Equal("0.5", (string)o["extracted"]!);
        Assert.Equal("(1)/(2)", (string)o["gold_parsed"]!);
    }

    [Fact]
    public void Require_boxed_is_an_option()
    {
        var r = CliRunner.Run("grade", "--gold", "5", "--prediction", "The answer is 5.", "--require-boxed");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("no_answer", (string)JsonNode.Parse(r.Stdout)!["outcome"]!);
    }

    [Fact]
    public void A_line_without_a_prediction_is_an_error_naming_file_and_line()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "bad.jsonl");
        File.WriteAllLines(input, ["""{"id": 1, "gold": "1", "prediction": "1"}""", """{"id": 2, "gold": "1"}"""]);
        var r = CliRunner.Run("grade", "--input", input);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{input}:2: missing \"prediction\"", r.Stderr);
    }

    [Fact]
    public void Missing_arguments_are_an_error()
    {
        var r = CliRunner.Run("grade", "--gold", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--prediction", r.Stderr);
    }

    [Fact]
    public void Bench_grade_reports_gradings_per_second()
    {
        var r = CliRunner.Run("bench", "grade", "--pairs", "400", "--no-corpus");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("gradings/s", r.Stdout);
        Assert.Contains("1 thread", r.Stdout);
    }
}
