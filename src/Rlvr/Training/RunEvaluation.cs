using System.Diagnostics;
using Rlvr.Data;
using Rlvr.Evaluation;
using Rlvr.Generation;
using Rlvr.Math;
using Rlvr.Reporting;
using Rlvr.Text;

namespace Rlvr.Training;

/// <summary>How a training run evaluates: samples per problem, the k of pass@k, sampling, grading, and the
/// names its summaries carry. <paramref name="EndsN"/> samples per problem (with <paramref name="EndsKs"/>) at the
/// step-0 and last evaluations, for pass@k curves at large k without paying for them at every evaluation; 0 = N.</summary>
public sealed record EvalPlan(int N, IReadOnlyList<int> Ks, double Temperature, double TopP, int MaxNewTokens,
    VerifierOptions Verifier, int Seed, string ModelName, string DataName, int EndsN = 0, IReadOnlyList<int>? EndsKs = null);

/// <summary>
/// The evaluations a training run (RL or SFT) makes on its schedule: sample, grade and summarise the evaluation
/// problems with <see cref="Evaluator"/>, write <c>eval/step_N.json</c> and its samples, and log pass@1 to the
/// metric sink. The sampling seed depends only on (seed, step), so a resumed run evaluates as the uninterrupted one.
/// Progress goes to what <paramref name="progress"/> makes for a label (null: none).
/// </summary>
public sealed class RunEvaluation(IRolloutSource sampler, PromptEncoder prompts, IReadOnlyList<MathProblem> problems, EvalPlan plan,
    string runDir, MetricSink metrics, TextWriter console, Func<string, IProgress<GenerationProgress>?>? progress = null)
{
    public const string FolderName = RunLayout.EvalFolder;

    /// <summary>The evaluation problems of a run: all of <paramref name="spec"/>, or a fixed stratified subset of <paramref name="limit"/> (by type).</summary>
    public static IReadOnlyList<MathProblem> LoadProblems(string spec, int limit, int seed)
    {
        var all = MathDataset.Load(spec).Problems;
        return limit > 0 && limit < all.Count ? StratifiedSubset.OfSize(all, limit, Strata.Type, seed).Problems : all;
    }

    /// <summary>Evaluates the current model as the state after <paramref name="step"/> (0 = before training);
    /// <paramref name="end"/>: the first or last evaluation of the run, with the plan's <see cref="EvalPlan.EndsN"/> samples.</summary>
    public EvalSummary At(int step, bool end = false)
    {
        var sw = Stopwatch.StartNew();
        bool wide = end && plan.EndsN > 0;
        int n = wide ? plan.EndsN : plan.N;
        var request = new EvalRequest(n, wide ? plan.EndsKs ?? plan.Ks : plan.Ks, new SamplingParams
        {
            Temperature = plan.Temperature, TopP = plan.TopP, MaxNewTokens = plan.MaxNewTokens,
            Seed = StepSeeds.For(plan.Seed, -1 - step),
        }, Greedy: false, plan.Verifier);
        var settings = new EvalSettings(plan.ModelName, plan.DataName, step, plan.Temperature, plan.TopP, plan.MaxNewTokens);
        var shownProgress = progress?.Invoke($"eval at step {step}");
        var result = Evaluator.Run(sampler, prompts, problems, request, settings, shownProgress);
        (shownProgress as IDisposable)?.Dispose();
        var layout = new RunLayout(runDir);
        Directory.CreateDirectory(layout.Eval);
        Evaluator.WriteSamples(layout.EvalSamples(step), result.Samples);
        result.Summary.Save(layout.EvalSummary(step));
        var relative = RunLayout.EvalSummaryRelative(step);
        var shown = result.Samples.Take(3).Select(s => new EvalSampleText(s.ProblemId, s.Text, s.Correct ? 1 : 0)).ToList();
        metrics.Eval(step, result.Summary.PassAtK[1], result.Summary.NProblems, n, relative, shown);
        console.WriteLine($"  (evaluation took {sw.Elapsed.TotalSeconds:F1}s)");
        return result.Summary;
    }
}

/// <summary>Sampler seeds per step: rollouts and evaluations of a step are the same in a resumed run.</summary>
public static class StepSeeds
{
    public static ulong For(int seed, int step) => unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step);
}
