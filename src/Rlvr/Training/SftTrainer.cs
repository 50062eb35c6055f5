using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlvr.Data;
using Rlvr.Generation;
using Rlvr.Math;
using Rlvr.Model;
using Rlvr.Reporting;
using Rlvr.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>
/// Supervised fine-tuning on (problem, worked solution) pairs: the warm start of an RL pipeline (TRL's
/// SFTTrainer, verl's SFT trainer), and how a model learns the <c>\boxed{}</c> format. Each example is the
/// prompt exactly as the RL trainer and the evaluator build it (prompt template, chat template with the
/// generation prompt) followed by the solution's tokens and the end-of-turn token; the loss is the mean
/// negative log-likelihood of the response tokens of the batch (prompt tokens carry none). AdamW with linear
/// warmup and cosine decay, gradient accumulation, periodic pass@1 by sampling + the verifier, and the RL
/// trainer's checkpoints, metric sinks and evaluation: a run resumed from a checkpoint continues exactly.
/// </summary>
public sealed class SftTrainer : IDisposable
{
    /// <summary>The final model (HF folder without optimizer state) inside the run folder.</summary>
    public const string ModelFolderName = "model";

    readonly SftConfig config;
    readonly TextWriter console;
    readonly LoadedModel policy;
    readonly AdamW optimizer;
    readonly List<Rollout> examples;
    readonly MetricSink metrics;
    readonly RunEvaluation evaluation;
    readonly UpdateSchedule schedule;
    readonly int startStep;

