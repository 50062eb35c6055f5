using Rlvr.Data;

namespace Rlvr.Tests.Data;

public class DataReaderTests
{
    readonly string dir = Fixtures.TempDir();

    [Fact]
    public void Reference_jsonl_ids_are_stem_and_line_and_gold_is_the_last_box_not_the_answer_field()
    {
        var path = TestFiles.Write(dir, "mini.jsonl",
            """{"problem": "1+1?", "solution": "It is $\\boxed{2}$.", "level": "Level 1", "type": "Algebra", "answer": "2"}""",
            "",
            """{"problem": "Half?", "solution": "First \\boxed{1}, then $\\boxed{\\frac{1}{2}}$.", "level": "Level 2", "type": "Prealgebra", "answer": "1"}""",
            """{"problem": "Set?", "solution": "$\\boxed{\\{1, 2\\}}$", "level": "Level 3", "type": "Algebra", "answer": ""}""");

        var r = MathDataset.Load(path);

        Assert.Equal(DataFormat.Problems, r.Format);
        Assert.Equal(["mini-1", "mini-3", "mini-4"], r.Problems.Select(p => p.Id));
        Assert.Equal(["2", @"\frac{1}{2}", @"\{1, 2\}"], r.Problems.Select(p => p.Gold));
        Assert.Equal(["Level 1", "Level 2", "Level 3"], r.Problems.Select(p => p.Level));
        Assert.Equal("Prealgebra", r.Problems[1].Type);
        Assert.All(r.Problems, p => Assert.Equal("mini.jsonl", p.Source));
        Assert.Equal(
            [new AnswerDisagreement("mini-3", "1", @"\frac{1}{2}"), new AnswerDisagreement("mini-4", "", @"\{1, 2\}")],
            r.Disagreements);
        Assert.Empty(r.WithoutGold);
        Assert.Empty(r.Invalid);
    }

    [Fact]
    public void Answers_differing_only_in_whitespace_are_not_disagreements()
    {
        var path = TestFiles.Write(dir, "ws.jsonl",
            """{"problem": "p", "solution": "\\boxed{(1, 2)}", "answer": "(1,2)"}""");
        Assert.Empty(MathDataset.Load(path).Disagreements);
    }

    [Fact]
    public void Problems_without_an_extractable_answer_are_listed_and_excluded()
    {
        var path = TestFiles.Write(dir, "nogold.jsonl",
            """{"problem": "a", "solution": "so \\boxed{3}", "type": "Algebra", "level": "Level 1"}""",
            """{"problem": "b", "solution": "the answer is $\\boxed{}$.", "type": "Algebra", "level": "Level 1"}""",
            """{"problem": "c", "solution": "no box at all", "type": "Algebra", "level": "Level 1"}""");

        var r = MathDataset.Load(path);

        Assert.Equal(["nogold-1"], r.Problems.Select(p => p.Id));
        Assert.Equal(["nogold-2", "nogold-3"], r.WithoutGold.Select(p => p.Id));
        Assert.All(r.WithoutGold, p => Assert.Null(p.Gold));
        Assert.Equal(3, r.ProblemCount);
    }

    [Fact]
    public void Hf_style_rows_take_ids_subject_and_numeric_levels_and_keep_the_answer_field_for_comparison()
    {
        // MATH-500's layout: unique_id, subject, an integer level.
        var path = TestFiles.Write(dir, "math500.jsonl",
            """{"problem": "p", "solution": "\\boxed{7}", "answer": "7", "subject": "Number Theory", "level": 3, "unique_id": "test/number_theory/12.json"}""",
            """{"problem": "q", "solution": "\\boxed{8}", "answer": "9", "subject": "Geometry", "level": 5, "unique_id": "test/geometry/3.json"}""");

        var r = MathDataset.Load(path, DataFormats.Parse("hf"));

        Assert.Equal(["test/number_theory/12.json", "test/geometry/3.json"], r.Problems.Select(p => p.Id));
        Assert.Equal(["Number Theory", "Geometry"], r.Problems.Select(p => p.Type));
        Assert.Equal(["Level 3", "Level 5"], r.Problems.Select(p => p.Level));
        Assert.Equal(["7", "8"], r.Problems.Select(p => p.Gold));
        Assert.Equal([new AnswerDisagreement("test/geometry/3.json", "9", "8")], r.Disagreements);
    }

