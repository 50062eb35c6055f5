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
/// them, turns their rewards into advantages with the objective, and updates the policy with the
/// policy-gradient loss; metrics go to the run folder every step, evaluations and checkpoints every
/// few steps. Everything a step does depends only on (weights, optimizer state, seed, step), so a run
/// resumed from a checkpoint continues exactly as the uninterrupted run would have.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly TrainConfig config;
    readonly TextWriter console;
    readonly Func<string, IProgress<GenerationProgress>?> progress;
    readonly LoadedModel policy;
    readonly LoadedModel? reference;
    readonly PromptEncoder prompts;
    readonly IRolloutSource rolloutSource;
    readonly AdamW optimizer;
    readonly IReadOnlyList<MathProblem> train;
    readonly IReadOnlyList<MathProblem> eval;
    RunEvaluation evaluation = null!;
    readonly Objective objective;
    readonly ObjectiveOptions objectiveOptions;
    readonly RewardOptions rewardOptions;
    readonly PolicyUpdate update;
    readonly UnusedSamples unused;
    readonly VerifierOptions verifier;
    MetricSink metrics = null!;
    readonly string samplesPath;
    string tokenizerSource;
    int startStep;
    int nonFiniteStepsInARow;

    /// <summary>Consecutive steps whose every update was non-finite after which the run stops: it has diverged.</summary>
    public const int MaxNonFiniteStepsInARow = 5;

    // The run folder's names live in RunLayout; these stay for existing callers.
    public const string ConfigFile = RunLayout.ConfigFile;
    public const string SamplesFile = RunLayout.SamplesFile;
    public const string SummaryFile = RunLayout.SummaryFile;
    /// <summary>One line per resume that changed options: when, from which step, and each option's old and new value.</summary>
    public const string OverridesFile = RunLayout.OverridesFile;

    /// <summary>Loads and checks everything the run needs (model, tokenizer, data, checkpoint) and writes nothing:
    /// a bad input stops the run before its folder is touched.</summary>
    Trainer(TrainConfig config, TextWriter console, int? checkpoint, Func<string, IProgress<GenerationProgress>?> progress)
    {
        this.config = config;
        this.console = console;
        this.progress = progress;
        var runDir = config.Out;
        if (config.Threads > 0) torch.set_num_threads(config.Threads);
        var device = ModelDevice.Parse(config.Device);

        var trainData = MathDataset.Load(config.TrainData);
        train = trainData.Problems;
        if (trainData.WithoutGold.Count > 0)
            console.WriteLine($"{config.TrainData}: {trainData.WithoutGold.Count} of {trainData.ProblemCount} rows have no gold answer (no \\boxed{{}} in the solution, no answer) and are not trained on");
        if (train.Count == 0) throw new InvalidDataException($"{config.TrainData}: no training problem with a gold answer (every row lacks a solution with \\boxed{{}} and an answer)");
        eval = RunEvaluation.LoadProblems(config.EvalData, config.EvalLimit, config.Seed);
        if (config.EvalEvery > 0 && eval.Count == 0) throw new InvalidDataException($"{config.EvalData}: no evaluation problem with a gold answer");

        // The tokenizer and chat template: the run's own copy, else the source model's (copied into the run
        // folder at its start), never a checkpoint's, which pruning removes. Only run folders written before
        // the copy existed, whose source model is gone, fall back to the checkpoint being resumed.
        var modelDir = checkpoint is null ? ModelReference.Resolve(config.Model) : TryResolve(config.Model);
        tokenizerSource = RunOutput.OwnTokenizer(runDir)
            ?? (modelDir is not null && RunOutput.HasTokenizer(modelDir) ? modelDir : null)
            ?? (checkpoint is { } k && RunOutput.HasTokenizer(Checkpoint.Folder(runDir, k)) ? Checkpoint.Folder(runDir, k) : null)
            ?? throw new FileNotFoundException($"{modelDir ?? config.Model}: no tokenizer (tokenizer.json, or vocab.json + merges.txt); the run needs one");
        prompts = PromptEncoder.ForModel(tokenizerSource, config.Prompt, config.SystemPrompt);

        policy = config.Lora is { } lora
            ? LoraAdapter.LoadForTraining(config.Model, lora, ModelFolder.ParseDtype(config.BaseDtype), config.Seed, checkpoint is { } a ? Checkpoint.Folder(runDir, a) : null, device)
            : ModelFolder.Load(checkpoint is { } c ? Checkpoint.Folder(runDir, c) : config.Model, device);
        try
        {
            if (config.MaxNewTokens >= policy.Config.MaxPositionEmbeddings || config.EvalMaxNewTokens >= policy.Config.MaxPositionEmbeddings)
                throw new ArgumentException($"max_new_tokens ({config.MaxNewTokens}) and eval_max_new_tokens ({config.EvalMaxNewTokens}) must be below the model's max_position_embeddings ({policy.Config.MaxPositionEmbeddings})");
            policy.Model.GradientCheckpointing = config.GradientCheckpointing;
            // With LoRA the reference is the policy with its adapters off (PolicyUpdate turns them off): no second model.
            reference = config.KlCoef == 0 ? null : config.Lora is not null ? policy : ModelFolder.Load(config.Model, device);
        }
        catch { policy.Dispose(); throw; }
        Func<IReadOnlyList<int>, string> decode = ids => prompts.Tokenizer.Decode(ids, skipSpecialTokens: true);
        rolloutSource = config.RolloutServer is { Length: > 0 } servers
            ? new RemoteRollouts(new RemoteRolloutOptions(RemoteRolloutOptions.ParseServers(servers), RolloutProtocol.Parse(config.RolloutProtocol),
                IWeightLoader.Parse(config.WeightSync), TimeSpan.FromSeconds(config.RolloutTimeout), config.RolloutInFlight,
                config.WeightSyncDir ?? Path.Combine(runDir, "weights"), ModelFolder.ParseDtype(config.WeightSyncDtype), config.SyncTolerance),
                policy.Generation.EosTokenIds, decode, console.WriteLine)
            : new Sampler(policy, decode, config.SamplerBatchSize > 0 ? config.SamplerBatchSize : config.RolloutBatchSize);
        optimizer = new AdamW(policy.Model.TrainedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(),
            config.Beta1, config.Beta2, config.AdamEps, config.WeightDecay, MomentPrecisions.Parse(config.OptimizerStates));

        objective = Objectives.Get(config.Objective);
        objectiveOptions = new ObjectiveOptions((float)config.Lambda, config.GrpoStdNorm);
        rewardOptions = new RewardOptions(config.FormatPenalty);
        update = new PolicyUpdate(policy, optimizer,
            new PolicyLossOptions(config.Clip, config.KlCoef, config.EntropyCoef, PolicyLoss.ParseAggregation(config.LossAgg), config.Temperature, config.TisCap),
            new UpdateSchedule(config.Epochs, config.MiniBatches, config.GradAccum, config.MicroBatchTokens, config.GradClip, config.MaxNewTokens),
            reference);
        unused = PolicyLoss.ParseUnused(config.Unused);
        verifier = VerifierOptions.Default with { Extraction = config.RequireBoxed ? ExtractionOptions.BoxedOnly : ExtractionOptions.Default };
        samplesPath = Path.Combine(runDir, SamplesFile);
        if (checkpoint is { } step) startStep = Checkpoint.RestoreOptimizer(Checkpoint.Folder(runDir, step), optimizer);
    }

    static string? TryResolve(string model)
    {
        try { return ModelReference.Resolve(model); }
        catch (IOException) { return null; }
    }

    /// <summary>The first writes of the run, once every check passed: the folder, its tokenizer copy, config.json
    /// (a new run), the metric files.</summary>
    void Start(bool resume)
    {
        var runDir = config.Out;
        Directory.CreateDirectory(runDir);
        if (RunOutput.OwnTokenizer(runDir) is null) tokenizerSource = RunOutput.CopyTokenizer(tokenizerSource, runDir);
        // A resumed run records what its flags changed, then saves the resolved config, so the next resume keeps it.
        if (resume) RecordOverrides(runDir, TrainConfig.Load(Path.Combine(runDir, ConfigFile)), config, startStep);
        AtomicFile.WriteAllText(Path.Combine(runDir, ConfigFile), config.ToJson());
        metrics = new MetricSink(runDir, config.Steps, console);
        evaluation = new RunEvaluation(rolloutSource, prompts, eval,
            new EvalPlan(config.EvalN, config.EvalKs, config.EvalTemperature, config.EvalTopP, config.EvalMaxNewTokens, verifier,
                config.Seed, config.DisplayModelName, config.EvalData, config.PassAtKSamples, config.PassAtKKs), runDir, metrics, console, progress);
        if (resume)
        {
            metrics.ResumeAt(startStep);
            MetricsWriter.TruncateAfter(samplesPath, startStep);
            console.WriteLine($"resuming {runDir} from the checkpoint at step {startStep}");
        }
    }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) the training described by <paramref name="config"/>.
    /// Every option, the output folder, the model, tokenizer and data are checked before the first file is written.</summary>
    /// <param name="console">Where step lines and messages go.</param>
    /// <param name="progress">Makes a progress receiver for a sampling phase, given its label ("step 3 rollouts"); null: none.</param>
    public static void Run(TrainConfig config, bool resume, TextWriter console, Func<string, IProgress<GenerationProgress>?>? progress = null)
    {
        config.Validate();
        var runDir = config.Out;
        int? checkpoint = null;
        if (resume)
        {
            RunOutput.CheckResumable(runDir);
            checkpoint = Checkpoint.Latest(runDir);
        }
        else RunOutput.CheckNewRun(runDir, config.Model);
        config.ModelName ??= config.DisplayModelName;
        using var trainer = new Trainer(config, console, checkpoint, progress ?? (_ => null));
        if (resume && checkpoint is null)
        {
            // Stopped before its first checkpoint: nothing to continue from, so what it logged is dropped and it starts over.
            console.WriteLine($"{runDir} has no checkpoint yet: starting it over");
            DeleteOutputs(runDir);
            resume = false;
        }
        trainer.Start(resume);
        trainer.Loop();
    }

    /// <summary>Appends to overrides.jsonl what a resume changes in the saved config (nothing when nothing changes);
    /// the caller then saves the resolved config, so the next resume keeps the change.</summary>
    static void RecordOverrides(string runDir, TrainConfig saved, TrainConfig resolved, int fromStep)
    {
        var changes = TrainConfig.Differences(saved, resolved);
        if (changes.Count == 0) return;
        var line = new JsonObject
        {
            ["time"] = DateTime.UtcNow.ToString("o"), ["resumed_from_step"] = fromStep,
            ["changed"] = new JsonObject(changes.Select(c => KeyValuePair.Create(c.Key,
                (JsonNode?)new JsonObject { ["from"] = c.From?.DeepClone(), ["to"] = c.To?.DeepClone() }))),
        };
        File.AppendAllText(Path.Combine(runDir, OverridesFile), line.ToJsonString(JsonText.Options) + "\n");
    }

    /// <summary>Removes what a run logs (metrics, events, samples, evaluations); config.json and checkpoints stay.</summary>
    static void DeleteOutputs(string runDir)
    {
        foreach (var file in new[] { MetricsWriter.FileName, SamplesFile, SummaryFile, OverridesFile })
            File.Delete(Path.Combine(runDir, file));
        foreach (var dir in new[] { RunLayout.EventsFolder, RunLayout.EvalFolder })
            if (Directory.Exists(Path.Combine(runDir, dir))) Directory.Delete(Path.Combine(runDir, dir), recursive: true);
    }

    void Loop()
    {
        SyncRolloutSource(startStep);   // remote servers start from the trainer's weights, whatever they were started with
        if (startStep == 0 && config.EvalEvery > 0) evaluation.At(0, end: true);
        for (int step = startStep + 1; step <= config.Steps; step++)
        {
            TrainStep(step);
            bool last = step == config.Steps;
            if (config.EvalEvery > 0 && (step % config.EvalEvery == 0 || last)) evaluation.At(step, end: last);
            if (last || (config.SaveEvery > 0 && step % config.SaveEvery == 0))
                Checkpoint.Save(config.Out, step, policy, optimizer, config.KeepCheckpoints, tokenizerSource);
        }
        var summary = new JsonObject { ["steps"] = config.Steps, ["finished"] = DateTime.UtcNow.ToString("o") };
        AtomicFile.WriteAllText(Path.Combine(config.Out, SummaryFile), summary.ToJsonString());
    }

    /// <summary>Seconds the last weight sync took: logged as the next step's time/weight_sync (the sync before its rollouts).</summary>
    double lastSyncSeconds;

    void SyncRolloutSource(int version)
    {
        var sw = Stopwatch.StartNew();
        rolloutSource.PolicyChanged(policy, version);
        lastSyncSeconds = sw.Elapsed.TotalSeconds;
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
        var rolloutProgress = progress($"step {step} rollouts");
        var completions = rolloutSource.Generate(promptIds, config.RolloutsPerPrompt, new SamplingParams
        {
            Temperature = config.Temperature, TopP = config.TopP, TopK = config.TopK,
            MaxNewTokens = config.MaxNewTokens, Seed = StepSeeds.For(config.Seed, step),
        }, rolloutProgress);
        (rolloutProgress as IDisposable)?.Dispose();
        times["time/sampling"] = Lap();

        // Rewards.
        var grades = Grading.GradeAll(completions.Select(c => (problems[c.PromptIndex].Gold!, c.Text)).ToArray(), verifier);
        times["time/grading"] = Lap();
        var (rewards, advantages) = ScoredSamples.Score(completions, grades, objective, objectiveOptions, rewardOptions);
        // A sample whose grading failed has no advantage: it stays out of the loss batch even under --unused mask.
        var enters = PolicyLoss.EntersLossBatch(advantages.Select(a => a.Used).ToArray(), unused)
            .Select((e, i) => e && grades[i].Outcome != GradeOutcome.VerifierError).ToArray();

        var m = RolloutMetrics(completions, grades, rewards);
        var extra = new Dictionary<string, string>();
        // The old log-probs are the tempered policy's (the sampler's, before top-k/top-p): the update optimises that policy.
        var rollouts = completions.Select((c, i) => (c, i)).Where(x => enters[x.i])
            .Select(x => new Rollout(promptIds[x.c.PromptIndex], x.c.TokenIds, x.c.PolicyLogProbs, advantages[x.i].Advantage)).ToList();
        m["samples_kept"] = advantages.Count(a => a.Used);
        var skip = SkipReason(grades, advantages);
        if (skip is null)
        {
            torch.manual_seed(config.Seed + step);   // LoRA dropout masks: the same in a resumed run
            var u = update.Run(rollouts, LearningRate(step));
            times["time/forward"] = u.ForwardSeconds;
            times["time/backward"] = u.BackwardSeconds;
            times["time/optimizer"] = u.OptimizerSeconds;
            m["clip_ratio"] = u.ClipRatio;
            m["entropy"] = u.Entropy;
            m["sampler_mismatch"] = u.SamplerMismatch;
            if (u.Kl is { } kl) m["kl"] = kl;
            if (u.OptimizerSteps > 0) { m["loss"] = u.Loss; m["grad_norm"] = u.GradNorm; }
            if (u.OffPolicy is { } off) { m["offpolicy/logprob_abs_diff"] = off.MeanAbsLogProbDiff; m["offpolicy/kl"] = off.Kl; }
            if (u.NonFinite > 0) skip = $"non-finite loss, gradient or updated weights: {u.NonFinite} of {u.NonFinite + u.OptimizerSteps} optimizer steps skipped (weights and optimizer state left as they were)";
            nonFiniteStepsInARow = u.NonFinite > 0 && u.OptimizerSteps == 0 ? nonFiniteStepsInARow + 1 : 0;
        }
        if (skip is not null) extra["skipped"] = skip;
        times["time/weight_sync"] = lastSyncSeconds;
        m["lr"] = LearningRate(step);
        times["time/step"] = total.Elapsed.TotalSeconds;
        foreach (var (k, v) in times) m[k] = v;
        metrics.Train(step, m, extra);
        AppendSamples(step, problems, completions, grades, rewards, advantages);
        SyncRolloutSource(step);   // before step N+1 (or the evaluation after step N) samples, the servers serve step N's weights
        if (nonFiniteStepsInARow >= MaxNonFiniteStepsInARow)
            throw new InvalidDataException($"the run diverged: the last {nonFiniteStepsInARow} steps gave only non-finite updates (all skipped); "
                + $"lower --lr (now {config.Lr}) or set --grad-clip, then resume from the last checkpoint with --resume {config.Out}");
    }

    /// <summary>Why a step has no learning signal: no kept sample has a nonzero advantage (all correct under NSR,
    /// all wrong under PSR or GRPO, ...). Null when there is something to learn from, whatever the batch looks like:
    /// NSR still learns from an all-wrong batch, PSR from an all-correct one.</summary>
    static string? SkipReason(IReadOnlyList<GradeResult> grades, SampleAdvantage[] advantages)
    {
        if (advantages.Any(a => a.Used && a.Advantage != 0)) return null;
        if (grades.All(g => g.Correct)) return "all samples correct: none carries a gradient under this objective";
        if (grades.All(g => !g.Correct)) return "all samples wrong: none carries a gradient under this objective";
        return "no sample kept by the objective";
    }

    double LearningRate(int step) => config.WarmupSteps > 0 ? config.Lr * System.Math.Min(1.0, step / (double)config.WarmupSteps) : config.Lr;

    /// <summary>What the rollouts of a step look like: <c>reward</c> is the mean of the rewards (reward terms included),
    /// <c>correct_ratio</c> the fraction the verifier graded correct; they differ when a reward term is on.</summary>
    public static Dictionary<string, double> RolloutMetrics(IReadOnlyList<Completion> completions, IReadOnlyList<GradeResult> grades, IReadOnlyList<double> rewards)
    {
        double mean = rewards.Average();
        double Fraction(GradeOutcome o) => grades.Count(g => g.Outcome == o) / (double)grades.Count;
        var groups = rewards.Select((r, i) => (r, i)).GroupBy(x => completions[x.i].PromptIndex, x => x.r).ToList();
        return new Dictionary<string, double>
        {
            ["reward"] = mean,
            ["reward_std"] = System.Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / System.Math.Max(1, rewards.Count - 1)),
            ["correct_ratio"] = Fraction(GradeOutcome.Correct),
            ["no_answer_ratio"] = Fraction(GradeOutcome.NoAnswer),
            ["verifier_error_ratio"] = Fraction(GradeOutcome.VerifierError),
            ["frac_reward_zero_std"] = groups.Count(g => g.Distinct().Count() == 1) / (double)groups.Count,
            ["completions/mean_length"] = completions.Average(c => c.TokenIds.Length),
            ["completions/clipped_ratio"] = completions.Count(c => c.FinishReason == FinishReason.Length) / (double)completions.Count,
        };
    }

    void AppendSamples(int step, MathProblem[] problems, IReadOnlyList<Completion> completions, GradeResult[] grades, double[] rewards, SampleAdvantage[] advantages)
    {
        using var writer = new StreamWriter(samplesPath, append: true);
        for (int i = 0; i < completions.Count; i++)
        {
            var c = completions[i];
            var line = new JsonObject
            {
                ["step"] = step, ["problem_id"] = problems[c.PromptIndex].Id, ["sample"] = c.SampleIndex,
                ["reward"] = rewards[i], ["outcome"] = grades[i].Outcome.JsonName(),
                ["extracted"] = grades[i].Extracted, ["gold"] = problems[c.PromptIndex].Gold,
                ["advantage"] = advantages[i].Advantage, ["used"] = advantages[i].Used,
                ["tokens"] = c.TokenIds.Length, ["finish_reason"] = c.FinishReason.JsonName(),
                ["completion"] = c.Text,
            };
            if (grades[i].Outcome == GradeOutcome.VerifierError) line["verifier_error"] = grades[i].Reason;
            writer.Write(line.ToJsonString(JsonText.Options) + "\n");
        }
        writer.Flush();
    }

    public void Dispose()
    {
        metrics?.Dispose();
        (rolloutSource as IDisposable)?.Dispose();
        if (!ReferenceEquals(reference, policy)) reference?.Dispose();
        policy.Dispose();
    }
}
