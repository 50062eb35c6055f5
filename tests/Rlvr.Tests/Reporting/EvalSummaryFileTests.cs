using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class EvalSummaryFileTests
{
    static string Write(string name, string json)
    {
        var path = Path.Combine(Fixtures.TempDir(), name);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void ReadsTheDocumentedExample()
    {
        // The example of docs/run-folder.md.
        var path = Write("step_000000.json", """
            {"model": "...", "data": "...", "step": 0, "n": 4, "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 512,
             "n_problems": 1246, "pass_at_k": {"1": 0.41, "2": 0.52, "4": 0.60}, "greedy_accuracy": null,
             "mean_response_tokens": 310.2, "no_answer_ratio": 0.03,
             "by_type":  {"Algebra": {"n_problems": 298, "pass_at_k": {"1": 0.55}}},
             "by_level": {"Level 1": {"n_problems": 109, "pass_at_k": {"1": 0.80}}}}
            """);
        var s = EvalSummaryFile.Read(path);
        Assert.Equal((0, 4, 1246, 310.2), (s.Step, s.N, s.Problems, s.MeanResponseTokens));
        Assert.Equal([(1, 0.41), (2, 0.52), (4, 0.60)], s.PassAtK.Select(kv => (kv.Key, kv.Value)));
    }

    [Fact]
    public void StepFallsBackToTheFileName()
    {
        var s = EvalSummaryFile.Read(Write("step_000030.json", """{"n": 1, "n_problems": 10, "pass_at_k": {"1": 0.5}}"""));
        Assert.Equal(30, s.Step);
    }

    [Theory]
    [InlineData("""{"step": 0, "n": 1, "pass_at_k": {"1": 0.5}}""", "n_problems")]
    [InlineData("""{"step": 0, "n": 1, "n_problems": 3}""", "pass_at_k")]
    [InlineData("""{"step": 0, "n": 1, "n_problems": 3, "pass_at_k": {"one": 0.5}}""", "\"one\"")]
    [InlineData("""{"step": 0, "n": 1, "n_problems": 3, "pass_at_k": {"1": "x"}}""", "pass_at_k[\"1\"]")]
    [InlineData("""{"step": 0, "n": 1, "n_problems": 3, """, "malformed JSON")]
    public void BadSummariesNameTheFileAndTheField(string json, string field)
    {
        var path = Write("summary.json", json);
        var e = Assert.Throws<InvalidDataException>(() => EvalSummaryFile.Read(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(field, e.Message);
    }
}