    SftTrainer(SftConfig config, TextWriter console, bool resume, Func<string, IProgress<Generation.GenerationProgress>?>? progress)
    {
        this.config = config;
        this.console = console;
        var runDir = config.Out;
        int? checkpoint = resume ? Checkpoint.Latest(runDir) : null;
        if (config.Threads > 0) torch.set_num_threads(config.Threads);
        policy = ModelFolder.Load(checkpoint is { } c ? Checkpoint.Folder(runDir, c) : config.Model, ModelDevice.Parse(config.Device));
        optimizer = new AdamW(policy.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(),
            config.Beta1, config.Beta2, config.AdamEps, config.WeightDecay);
        schedule = new UpdateSchedule(GradAccum: config.GradAccum, MicroBatchTokens: config.MicroBatchTokens);

        // Tokenizer and chat template from the source model: checkpoints are pruned, the source stays.
        var prompts = PromptEncoder.ForModel(config.Model, config.Prompt, config.SystemPrompt);
        examples = Examples(MathDataset.Load(config.TrainData).Problems, prompts, EndOfTurn(policy, prompts.Tokenizer), config.TrainData);
        console.WriteLine($"sft: {examples.Count} examples, {examples.Sum(e => (long)e.CompletionIds.Length):N0} response tokens " +
            $"(mean {examples.Average(e => e.PromptIds.Length):F0} prompt + {examples.Average(e => e.CompletionIds.Length):F0} response tokens)");

        metrics = new MetricSink(runDir, config.Steps, console: null);
        var sampler = new Sampler(policy, ids => prompts.Tokenizer.Decode(ids, skipSpecialTokens: true), config.SamplerBatchSize);
        evaluation = new RunEvaluation(sampler, prompts, RunEvaluation.LoadProblems(config.EvalData, config.EvalLimit, config.Seed),
            new EvalPlan(config.EvalN, config.EvalKs, config.EvalTemperature, config.EvalTopP, config.EvalMaxNewTokens,
                VerifierOptions.Default with { Extraction = ExtractionOptions.BoxedOnly }, config.Seed, Path.GetFileName(config.Out.TrimEnd('/')), config.EvalData),
            runDir, metrics, console, progress);
        if (checkpoint is { } step)
        {
            startStep = Checkpoint.RestoreOptimizer(Checkpoint.Folder(runDir, step), optimizer);
            metrics.ResumeAt(startStep);
            console.WriteLine($"resuming {runDir} from the checkpoint at step {startStep}");
        }
    }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) the fine-tuning described by <paramref name="config"/>;
    /// evaluation progress goes to what <paramref name="progress"/> makes for a label (null: none).</summary>
    public static void Run(SftConfig config, bool resume, TextWriter console, Func<string, IProgress<Generation.GenerationProgress>?>? progress = null)
    {
        config.Validate();
        var runDir = config.Out;
        var saved = Path.Combine(runDir, Trainer.ConfigFile);
        if (resume) RunOutput.CheckResumable(runDir);
        else RunOutput.CheckNewRun(runDir, config.Model);
        Directory.CreateDirectory(runDir);
        if (!resume) AtomicFile.WriteAllText(saved, config.ToJson());
        using var trainer = new SftTrainer(config, console, resume && Checkpoint.Latest(runDir) is not null, progress);
        trainer.Loop();
    }

    /// <summary>The token that ends an answer: the model's first end-of-sequence id (Qwen2.5-Instruct: &lt;|im_end|&gt;),
    /// the one the sampler stops at.</summary>
    static int EndOfTurn(LoadedModel model, QwenTokenizer tokenizer) =>
        model.Generation.EosTokenIds.Count > 0 ? model.Generation.EosTokenIds[0]
            : tokenizer.TokenId("<|im_end|>") ?? throw new InvalidDataException($"{model.Directory}: no eos_token_id in generation_config.json and no <|im_end|> token");

    /// <summary>Each problem with a solution as prompt ids + response ids (solution, end of turn); advantage 1 and no
    /// sampler log-probs, so the rollout batch machinery of the RL update serves SFT too.</summary>
    static List<Rollout> Examples(IReadOnlyList<MathProblem> problems, PromptEncoder prompts, int endOfTurn, string source)
    {
        var withSolution = problems.Where(p => !string.IsNullOrWhiteSpace(p.Solution)).ToArray();
        if (withSolution.Length == 0) throw new InvalidDataException($"{source}: no problem has a solution to fine-tune on");
        var result = new Rollout[withSolution.Length];
        Parallel.For(0, withSolution.Length, i =>
        {
            int[] response = [.. prompts.Tokenizer.Encode(withSolution[i].Solution!), endOfTurn];
            result[i] = new Rollout(prompts.Encode(withSolution[i].Problem), response, new float[response.Length], 1f);
        });
        return [.. result];
    }

    void Loop()
    {
        var total = Stopwatch.StartNew();
        if (startStep == 0 && config.EvalEvery > 0) evaluation.At(0);
        for (int step = startStep + 1; step <= config.Steps; step++)
        {
            var m = TrainStep(step);
            if (step % config.LogEvery == 0 || step == config.Steps)
                console.WriteLine($"sft step {step}/{config.Steps} | loss {m["loss"]:F4} | grad_norm {m["grad_norm"]:F2} | lr {m["lr"]:G3} | " +
                    $"{m["tokens_per_s"]:F0} tokens/s | {total.Elapsed.TotalSeconds:F0}s");
            bool last = step == config.Steps;
            if (config.EvalEvery > 0 && (step % config.EvalEvery == 0 || last)) evaluation.At(step);
            if (last || (config.SaveEvery > 0 && step % config.SaveEvery == 0))
                Checkpoint.Save(config.Out, step, policy, optimizer, config.KeepCheckpoints, ModelReference.Resolve(config.Model));
        }
        var finalModel = config.FinalModel ?? Path.Combine(config.Out, ModelFolderName);
        ModelFolder.Save(policy.Model, finalModel, ScalarType.Float32, config.Model, policy.Generation);
        var summary = new JsonObject { ["steps"] = config.Steps, ["finished"] = DateTime.UtcNow.ToString("o") };
        AtomicFile.WriteAllText(Path.Combine(config.Out, Trainer.SummaryFile), summary.ToJsonString());
        console.WriteLine($"sft: done in {total.Elapsed.TotalSeconds:F0}s; model in {finalModel}");
    }

    Dictionary<string, double> TrainStep(int step)
    {
        var clock = Stopwatch.StartNew();
        var batch = PromptSchedule.ForStep(examples.Count, config.BatchSize, config.Seed, step - 1).Select(i => examples[i]).ToList();
        long responseTokens = batch.Sum(e => (long)e.CompletionIds.Length);
        double lr = LearningRateSchedule.WarmupCosine(step, config.Steps, config.WarmupSteps, config.Lr, config.MinLrRatio);
        policy.Model.train();
        optimizer.ZeroGrad();
        double loss = 0;
        foreach (var micro in PolicyUpdate.MicroBatches(batch, schedule))
        {
            using var scope = NewDisposeScope();
            using var tensors = RolloutBatch.Create(micro, policy.Model.Device);
            var hidden = tensors.PredictorHidden(policy.Model.Hidden(tensors.InputIds, tensors.Positions));
            var logProbs = TokenLogProbs.LogProbsOnly(hidden, policy.Model.LmHeadWeight, tensors.Targets);
            // Token mean over the whole batch: every micro-batch divides by the batch's response tokens.
            var microLoss = -(logProbs * tensors.Mask).sum() / responseTokens;
            microLoss.backward();
            loss += microLoss.item<float>();
        }
        double norm = optimizer.GradNorm();
        var m = new Dictionary<string, double> { ["loss"] = loss, ["grad_norm"] = norm, ["lr"] = lr, ["tokens"] = responseTokens };
        Dictionary<string, string>? extra = null;
        bool finite = double.IsFinite(norm) && double.IsFinite(loss);
        if (finite && config.GradClip > 0) optimizer.ClipGradients(norm, config.GradClip);
        if (!finite || !optimizer.Update(lr))
            extra = new() { ["skipped"] = "non-finite loss, gradient or updated weights (weights and optimizer state left as they were)" };
        optimizer.ZeroGrad();
        policy.Model.eval();
        double seconds = clock.Elapsed.TotalSeconds;
        m["tokens_per_s"] = batch.Sum(e => (long)(e.PromptIds.Length + e.CompletionIds.Length)) / seconds;
        m["time/step"] = seconds;
        metrics.Train(step, m, extra);
        return m;
    }

    public void Dispose()
    {
        metrics.Dispose();
        policy.Dispose();
    }
}