    [Fact]
    public void Numeric_ids_are_prefixed_with_the_file_stem()
    {
        var path = TestFiles.Write(dir, "nums.jsonl", """{"id": 17, "problem": "p", "answer": "1"}""");
        Assert.Equal("nums-17", Assert.Single(MathDataset.Load(path).Problems).Id);
    }

    [Fact]
    public void Hf_parquet_export_is_detected_and_read()
    {
        var path = TestFiles.WriteParquet(dir, "hf.parquet", new[]
        {
            new TestFiles.HfRow { Problem = "p1", Solution = @"\boxed{\sqrt{2}}", Level = "Level 4", Type = "Geometry", Answer = @"\sqrt{2}" },
            new TestFiles.HfRow { Problem = "p2", Solution = @"$\boxed{x^{2}}$", Level = "Level 1", Type = "Algebra" },
        });

        var r = MathDataset.Load(path);

        Assert.Equal(DataFormat.Problems, r.Format);
        Assert.Equal(["hf-1", "hf-2"], r.Problems.Select(p => p.Id));
        Assert.Equal([@"\sqrt{2}", "x^{2}"], r.Problems.Select(p => p.Gold));
        Assert.Equal(["Geometry", "Algebra"], r.Problems.Select(p => p.Type));
        Assert.Empty(r.Disagreements);
    }

    [Fact]
    public void Json_array_files_are_read_item_by_item()
    {
        var path = TestFiles.Write(dir, "arr.json",
            """[{"problem": "a", "solution": "\\boxed{1}"}, {"problem": "b", "solution": "\\boxed{2}"}]""");
        Assert.Equal(["1", "2"], MathDataset.Load(path).Problems.Select(p => p.Gold));
    }

    [Fact]
    public void A_json_file_may_hold_one_pretty_printed_object_or_json_lines()
    {
        var single = TestFiles.Write(dir, "one.json", """
            {
              "problem": "a",
              "solution": "\\boxed{1}"
            }
            """);
        Assert.Equal(("one-1", "1"), MathDataset.Load(single).Problems.Select(p => (p.Id, p.Gold!)).Single());

        var lines = TestFiles.Write(dir, "lines.json",
            """{"problem": "a", "solution": "\\boxed{1}"}""",
            """{"problem": "b", "solution": "\\boxed{2}"}""");
        Assert.Equal(["lines-1", "lines-2"], MathDataset.Load(lines).Problems.Select(p => p.Id));
    }

    [Fact]
    public void Verl_parquet_with_a_ground_truth_struct_derives_gold_from_the_solution_and_reports_the_target()
    {
        var rows = new[]
        {
            Verl(7, "What is 3 times 4?", @"It is $\boxed{12}$.", "12", "Level 1", "Prealgebra"),
            Verl(8, "Price?", @"It costs $\boxed{\$5}$.", "5", "Level 2", "Prealgebra"),
        };
        var path = TestFiles.WriteParquet(dir, "verl.parquet", rows);

        var r = MathDataset.Load(path);

        Assert.Equal(DataFormat.Verl, r.Format);
        Assert.Equal(["verl-7", "verl-8"], r.Problems.Select(p => p.Id));
        Assert.Equal(["What is 3 times 4?", "Price?"], r.Problems.Select(p => p.Problem));
        Assert.Equal(["12", @"\$5"], r.Problems.Select(p => p.Gold));
        Assert.Equal(["Level 1", "Level 2"], r.Problems.Select(p => p.Level));
        Assert.All(r.Problems, p => Assert.Equal("TianHongZXY/MATH", p.Source));
        Assert.Equal([new AnswerDisagreement("verl-8", "5", @"\$5")], r.Disagreements);
    }

    [Fact]
    public void Verl_parquet_without_a_solution_uses_the_target_as_gold()
    {
        var row = Verl(0, "Find the sum.", null, "70", null, null);
        var r = MathDataset.Load(TestFiles.WriteParquet(dir, "aime.parquet", new[] { row }));
        var p = Assert.Single(r.Problems);
        Assert.Equal("70", p.Gold);
        Assert.Null(p.Solution);
        Assert.Null(p.Type);
        Assert.Empty(r.Disagreements);
    }

