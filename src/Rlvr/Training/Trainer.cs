using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlvr.Data;
using Rlvr.Evaluation;
using Rlvr.Generation;
using Rlvr.Math;
using Rlvr.Model;
using Rlvr.Reporting;
using Rlvr.Rollouts;
using Rlvr.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>
/// The RL loop, top to bottom: each step samples rollouts for a group of training problems, grades
/// them, turns correctness into advantages with the objective, and updates the policy with the
/// policy-gradient loss; metrics go to the run folder every step, evaluations and checkpoints every
/// few steps. Everything a step does depends only on (weights, optimizer state, seed, step), so a run
/// resumed from a checkpoint continues exactly as the uninterrupted run would have.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly TrainConfig config;
    readonly TextWriter console;
    readonly LoadedModel policy;
    readonly LoadedModel? reference;
    readonly PromptEncoder prompts;
    readonly IRolloutSource rolloutSource;
    readonly AdamW optimizer;
    readonly IReadOnlyList<MathProblem> train;
    readonly RunEvaluation evaluation;
    readonly Objective objective;
    readonly ObjectiveOptions objectiveOptions;
    readonly PolicyUpdate update;
    readonly UnusedSamples unused;
    readonly VerifierOptions verifier;
    readonly MetricSink metrics;
    readonly string samplesPath;
    int startStep;

    public const string ConfigFile = "config.json";
    public const string SamplesFile = "samples.jsonl";
    public const string SummaryFile = "summary.json";

    Trainer(TrainConfig config, TextWriter console, bool resume)
    {
        this.config = config;
        this.console = console;
        var runDir = config.Out;
        int? checkpoint = resume ? Checkpoint.Latest(runDir) : null;
        if (config.Threads > 0) torch.set_num_threads(config.Threads);
        var device = ModelDevice.Parse(config.Device);

        policy = ModelFolder.Load(checkpoint is { } c ? Checkpoint.Folder(runDir, c) : config.Model, device);
        policy.Model.GradientCheckpointing = config.GradientCheckpointing;
        reference = config.KlCoef != 0 ? ModelFolder.Load(config.Model, device) : null;
        prompts = PromptEncoder.ForModel(policy.Directory, config.Prompt, config.SystemPrompt);
        Func<IReadOnlyList<int>, string> decode = ids => prompts.Tokenizer.Decode(ids, skipSpecialTokens: true);
        rolloutSource = config.RolloutServer is { Length: > 0 } servers
            ? new RemoteRollouts(new RemoteRolloutOptions(RemoteRolloutOptions.ParseServers(servers), RolloutProtocol.Parse(config.RolloutProtocol),
                IWeightLoader.Parse(config.WeightSync), TimeSpan.FromSeconds(config.RolloutTimeout), config.RolloutInFlight,
                config.WeightSyncDir ?? Path.Combine(runDir, "weights"), ModelFolder.ParseDtype(config.WeightSyncDtype), config.SyncTolerance),
                policy.Generation.EosTokenIds, decode, console.WriteLine)
            : new Sampler(policy, decode, config.SamplerBatchSize > 0 ? config.SamplerBatchSize : config.RolloutBatchSize);
        optimizer = new AdamW(policy.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(),
            config.Beta1, config.Beta2, config.AdamEps, config.WeightDecay);

        train = MathDataset.Load(config.TrainData).Problems;

        objective = Objectives.Get(config.Objective);
        objectiveOptions = new ObjectiveOptions((float)config.Lambda, config.GrpoStdNorm);
        update = new PolicyUpdate(policy, optimizer,
            new PolicyLossOptions(config.Clip, config.KlCoef, config.EntropyCoef, PolicyLoss.ParseAggregation(config.LossAgg), config.TisCap),
            new UpdateSchedule(config.Epochs, config.MiniBatches, config.GradAccum, config.MicroBatchTokens, config.GradClip, config.MaxNewTokens),
            reference);
        unused = PolicyLoss.ParseUnused(config.Unused);
        verifier = VerifierOptions.Default with { Extraction = config.RequireBoxed ? ExtractionOptions.BoxedOnly : ExtractionOptions.Default };

        metrics = new MetricSink(runDir, config.Steps, console);
        evaluation = new RunEvaluation(rolloutSource, prompts, RunEvaluation.LoadProblems(config.EvalData, config.EvalLimit, config.Seed),
            new EvalPlan(config.EvalN, config.EvalKs, config.EvalTemperature, config.EvalTopP, config.EvalMaxNewTokens, verifier,
                config.Seed, config.DisplayModelName, config.EvalData), runDir, metrics, console);
        samplesPath = Path.Combine(runDir, SamplesFile);
        if (checkpoint is { } step)
        {
            startStep = Checkpoint.RestoreOptimizer(Checkpoint.Folder(runDir, step), optimizer);
            metrics.ResumeAt(startStep);
            MetricsWriter.TruncateAfter(samplesPath, startStep);
            console.WriteLine($"resuming {runDir} from the checkpoint at step {startStep}");
        }
    }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) the training described by <paramref name="config"/>.</summary>
    public static void Run(TrainConfig config, bool resume, TextWriter console)
    {
        config.Validate();
        var runDir = config.Out;
        if (resume)
        {
            var saved = Path.Combine(runDir, ConfigFile);
            if (!File.Exists(saved)) throw new FileNotFoundException($"{saved}: no run to resume in {runDir}");
            if (Checkpoint.Latest(runDir) is null)
            {
                // Stopped before its first checkpoint: nothing to continue from, so what it logged is dropped and it starts over.
                console.WriteLine($"{runDir} has no checkpoint yet: starting it over");
                DeleteOutputs(runDir);
                resume = false;
            }
        }
        else if (File.Exists(Path.Combine(runDir, MetricsWriter.FileName)))
            throw new IOException($"{runDir} already holds a run (metrics.jsonl); use --resume {runDir} to continue it or choose another --out");
        Directory.CreateDirectory(runDir);
        config.ModelName ??= config.DisplayModelName;
        if (!resume) AtomicFile.WriteAllText(Path.Combine(runDir, ConfigFile), config.ToJson());
        using var trainer = new Trainer(config, console, resume);
        trainer.Loop();
    }

    /// <summary>Removes what a run logs (metrics, events, samples, evaluations); config.json and checkpoints stay.</summary>
    static void DeleteOutputs(string runDir)
    {
        foreach (var file in new[] { MetricsWriter.FileName, SamplesFile, SummaryFile })
            File.Delete(Path.Combine(runDir, file));
        foreach (var dir in new[] { TensorBoardLog.FolderName, RunEvaluation.FolderName })
            if (Directory.Exists(Path.Combine(runDir, dir))) Directory.Delete(Path.Combine(runDir, dir), recursive: true);
    }

    void Loop()
    {
        rolloutSource.PolicyChanged(policy, startStep);   // remote servers start from the trainer's weights, whatever they were started with
        if (startStep == 0 && config.EvalEvery > 0) evaluation.At(0);
        for (int step = startStep + 1; step <= config.Steps; step++)
        {
            TrainStep(step);
            bool last = step == config.Steps;
            if (config.EvalEvery > 0 && (step % config.EvalEvery == 0 || last)) evaluation.At(step);
            if (last || (config.SaveEvery > 0 && step % config.SaveEvery == 0))
                Checkpoint.Save(config.Out, step, policy, optimizer, config.KeepCheckpoints);
        }
        var summary = new JsonObject { ["steps"] = config.Steps, ["finished"] = DateTime.UtcNow.ToString("o") };
        AtomicFile.WriteAllText(Path.Combine(config.Out, SummaryFile), summary.ToJsonString());
    }

    void TrainStep(int step)
    {
        var times = new Dictionary<string, double>();
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        double Lap() { var s = clock.Elapsed.TotalSeconds; clock.Restart(); return s; }

        // Rollouts.
        var problems = PromptSchedule.ForStep(train.Count, config.PromptsPerStep, config.Seed, step - 1).Select(i => train[i]).ToArray();
        var promptIds = problems.Select(p => prompts.Encode(p.Problem)).ToArray();
        var progress = new ConsoleProgress($"step {step} rollouts");
        var completions = rolloutSource.Generate(promptIds, config.RolloutsPerPrompt, new SamplingParams
        {
            Temperature = config.Temperature, TopP = config.TopP, TopK = config.TopK,
            MaxNewTokens = config.MaxNewTokens, Seed = StepSeeds.For(config.Seed, step),
        }, progress);
        progress.Finish();
        times["time/sampling"] = Lap();

        // Rewards.
        var grades = Grading.GradeAll(completions.Select(c => (problems[c.PromptIndex].Gold!, c.Text)).ToArray(), verifier);
        times["time/grading"] = Lap();
        var correct = problems.Select((_, p) => (IReadOnlyList<bool>)completions.Select((c, i) => (c, i))
            .Where(x => x.c.PromptIndex == p).Select(x => grades[x.i].Correct).ToArray()).ToArray();
        var advantages = objective(correct, objectiveOptions).SelectMany(a => a).ToArray();   // ordered by (prompt, sample) like completions
        var enters = PolicyLoss.EntersLossBatch(advantages.Select(a => a.Used).ToArray(), unused);

        var m = RolloutMetrics(completions, grades, correct);
        var extra = new Dictionary<string, string>();
        var rollouts = completions.Select((c, i) => (c, i)).Where(x => enters[x.i])
            .Select(x => new Rollout(promptIds[x.c.PromptIndex], x.c.TokenIds, x.c.LogProbs, advantages[x.i].Advantage)).ToList();
        m["samples_kept"] = advantages.Count(a => a.Used);
        var skip = SkipReason(grades, advantages);
        if (skip is null)
        {
            var u = update.Run(rollouts, LearningRate(step));
            times["time/logprobs"] = u.ForwardSeconds;
            times["time/backward"] = u.BackwardSeconds;
            times["time/optimizer"] = u.OptimizerSeconds;
            m["clip_ratio"] = u.ClipRatio;
            m["entropy"] = u.Entropy;
            if (u.Kl is { } kl) m["kl"] = kl;
            if (u.OptimizerSteps > 0) { m["loss"] = u.Loss; m["grad_norm"] = u.GradNorm; }
            if (u.SamplerMismatch is { } off) { m["offpolicy/logprob_abs_diff"] = off.MeanAbsLogProbDiff; m["offpolicy/kl"] = off.Kl; }
            if (u.NonFinite > 0) skip = $"non-finite loss or gradient: {u.NonFinite} of {u.NonFinite + u.OptimizerSteps} optimizer steps skipped";
        }
        if (skip is not null) extra["skipped"] = skip;
        Lap();
        rolloutSource.PolicyChanged(policy, step);   // before step N+1 samples, the servers serve step N's weights
        times["time/weight_sync"] = Lap();
        m["lr"] = LearningRate(step);
        times["time/step"] = total.Elapsed.TotalSeconds;
        foreach (var (k, v) in times) m[k] = v;
        metrics.Train(step, m, extra);
        AppendSamples(step, problems, completions, grades, advantages);
    }

    /// <summary>Why a step has no learning signal: no kept sample has a nonzero advantage (all correct under NSR,
    /// all wrong under PSR or GRPO, ...). Null when there is something to learn from, whatever the batch looks like:
    /// NSR still learns from an all-wrong batch, PSR from an all-correct one.</summary>
    static string? SkipReason(GradeResult[] grades, SampleAdvantage[] advantages)
    {
        if (advantages.Any(a => a.Used && a.Advantage != 0)) return null;
        if (grades.All(g => g.Correct)) return "all samples correct: none carries a gradient under this objective";
        if (grades.All(g => !g.Correct)) return "all samples wrong: none carries a gradient under this objective";
        return "no sample kept by the objective";
    }

    double LearningRate(int step) => config.WarmupSteps > 0 ? config.Lr * System.Math.Min(1.0, step / (double)config.WarmupSteps) : config.Lr;

    Dictionary<string, double> RolloutMetrics(IReadOnlyList<Completion> completions, GradeResult[] grades, IReadOnlyList<bool>[] correctByPrompt)
    {
        var rewards = grades.Select(g => g.Correct ? 1.0 : 0.0).ToArray();
        double mean = rewards.Average();
        return new Dictionary<string, double>
        {
            ["reward"] = mean,
            ["reward_std"] = System.Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / System.Math.Max(1, rewards.Length - 1)),
            ["correct_ratio"] = mean,
            ["no_answer_ratio"] = grades.Count(g => g.Outcome == GradeOutcome.NoAnswer) / (double)grades.Length,
            ["frac_reward_zero_std"] = correctByPrompt.Count(c => c.All(x => x) || c.All(x => !x)) / (double)correctByPrompt.Length,
            ["completions/mean_length"] = completions.Average(c => c.TokenIds.Length),
            ["completions/clipped_ratio"] = completions.Count(c => c.FinishReason == FinishReason.Length) / (double)completions.Count,
        };
    }

    void AppendSamples(int step, MathProblem[] problems, IReadOnlyList<Completion> completions, GradeResult[] grades, SampleAdvantage[] advantages)
    {
        using var writer = new StreamWriter(samplesPath, append: true);
        for (int i = 0; i < completions.Count; i++)
        {
            var c = completions[i];
            var line = new JsonObject
            {
                ["step"] = step, ["problem_id"] = problems[c.PromptIndex].Id, ["sample"] = c.SampleIndex,
                ["reward"] = grades[i].Correct ? 1 : 0, ["outcome"] = grades[i].Outcome.JsonName(),
                ["extracted"] = grades[i].Extracted, ["gold"] = problems[c.PromptIndex].Gold,
                ["advantage"] = advantages[i].Advantage, ["used"] = advantages[i].Used,
                ["tokens"] = c.TokenIds.Length, ["finish_reason"] = c.FinishReason.JsonName(),
                ["completion"] = c.Text,
            };
            writer.Write(line.ToJsonString(JsonText.Options) + "\n");
        }
        writer.Flush();
    }

    public void Dispose()
    {
        metrics.Dispose();
        (rolloutSource as IDisposable)?.Dispose();
        reference?.Dispose();
        policy.Dispose();
    }
}
