using System.Text.Json.Nodes;
using Rlvr.Data;
using Rlvr.Generation;
using Rlvr.Math;
using Rlvr.Text;

namespace Rlvr.Evaluation;

/// <summary>One graded evaluation sample (a line of the samples JSONL).</summary>
public sealed record GradedSample(string ProblemId, int Sample, string Text, string? Extracted, GradeOutcome Outcome, int Tokens, FinishReason Finish)
{
    public bool Correct => Outcome == GradeOutcome.Correct;

    public JsonObject ToJson() => new()
    {
        ["problem_id"] = ProblemId, ["sample"] = Sample, ["correct"] = Correct,
        ["outcome"] = Outcome.JsonName(), ["extracted"] = Extracted,
        ["tokens"] = Tokens, ["finish_reason"] = Finish.JsonName(), ["text"] = Text,
    };
}

/// <summary>An evaluation's summary and every graded sample (sampled ones first, then greedy ones with Sample = -1).</summary>
public sealed record EvalResult(EvalSummary Summary, IReadOnlyList<GradedSample> Samples);

/// <summary>How to evaluate: samples per problem, the k of pass@k, sampling, an optional extra greedy pass.</summary>
public sealed record EvalRequest(int N, IReadOnlyList<int> Ks, SamplingParams Sampling, bool Greedy, VerifierOptions Verifier);

/// <summary>Samples n responses per problem, grades them (on all cores) and summarises pass@k with breakdowns.
/// The same code serves <c>rlvr eval</c> and the trainer's periodic evaluations.</summary>
public static class Evaluator
{
    public static EvalResult Run(IRolloutSource sampler, PromptEncoder prompts, IReadOnlyList<MathProblem> problems,
        EvalRequest request, EvalSettings settings, IProgress<GenerationProgress>? progress = null)
    {
        var promptIds = problems.Select(p => (IReadOnlyList<int>)prompts.Encode(p.Problem)).ToArray();
        var sampled = Grade(problems, sampler.Generate(promptIds, request.N, request.Sampling, progress), request.Verifier);
        GradedSample[]? greedy = null;
        if (request.Greedy)
        {
            var greedyParams = request.Sampling with { Temperature = 0, TopP = 1, TopK = 0 };
            greedy = Grade(problems, sampler.Generate(promptIds, 1, greedyParams, progress), request.Verifier)
                .Select(s => s with { Sample = -1 }).ToArray();
        }
        var perProblem = problems.Select((p, i) =>
        {
            var mine = sampled.Skip(i * request.N).Take(request.N).ToArray();
            return new ProblemSamples(p.Id, p.Type ?? "unknown", p.Level ?? "unknown",
                mine.Select(s => s.Correct).ToArray(), mine.Select(s => s.Outcome == GradeOutcome.NoAnswer).ToArray(),
                mine.Select(s => s.Tokens).ToArray(), greedy?[i].Correct);
        }).ToArray();
        var summary = EvalSummary.Build(settings, perProblem, request.Ks);
        return new EvalResult(summary, greedy is null ? sampled : [.. sampled, .. greedy]);
    }

    /// <summary>Grades completions (ordered by problem, then sample) against their problems' golds, in parallel.</summary>
    static GradedSample[] Grade(IReadOnlyList<MathProblem> problems, IReadOnlyList<Completion> completions, VerifierOptions options)
    {
        var results = Grading.GradeAll(completions.Select(c => (problems[c.PromptIndex].Gold!, c.Text)).ToArray(), options);
        return completions.Select((c, i) => new GradedSample(problems[c.PromptIndex].Id, c.SampleIndex, c.Text,
            results[i].Extracted, results[i].Outcome, c.TokenIds.Length, c.FinishReason)).ToArray();
    }

    /// <summary>Writes the samples as JSON Lines, atomically.</summary>
    public static void WriteSamples(string path, IEnumerable<GradedSample> samples) =>
        AtomicFile.WriteAllText(path, string.Concat(samples.Select(s => s.ToJson().ToJsonString(JsonText.Options) + "\n")));
}

/// <summary>Grading on all cores: the verifier is pure and thread-safe.</summary>
public static class Grading
{
    public static GradeResult[] GradeAll(IReadOnlyList<(string Gold, string Prediction)> pairs, VerifierOptions options)
    {
        var results = new GradeResult[pairs.Count];
        Parallel.For(0, pairs.Count, i => results[i] = MathVerifier.Grade(pairs[i].Gold, pairs[i].Prediction, options));
        return results;
    }
}