    [Fact]
    public void Verl_with_a_plain_ground_truth_takes_the_problem_from_the_user_message_without_verls_instruction()
    {
        var row = new TestFiles.PlainVerlRow
        {
            DataSource = "DigitalLearningGmbH/MATH-lighteval",
            Prompt = [new() { Role = "system", Content = "Be brief." }, new() { Role = "user", Content = "Compute $2^5$." + " Let's think step by step and output the final answer within \\boxed{}." }],
            RewardModel = new() { GroundTruth = "32", Style = "rule" },
            ExtraInfo = new() { Index = 4, Split = "test" },
        };
        var r = MathDataset.Load(TestFiles.WriteParquet(dir, "plain.parquet", new[] { row }));

        var p = Assert.Single(r.Problems);
        Assert.Equal(DataFormat.Verl, r.Format);
        Assert.Equal("plain-4", p.Id);
        Assert.Equal("Compute $2^5$.", p.Problem);
        Assert.Equal("32", p.Gold);
    }

    [Fact]
    public void Math_release_folder_ids_are_subject_and_number_in_numeric_order()
    {
        var root = Path.Combine(dir, "MATH", "train");
        TestFiles.Write(root, "algebra/10.json", """{"problem": "p10", "level": "Level 2", "type": "Algebra", "solution": "\\boxed{10}"}""");
        TestFiles.Write(root, "algebra/2.json", """
            {
              "problem": "p2",
              "level": "Level 1",
              "type": "Algebra",
              "solution": "\\boxed{2}"
            }
            """);
        TestFiles.Write(root, "geometry/5.json", """{"problem": "g5", "level": "Level ?", "type": "Geometry", "solution": "no box"}""");

        var r = MathDataset.Load(root);

        Assert.Equal(DataFormat.MathDir, r.Format);
        Assert.Equal(["algebra/2", "algebra/10"], r.Problems.Select(p => p.Id));
        Assert.Equal(["2", "10"], r.Problems.Select(p => p.Gold));
        Assert.Equal(["Algebra", "Algebra"], r.Problems.Select(p => p.Type));
        Assert.Equal("geometry/5", Assert.Single(r.WithoutGold).Id);
        Assert.Equal("Level ?", r.WithoutGold[0].Level);
    }

    [Fact]
    public void Answer_only_sets_take_the_answer_field_as_gold()
    {
        var path = TestFiles.Write(dir, "qa.jsonl",
            """{"question": "How many?", "answer": 70}""",
            """{"Problem": "Which?", "Answer": " 12 "}""");

        var r = MathDataset.Load(path);

        Assert.Equal(DataFormat.AnswerOnly, r.Format);
        Assert.Equal(["How many?", "Which?"], r.Problems.Select(p => p.Problem));
        Assert.Equal(["70", "12"], r.Problems.Select(p => p.Gold));
    }

    [Fact]
    public void Format_qa_prefers_the_answer_field_over_the_solution()
    {
        var path = TestFiles.Write(dir, "both.jsonl", """{"problem": "p", "solution": "\\boxed{4}", "answer": "5"}""");
        Assert.Equal("4", MathDataset.Load(path).Problems[0].Gold);
        Assert.Equal("5", MathDataset.Load(path, DataFormat.AnswerOnly).Problems[0].Gold);
    }

    [Fact]
    public void Malformed_json_names_the_file_and_line()
    {
        var path = TestFiles.Write(dir, "bad.jsonl",
            """{"problem": "a", "solution": "\\boxed{1}"}""",
            """{"problem": "b", "solution": "\\boxed{2}"}""",
            """{"problem": "c", "solution": """);

        var e = Assert.Throws<InvalidDataException>(() => MathDataset.Load(path));
        Assert.StartsWith($"{path}:3: malformed JSON", e.Message);
    }

    [Fact]
    public void A_record_without_a_problem_names_the_file_line_and_fields_present()
    {
        var path = TestFiles.Write(dir, "noproblem.jsonl",
            """{"problem": "a", "solution": "\\boxed{1}"}""",
            """{"prob": "b", "solution": "\\boxed{2}"}""");

        var e = Assert.Throws<InvalidDataException>(() => MathDataset.Load(path));
        Assert.Equal($"{path}:2: no 'problem' or 'question' text (fields present: prob, solution)", e.Message);
    }

