using Rlvr.Data;

namespace Rlvr.Tests.Data;

public class DataCommandTests
{
    readonly string dir = Fixtures.TempDir();

    string SmallSet() => TestFiles.Write(dir, "small.jsonl",
        """{"problem": "a", "solution": "\\boxed{1}", "level": "Level 1", "type": "Algebra", "answer": "1"}""",
        """{"problem": "bb", "solution": "\\boxed{5} or \\boxed{2}", "level": "Level 2", "type": "Algebra", "answer": "3"}""",
        """{"problem": "ccc", "solution": "\\boxed{3}", "level": "Level 1", "type": "Geometry", "answer": "3"}""",
        """{"problem": "dddd", "solution": "no box", "level": "Level 1", "type": "Geometry"}""");

    [Fact]
    public void Stats_counts_types_levels_missing_gold_and_disagreements()
    {
        var r = CliRunner.Run("data", "stats", SmallSet());

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("4 problems, 3 with a gold answer, 1 without (excluded)", r.Stdout);
        Assert.Contains("small-4: no \\boxed{} answer in the solution", r.Stdout);
        Assert.Contains("answer field differs from the gold derived from the solution: 1", r.Stdout);
        Assert.Contains("small-2: answer field \"3\", last box \"2\"", r.Stdout);
        Assert.Contains("solutions with more than one box (the gold is the last): 1", r.Stdout);
        Assert.Matches(@"Algebra\s+2\s+66\.7%", r.Stdout);
        Assert.Matches(@"Geometry\s+1\s+33\.3%", r.Stdout);
        Assert.Matches(@"Level 1\s+2\s+66\.7%", r.Stdout);
        // problem lengths of the problems with gold: 1, 2, 3 -> mean 2.0, median 2, p90 3, max 3.
        Assert.Matches(@"problem\s+2\.0\s+2\s+3\s+3", r.Stdout);
    }

    [Fact]
    public void Stats_stops_at_a_malformed_line_and_skips_it_on_request()
    {
        var path = TestFiles.Write(dir, "broken.jsonl",
            """{"problem": "a", "solution": "\\boxed{1}"}""",
            """{"problem": "b", "solution": """);

        var failed = CliRunner.Run("data", "stats", path);
        Assert.Equal(1, failed.ExitCode);
        // (the message arrives as "error: ..." once Program.cs stops System.CommandLine's own exception handler)
        Assert.Contains($"{path}:2: malformed JSON", failed.Stderr);

        var skipped = CliRunner.Run("data", "stats", path, "--skip-invalid");
        Assert.True(skipped.ExitCode == 0, skipped.Stderr);
        Assert.Contains("invalid records skipped: 1", skipped.Stdout);
        Assert.Contains($"{path}:2: malformed JSON", skipped.Stdout);
    }

    [Fact]
    public void Stats_rejects_an_unknown_format_name()
    {
        var r = CliRunner.Run("data", "stats", SmallSet(), "--format", "csv");
        Assert.NotEqual(0, r.ExitCode);
    }

    [Fact]
    public void Prepare_writes_a_stratified_subset_that_reads_back()
    {
        var input = TestFiles.Write(dir, "in.jsonl", [..
            Enumerable.Range(0, 8).Select(i => $$"""{"problem": "a{{i}}", "solution": "\\boxed{{{i}}}", "level": "Level 1", "type": "Algebra"}"""),
            ..Enumerable.Range(0, 4).Select(i => $$"""{"problem": "g{{i}}", "solution": "\\boxed{{{i}}}", "level": "Level 2", "type": "Geometry"}""")]);
        var output = Path.Combine(dir, "out");

        var r = CliRunner.Run("data", "prepare", "--input", input, "--subset", "0.5", "--seed", "7", "--out", output);

        Assert.True(r.ExitCode == 0, r.Stderr);
        // floor(8 x 0.5) = 4 Algebra, floor(4 x 0.5) = 2 Geometry.
        Assert.Matches(@"Algebra\s+8\s+4", r.Stdout);
        Assert.Matches(@"Geometry\s+4\s+2", r.Stdout);
        var back = MathDataset.Load(Path.Combine(output, "in.jsonl"));
        Assert.Equal(6, back.Problems.Count);
        Assert.Equal(4, back.Problems.Count(p => p.Type == "Algebra"));
        Assert.All(back.Problems, p => Assert.Equal(p.Problem[1..], p.Gold)); // a3 has gold 3, ...
        Assert.All(back.Problems, p => Assert.StartsWith("in-", p.Id));
        Assert.Empty(back.Disagreements);
        Assert.True(File.Exists(Path.Combine(output, "prepare.json")));

        var again = Path.Combine(dir, "again");
        CliRunner.Run("data", "prepare", "--input", input, "--subset", "0.5", "--seed", "7", "--out", again);
        Assert.Equal(File.ReadAllText(Path.Combine(output, "in.jsonl")), File.ReadAllText(Path.Combine(again, "in.jsonl")));
    }

    [Fact]
    public void Prepare_with_a_size_writes_exactly_that_many_from_a_bundled_set()
    {
        var output = Path.Combine(dir, "eval");
        var r = CliRunner.Run("data", "prepare", "--input", "bundled:test", "--size", "500", "--out", output);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var written = MathDataset.Load(Path.Combine(output, "test.jsonl")).Problems;
        Assert.Equal(500, written.Count);
        // the largest-remainder split of the 1,246 test problems by type (see StratifiedSubsetTests).
        Assert.Equal(119, written.Count(p => p.Type == "Algebra"));
        Assert.Equal(55, written.Count(p => p.Type == "Precalculus"));
    }

    [Fact]
    public void Prepare_refuses_subset_and_size_together()
    {
        var r = CliRunner.Run("data", "prepare", "--input", SmallSet(), "--subset", "0.5", "--size", "2", "--out", Path.Combine(dir, "x"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--subset or --size", r.Stderr);
    }

    [Fact]
    public void Show_prints_the_problem_solution_and_gold()
    {
        var r = CliRunner.Run("data", "show", SmallSet(), "--id", "small-2");

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("gold: 2", r.Stdout);
        Assert.Contains("answer field: 3", r.Stdout);
        Assert.Contains("type: Algebra", r.Stdout);
        Assert.Contains("problem:\nbb", r.Stdout);
        Assert.Contains("solution:\n\\boxed{5} or \\boxed{2}", r.Stdout);
    }

    [Fact]
    public void Show_of_an_unknown_id_says_what_ids_look_like()
    {
        var r = CliRunner.Run("data", "show", SmallSet(), "--id", "nope");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no problem with id 'nope'", r.Stderr);
        Assert.Contains("small-1", r.Stderr);
    }
}
