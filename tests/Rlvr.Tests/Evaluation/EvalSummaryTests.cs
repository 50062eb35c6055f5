using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rlvr.Evaluation;

namespace Rlvr.Tests.Evaluation;

public class EvalSummaryTests
{
    static readonly EvalSettings Settings = new("Qwen2.5-0.5B-Instruct", "data/math/test.jsonl", 10, 0.6, 0.95, 512);

    // n = 4 samples each. Hand-computed below from these flags.
    static readonly ProblemSamples[] Problems =
    [
        new("p1", "Algebra", "Level 1", [true, false, false, false], [false, false, true, false], [10, 20, 30, 40], true),
        new("p2", "Algebra", "Level 2", [true, true, false, false], [false, false, false, false], [5, 5, 5, 5], false),
        new("p3", "Geometry", "Level 1", [false, false, false, false], [true, true, false, false], [100, 0, 0, 0], false),
    ];

    static EvalSummary Summary() => EvalSummary.Build(Settings, Problems, [1, 2, 4, 8]);

    [Fact]
    public void Overall_numbers_match_hand_computed_values()
    {
        var s = Summary();
        Assert.Equal(4, s.N);
        Assert.Equal(3, s.NProblems);
        Assert.Equal([1, 2, 4], s.PassAtK.Keys);              // 8 > n is left out
        Assert.Equal(0.25, s.PassAtK[1], 12);                  // (1/4 + 2/4 + 0) / 3
        Assert.Equal((0.5 + 5.0 / 6) / 3, s.PassAtK[2], 12);   // p1: 1 - C(3,2)/C(4,2) = 1/2; p2: 1 - C(2,2)/C(4,2) = 5/6
        Assert.Equal(2.0 / 3, s.PassAtK[4], 12);               // p1, p2 have a correct sample among 4
        Assert.Equal(1.0 / 3, s.GreedyAccuracy!.Value, 12);
        Assert.Equal(220.0 / 12, s.MeanResponseTokens, 12);
        Assert.Equal(3.0 / 12, s.NoAnswerRatio, 12);
        Assert.Equal((Settings.Model, Settings.Data, Settings.Step, Settings.Temperature, Settings.TopP, Settings.MaxNewTokens),
            (s.Model, s.Data, s.Step, s.Temperature, s.TopP, s.MaxNewTokens));
    }

    [Fact]
    public void Breakdowns_by_type_and_level_match_hand_computed_values()
    {
        var s = Summary();
        Assert.Equal(["Algebra", "Geometry"], s.ByType.Keys);
        Assert.Equal(2, s.ByType["Algebra"].NProblems);
        Assert.Equal(0.375, s.ByType["Algebra"].PassAtK[1], 12);
        Assert.Equal((0.5 + 5.0 / 6) / 2, s.ByType["Algebra"].PassAtK[2], 12);
        Assert.Equal(1.0, s.ByType["Algebra"].PassAtK[4], 12);
        Assert.Equal(0.0, s.ByType["Geometry"].PassAtK[4], 12);

        Assert.Equal(["Level 1", "Level 2"], s.ByLevel.Keys);
        Assert.Equal(2, s.ByLevel["Level 1"].NProblems);
        Assert.Equal(0.125, s.ByLevel["Level 1"].PassAtK[1], 12);
        Assert.Equal(0.5, s.ByLevel["Level 1"].PassAtK[4], 12);
        Assert.Equal(5.0 / 6, s.ByLevel["Level 2"].PassAtK[2], 12);
    }

    [Fact]
    public void Greedy_accuracy_is_null_without_greedy_results()
    {
        var s = EvalSummary.Build(Settings, [.. Problems.Select(p => p with { GreedyCorrect = null })], [1]);
        Assert.Null(s.GreedyAccuracy);
        Assert.Contains("\"greedy_accuracy\": null", s.ToJson());
    }

    [Fact]
    public void Json_has_exactly_the_documented_keys()
    {
        using var doc = JsonDocument.Parse(Summary().ToJson());
        Assert.Equal(
            ["model", "data", "step", "n", "temperature", "top_p", "max_new_tokens", "n_problems", "pass_at_k",
             "greedy_accuracy", "mean_response_tokens", "no_answer_ratio", "by_type", "by_level"],
            doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["1", "2", "4"], doc.RootElement.GetProperty("pass_at_k").EnumerateObject().Select(p => p.Name));
        var algebra = doc.RootElement.GetProperty("by_type").GetProperty("Algebra");
        Assert.Equal(["n_problems", "pass_at_k"], algebra.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0.375, algebra.GetProperty("pass_at_k").GetProperty("1").GetDouble(), 12);
    }

