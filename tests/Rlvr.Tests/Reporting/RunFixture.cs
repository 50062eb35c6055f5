using System.Globalization;
using System.Text.Json.Nodes;
using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

/// <summary>One evaluation of a synthetic run: pass@k by k (k=1 is pass@1), on <see cref="Problems"/> problems with <see cref="N"/> samples each.</summary>
public sealed record SyntheticEval(int Step, int N, int Problems, params (int K, double Value)[] PassAtK);

/// <summary>
/// Writes run folders the way the trainer will (docs/run-folder.md): config.json and eval summaries
/// with <see cref="AtomicFile"/>, metrics.jsonl through <see cref="MetricsWriter"/>.
/// </summary>
public static class RunFixture
{
    public const string Small = "Qwen2.5-0.5B-Instruct";
    public const string Medium = "Qwen2.5-1.5B-Instruct";

    public static void WriteConfig(string dir, string model, string objective, int seed, int steps) =>
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), new JsonObject
        {
            ["model"] = $"/models/{model}", ["model_name"] = model, ["objective"] = objective,
            ["lambda"] = 0.1, ["seed"] = seed, ["steps"] = steps,
        }.ToJsonString());

    /// <summary>Train metrics for steps 1..<paramref name="steps"/> with values that depend on the step: reward = base + 0.01 step.</summary>
    public static void WriteTrainSteps(MetricsWriter metrics, int fromStep, int toStep, double rewardBase)
    {
        for (var step = fromStep; step <= toStep; step++)
            metrics.Append("train", step, new Dictionary<string, double>
            {
                ["reward"] = rewardBase + 0.01 * step, ["reward_std"] = 0.5, ["correct_ratio"] = rewardBase + 0.01 * step,
                ["loss"] = 0.1 / step, ["grad_norm"] = 0.3 + 0.01 * step, ["entropy"] = 0.7 - 0.01 * step,
                ["completions/mean_length"] = 300 + step, ["samples_kept"] = 64, ["time/step"] = 30,
            });
    }

    /// <summary>Writes eval/step_NNNNNN.json and the matching metrics eval line.</summary>
    public static void WriteEval(string dir, MetricsWriter metrics, SyntheticEval e, bool writeSummary = true)
    {
        var relative = $"eval/step_{e.Step:D6}.json";
        if (writeSummary)
        {
            var passAtK = new JsonObject();
            foreach (var (k, v) in e.PassAtK) passAtK[k.ToString(CultureInfo.InvariantCulture)] = v;
            AtomicFile.WriteAllText(Path.Combine(dir, relative), new JsonObject
            {
                ["model"] = "m", ["data"] = "data/math/test.jsonl", ["step"] = e.Step, ["n"] = e.N, ["temperature"] = 0.6,
                ["top_p"] = 0.95, ["max_new_tokens"] = 512, ["n_problems"] = e.Problems, ["pass_at_k"] = passAtK,
                ["greedy_accuracy"] = null, ["mean_response_tokens"] = 310.2, ["no_answer_ratio"] = 0.03,
                ["by_type"] = new JsonObject(), ["by_level"] = new JsonObject(),
            }.ToJsonString());
        }
        metrics.Append("eval", e.Step,
            new Dictionary<string, double> { ["pass@1"] = e.PassAtK.Single(p => p.K == 1).Value, ["n_problems"] = e.Problems, ["n_samples"] = e.N },
            new Dictionary<string, string> { ["summary"] = relative });
    }

    /// <summary>
    /// A complete run: config, step-0 eval, train steps 1..20 with evals at 10 and 20, summary.json.
    /// <paramref name="passAt1"/> holds pass@1 at steps 0, 10, 20 (100 problems); steps 0 and 20 are
    /// evaluated with n = 4 and carry pass@2 and pass@4 given in <paramref name="step0K"/> / <paramref name="step20K"/>.
    /// </summary>
    public static string WriteRun(string root, string model, string objective, int seed,
        (double At0, double At10, double At20) passAt1, (double P2, double P4) step0K, (double P2, double P4) step20K)
    {
        var dir = Path.Combine(root, $"{model}-{objective}-s{seed}");
        Directory.CreateDirectory(dir);
        WriteConfig(dir, model, objective, seed, 20);
        using (var metrics = new MetricsWriter(Path.Combine(dir, MetricsWriter.FileName)))
        {
            WriteEval(dir, metrics, new SyntheticEval(0, 4, 100, (1, passAt1.At0), (2, step0K.P2), (4, step0K.P4)));
            WriteTrainSteps(metrics, 1, 10, passAt1.At0);
            WriteEval(dir, metrics, new SyntheticEval(10, 1, 100, (1, passAt1.At10)));
            WriteTrainSteps(metrics, 11, 20, passAt1.At0);
            WriteEval(dir, metrics, new SyntheticEval(20, 4, 100, (1, passAt1.At20), (2, step20K.P2), (4, step20K.P4)));
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.json"), "{\"finished\": true}");
        return dir;
    }

    /// <summary>
    /// 2 models x 3 objectives, one seed each. pass@1 (steps 0, 10, 20):
    /// 0.5B psr 0.25 0.30 0.40, nsr 0.25 0.35 0.45, w-reinforce 0.25 0.40 0.50;
    /// 1.5B psr 0.50 0.55 0.60, nsr 0.50 0.52 0.64, w-reinforce 0.50 0.58 0.70.
    /// pass@4 at step 0: 0.55 (0.5B), 0.80 (1.5B); at step 20: pass@1 + 0.15.
    /// </summary>
    public static string WriteSixRuns(string root)
    {
        (string Model, string Objective, double A0, double A10, double A20)[] runs =
        [
            (Small, "psr", 0.25, 0.30, 0.40), (Small, "nsr", 0.25, 0.35, 0.45), (Small, "w-reinforce", 0.25, 0.40, 0.50),
            (Medium, "psr", 0.50, 0.55, 0.60), (Medium, "nsr", 0.50, 0.52, 0.64), (Medium, "w-reinforce", 0.50, 0.58, 0.70),
        ];
        foreach (var r in runs)
        {
            var base4 = r.Model == Small ? 0.55 : 0.80;
            WriteRun(root, r.Model, r.Objective, 1, (r.A0, r.A10, r.A20), (base4 - 0.05, base4), (r.A20 + 0.10, r.A20 + 0.15));
        }
        return root;
    }
}
