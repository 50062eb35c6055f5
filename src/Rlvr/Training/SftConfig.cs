using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rlvr.Training;

/// <summary>Every option of a supervised fine-tuning run (<c>rlvr sft</c>); the resolved config is saved as
/// <c>config.json</c> in the run folder. Defaults suit the embedded demo's tiny models (docs/demo.md).</summary>
public sealed class SftConfig
{
    [TrainOption("Model folder (HuggingFace layout) to start from")]
    public string Model { get; set; } = "";
    [TrainOption("Run folder: metrics, evaluations, checkpoints, and the final model in OUT/model")]
    public string Out { get; set; } = "runs/sft";
    [TrainOption("Folder for the final model (HF layout, no optimizer state; default: OUT/model)")]
    public string? FinalModel { get; set; }
    [TrainOption("Training problems with worked solutions: a file (JSONL, parquet, MATH folder) or bundled:train")]
    public string TrainData { get; set; } = "bundled:train";
    [TrainOption("Evaluation problems: a file or bundled:test")]
    public string EvalData { get; set; } = "bundled:test";
    [TrainOption("Prompt template: reference, paper, or a file with a {problem} placeholder")]
    public string Prompt { get; set; } = "reference";
    [TrainOption("System prompt replacing the template's")]
    public string? SystemPrompt { get; set; }

    [TrainOption("Optimizer steps")]
    public int Steps { get; set; } = 1000;
    [TrainOption("Examples (problem + solution) per optimizer step")]
    public int BatchSize { get; set; } = 32;
    [TrainOption("Gradient-accumulation parts per optimizer step (each may be split further by micro-batch-tokens)")]
    public int GradAccum { get; set; } = 1;
    [TrainOption("Most tokens (padded) in one forward/backward micro-batch (0 = no limit)")]
    public int MicroBatchTokens { get; set; } = 8192;
    [TrainOption("Peak AdamW learning rate")]
    public double Lr { get; set; } = 1e-3;
    [TrainOption("Learning-rate floor of the cosine decay, as a fraction of the peak")]
    public double MinLrRatio { get; set; } = 0.1;
    [TrainOption("Linear warmup steps before the cosine decay")]
    public int WarmupSteps { get; set; } = 50;
    [TrainOption("AdamW beta1")]
    public double Beta1 { get; set; } = 0.9;
    [TrainOption("AdamW beta2")]
    public double Beta2 { get; set; } = 0.95;
    [TrainOption("AdamW epsilon")]
    public double AdamEps { get; set; } = 1e-8;
    [TrainOption("AdamW decoupled weight decay")]
    public double WeightDecay { get; set; } = 0.01;
    [TrainOption("Gradient clipping: max global L2 norm (0 = off)")]
    public double GradClip { get; set; } = 1.0;

    [TrainOption("Evaluate (sampling + the verifier) every N steps, at step 0 and at the end; 0 = never")]
    public int EvalEvery { get; set; } = 200;
    [TrainOption("Evaluate on a fixed stratified subset of N evaluation problems (0 = all)")]
    public int EvalLimit { get; set; } = 200;
    [TrainOption("Samples per evaluation problem")]
    public int EvalN { get; set; } = 1;
    [TrainOption("Comma-separated k of pass@k in evaluations (k <= eval-n)")]
    public string EvalK { get; set; } = "1";
    [TrainOption("Evaluation sampling temperature (0 = greedy)")]
    public double EvalTemperature { get; set; } = 1.0;
    [TrainOption("Evaluation nucleus sampling threshold")]
    public double EvalTopP { get; set; } = 1.0;
    [TrainOption("Most new tokens per evaluation sample")]
    public int EvalMaxNewTokens { get; set; } = 256;
    [TrainOption("Sequences decoded together by the evaluation sampler")]
    public int SamplerBatchSize { get; set; } = 256;

    [TrainOption("Print a progress line every N steps (metrics.jsonl gets every step)")]
    public int LogEvery { get; set; } = 25;
    [TrainOption("Save a checkpoint every N steps (and at the end); 0 = only at the end")]
    public int SaveEvery { get; set; } = 500;
    [TrainOption("Checkpoints kept (the newest; 0 = all)")]
    public int KeepCheckpoints { get; set; } = 1;
    [TrainOption("Random seed (data order, evaluation sampling)")]
    public int Seed { get; set; } = 1;
    [TrainOption("Device: cpu, or cuda[:N] where TorchSharp has CUDA")]
    public string Device { get; set; } = "cpu";
    [TrainOption("Torch threads (0 = torch's default)")]
    public int Threads { get; set; } = 0;

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    [JsonIgnore]
    public IReadOnlyList<int> EvalKs => ConfigSchema.Ks(EvalK, "eval_k");

    /// <summary>Checks values and their combinations; the message names the option.</summary>
    public void Validate()
    {
        void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Model.Length > 0, "model: required (a model folder)");
        Check(Steps >= 1, "steps: must be >= 1");
        Check(BatchSize >= 1, "batch_size: must be >= 1");
        Check(GradAccum >= 1 && GradAccum <= BatchSize, "grad_accum: must be in 1..batch_size");
        Check(MicroBatchTokens >= 0, "micro_batch_tokens: must be >= 0");
        Check(double.IsFinite(Lr) && Lr > 0, "lr: must be a positive number");
        Check(MinLrRatio >= 0 && MinLrRatio <= 1, "min_lr_ratio: must be in [0, 1]");
        Check(WarmupSteps >= 0, "warmup_steps: must be >= 0");
        Check(Beta1 >= 0 && Beta1 < 1 && Beta2 >= 0 && Beta2 < 1, "beta1 and beta2 must be in [0, 1)");
        Check(AdamEps > 0, "adam_eps: must be > 0");
        Check(WeightDecay >= 0 && WeightDecay < 1, "weight_decay: must be in [0, 1)");
        Check(GradClip >= 0, "grad_clip: must be >= 0");
        Check(EvalEvery >= 0 && SaveEvery >= 0 && LogEvery >= 1, "eval_every and save_every must be >= 0, log_every >= 1");
        Check(EvalLimit >= 0, "eval_limit: must be >= 0");
        Check(EvalN >= 1, "eval_n: must be >= 1");
        Check(EvalKs.All(k => k <= EvalN), $"eval_k: every k must be <= eval_n ({EvalN})");
        Check(EvalTemperature >= 0, "eval_temperature: must be >= 0");
        Check(EvalTopP > 0 && EvalTopP <= 1, "eval_top_p: must be in (0, 1]");
        Check(EvalMaxNewTokens >= 1, "eval_max_new_tokens: must be >= 1");
        Check(SamplerBatchSize >= 1, "sampler_batch_size: must be >= 1");
        Check(KeepCheckpoints >= 0, "keep_checkpoints: must be >= 0");
        Check(Threads >= 0, "threads: must be >= 0");
    }
}