    [Fact]
    public void The_example_in_the_run_folder_doc_parses()
    {
        var doc = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "docs", "run-folder.md"));
        var section = doc[doc.IndexOf("## EvalSummary", StringComparison.Ordinal)..];
        var json = Regex.Match(section, "```json\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        var s = EvalSummary.FromJson(json, "docs/run-folder.md");
        Assert.Equal((0, 4, 1246, 310.2), (s.Step, s.N, s.NProblems, s.MeanResponseTokens));
        Assert.Equal([(1, 0.41), (2, 0.52), (4, 0.60)], s.PassAtK.Select(kv => (kv.Key, kv.Value)));
        Assert.Null(s.GreedyAccuracy);
        Assert.Equal(298, s.ByType["Algebra"].NProblems);
        Assert.Equal(0.80, s.ByLevel["Level 1"].PassAtK[1]);
    }

    [Fact]
    public void Save_and_load_round_trip()
    {
        var path = Path.Combine(Fixtures.TempDir(), "step_000010.json");
        var saved = Summary();
        saved.Save(path);
        var loaded = EvalSummary.Load(path);
        Assert.Equal(saved.ToJson(), loaded.ToJson());
        Assert.Equal(saved.PassAtK[2], loaded.PassAtK[2]);
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));   // no temporary file left
    }

    [Fact]
    public void A_summary_missing_a_key_is_rejected_naming_the_file()
    {
        var json = Summary().ToJson().Replace("\"no_answer_ratio\"", "\"no_answer\"");
        var e = Assert.Throws<InvalidDataException>(() => EvalSummary.FromJson(json, "eval/step_000010.json"));
        Assert.Contains("eval/step_000010.json", e.Message);
        Assert.Contains("no_answer_ratio", e.Message);
    }

    [Theory]
    [InlineData("n_problems", null, "'n_problems'")]                   // a key missing
    [InlineData("step", null, "'step'")]                               // no fallback to the file name: every writer writes the step
    [InlineData("pass_at_k", null, "'pass_at_k'")]
    [InlineData("pass_at_k", "null", "$.pass_at_k")]
    [InlineData("pass_at_k", "{\"one\": 0.5}", "$.pass_at_k.one")]     // k not an integer
    [InlineData("pass_at_k", "{\"0\": 0.5}", "pass_at_k has k = 0")]
    [InlineData("pass_at_k", "{\"1\": \"x\"}", "$.pass_at_k.1")]     // pass@k not a number
    [InlineData("n", "1.5", "$.n ")]
    public void Bad_summary_files_name_the_file_and_the_key(string key, string? value, string named)
    {
        var json = JsonNode.Parse(Summary().ToJson())!.AsObject();
        if (value is null) json.Remove(key); else json[key] = JsonNode.Parse(value);   // "null" parses to a JSON null
        var path = Path.Combine(Fixtures.TempDir(), "step_000010.json");
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => EvalSummary.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_truncated_summary_file_is_rejected_naming_the_file()
    {
        var path = Path.Combine(Fixtures.TempDir(), "step_000010.json");
        File.WriteAllText(path, Summary().ToJson()[..40]);
        var e = Assert.Throws<InvalidDataException>(() => EvalSummary.Load(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("not an evaluation summary", e.Message);
    }

    [Fact]
    public void Inconsistent_problems_are_rejected_naming_the_problem()
    {
        var uneven = Problems.Append(new ProblemSamples("p4", "Algebra", "Level 3", [true], [false], [3])).ToArray();
        Assert.Contains("'p4'", Assert.Throws<ArgumentException>(() => EvalSummary.Build(Settings, uneven, [1])).Message);

        var partialGreedy = Problems.Select((p, i) => i == 2 ? p with { GreedyCorrect = null } : p).ToArray();
        Assert.Contains("'p3'", Assert.Throws<ArgumentException>(() => EvalSummary.Build(Settings, partialGreedy, [1])).Message);

        var shortLengths = Problems.Select((p, i) => i == 1 ? p with { ResponseTokens = [1, 2] } : p).ToArray();
        Assert.Contains("'p2'", Assert.Throws<ArgumentException>(() => EvalSummary.Build(Settings, shortLengths, [1])).Message);

        Assert.Throws<ArgumentException>(() => EvalSummary.Build(Settings, Problems, [8]));
    }
}