    [Fact]
    public void Skip_invalid_counts_and_explains_every_skipped_record()
    {
        var path = TestFiles.Write(dir, "mixed.jsonl",
            """{"problem": "a", "solution": "\\boxed{1}"}""",
            "not json",
            """{"problem": {"text": "b"}, "solution": "\\boxed{2}"}""",
            "[1, 2]",
            """{"problem": "e", "solution": "\\boxed{5}", "id": "x"}""",
            """{"problem": "f", "solution": "\\boxed{6}", "id": "x"}""");

        var r = MathDataset.Load(path, skipInvalid: true);

        Assert.Equal(["mixed-1", "x"], r.Problems.Select(p => p.Id));
        Assert.Equal([$"{path}:2", $"{path}:3", $"{path}:4", $"{path}:6"], r.Invalid.Select(i => i.Location));
        Assert.StartsWith("malformed JSON", r.Invalid[0].Reason);
        Assert.Equal("'problem' must be text, not an object", r.Invalid[1].Reason);
        Assert.Equal("expected a JSON object", r.Invalid[2].Reason);
        Assert.Equal($"duplicate id 'x' (first at {path}:5)", r.Invalid[3].Reason);
    }

    [Fact]
    public void A_bad_parquet_row_is_named_by_row_number()
    {
        var rows = new[]
        {
            Verl(0, "ok", @"\boxed{1}", "1", "Level 1", "Algebra"),
            new TestFiles.VerlRow { Level = "Level 1", Type = "Algebra", ExtraInfo = new() { Index = 1 } },
        };
        var path = TestFiles.WriteParquet(dir, "badrow.parquet", rows);

        var e = Assert.Throws<InvalidDataException>(() => MathDataset.Load(path, DataFormat.Verl));
        Assert.Equal($"{path}: row 2: no 'reward_model' struct", e.Message);
        Assert.Equal(1, MathDataset.Load(path, DataFormat.Verl, skipInvalid: true).Invalid.Count);
    }

    [Fact]
    public void A_file_whose_format_cannot_be_told_says_which_fields_it_has()
    {
        var path = TestFiles.Write(dir, "odd.jsonl", """{"text": "a", "label": 1}""");
        var e = Assert.Throws<InvalidDataException>(() => MathDataset.Load(path));
        Assert.Contains("(text, label)", e.Message);
        Assert.Contains("--format", e.Message);
    }

    [Fact]
    public void A_missing_file_and_an_unknown_bundled_name_are_errors()
    {
        Assert.Throws<FileNotFoundException>(() => MathDataset.Load(Path.Combine(dir, "none.jsonl")));
        var e = Assert.Throws<FileNotFoundException>(() => MathDataset.Load("bundled:nope"));
        Assert.Contains("bundled:train", e.Message);
    }

    [Fact]
    public void Canonical_records_read_back_to_the_same_problems()
    {
        var source = TestFiles.Write(dir, "src.jsonl",
            """{"problem": "a", "solution": "x \\boxed{\\frac{1}{2}}", "level": "Level 1", "type": "Algebra", "answer": "wrong"}""",
            """{"question": "b", "answer": "42"}""");
        var original = MathDataset.Load(source).Problems;
        Assert.Equal([@"\frac{1}{2}", "42"], original.Select(p => p.Gold));
        var canonical = TestFiles.Write(dir, "canonical.jsonl", [.. original.Select(p => CanonicalFormat.ToJson(p).ToJsonString())]);

        var back = MathDataset.Load(canonical);

        Assert.Equal(DataFormat.Problems, back.Format);
        Assert.Empty(back.Disagreements);
        Assert.Equal(original.Select(p => p with { GivenAnswer = p.Gold }), back.Problems);
    }

    static TestFiles.VerlRow Verl(long index, string question, string? solution, string target, string? level, string? type) => new()
    {
        Level = level,
        Type = type,
        DataSource = "TianHongZXY/MATH",
        Prompt = [new() { Role = "user", Content = question }],
        RewardModel = new() { GroundTruth = new() { Question = question, Solution = solution, Target = target }, Style = "rule" },
        ExtraInfo = new() { Index = index, Split = "train" },
    };
}
