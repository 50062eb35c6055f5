using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Rlvr.Training;

/// <summary>Every option of a training run. Defaults are the small reference's settings; the resolved
/// config is saved as <c>config.json</c> in the run folder.</summary>
public sealed class TrainConfig
{
    [TrainOption("Model folder (HuggingFace layout) or Hub id found in the local HuggingFace cache")]
    public string Model { get; set; } = "";
    [TrainOption("Display name of the model in reports (default: the model folder's name)")]
    public string? ModelName { get; set; }
    [TrainOption("Objective: psr, nsr, w-reinforce, reinforce or grpo")]
    public string Objective { get; set; } = "w-reinforce";
    [TrainOption("W-REINFORCE weight of correct samples (advantage +lambda; incorrect get -1)")]
    public double Lambda { get; set; } = 0.1;
    [TrainOption("GRPO: divide (r - group mean) by the group std (false = Dr. GRPO)")]
    public bool GrpoStdNorm { get; set; } = true;
    [TrainOption("Run folder: metrics, samples, evaluations, checkpoints")]
    public string Out { get; set; } = "runs/run";

    [TrainOption("Training steps (one rollout batch and one update each)")]
    public int Steps { get; set; } = 80;
    [TrainOption("Rollouts (samples) per step")]
    public int RolloutBatchSize { get; set; } = 64;
    [TrainOption("Samples per prompt (prompts per step = rollout-batch-size / rollouts-per-prompt)")]
    public int RolloutsPerPrompt { get; set; } = 2;
    [TrainOption("Sampling temperature of rollouts")]
    public double Temperature { get; set; } = 1.0;
    [TrainOption("Nucleus sampling threshold of rollouts (1 = off)")]
    public double TopP { get; set; } = 1.0;
    [TrainOption("Top-k of rollouts (0 = off)")]
    public int TopK { get; set; } = 0;
    [TrainOption("Most new tokens per rollout")]
    public int MaxNewTokens { get; set; } = 512;
    [TrainOption("Sequences decoded together by the sampler (0 = all rollouts of a step at once)")]
    public int SamplerBatchSize { get; set; } = 0;

    [TrainOption("Inference servers that sample the rollouts and evaluations, URL[,URL...]; not given: the built-in sampler (docs/scale-out.md)")]
    public string? RolloutServer { get; set; }
    [TrainOption("Protocol of the rollout servers: vllm (POST /v1/completions) or sglang (POST /generate)")]
    public string RolloutProtocol { get; set; } = "vllm";
    [TrainOption("Requests (one prompt with its samples each) in flight per rollout server")]
    public int RolloutInFlight { get; set; } = 4;
    [TrainOption("Seconds a rollout server may take to answer one request before it is retried on another server")]
    public int RolloutTimeout { get; set; } = 600;
    [TrainOption("How the rollout servers get the weights after each update: disk (an HF folder, then POST /update_weights_from_disk: SGLang, rlvr serve) or none")]
    public string WeightSync { get; set; } = "disk";
    [TrainOption("Folder, readable by every rollout server, that the weights are written to after each update; not given: RUN_DIR/weights")]
    public string? WeightSyncDir { get; set; }
    [TrainOption("Dtype of the synced weights: float32 (the trainer's exact values) or bfloat16 (half the bytes)")]
    public string WeightSyncDtype { get; set; } = "float32";
    [TrainOption("Largest mean |log-prob difference| between a rollout server and the trainer on the probe after a weight sync; above it the rollouts are refused as stale")]
    public double SyncTolerance { get; set; } = 0.1;
    [TrainOption("Truncated importance sampling: weight each token's loss by min(pi_trainer / pi_sampler, cap), for servers whose policy differs from the trainer's (0 = off; docs/scale-out.md)")]
    public double TisCap { get; set; } = 0;

    [TrainOption("AdamW learning rate")]
    public double Lr { get; set; } = 1e-6;
    [TrainOption("AdamW beta1")]
    public double Beta1 { get; set; } = 0.9;
    [TrainOption("AdamW beta2")]
    public double Beta2 { get; set; } = 0.95;
    [TrainOption("AdamW epsilon")]
    public double AdamEps { get; set; } = 1e-8;
    [TrainOption("AdamW decoupled weight decay")]
    public double WeightDecay { get; set; } = 0.01;
    [TrainOption("Linear learning-rate warmup steps (then constant)")]
    public int WarmupSteps { get; set; } = 0;
    [TrainOption("Gradient clipping: max global L2 norm (0 = off)")]
    public double GradClip { get; set; } = 1.0;
    [TrainOption("Gradient-accumulation micro-batches per optimizer step")]
    public int GradAccum { get; set; } = 2;
    // 2048: Qwen2.5-0.5B keeps about 2.65 MiB of activations per token without checkpointing (measured with
    // `rlvr bench train`, docs/performance.md), so an update peaks below 15 GiB; 16384 tokens would need about 52 GiB.
    [TrainOption("Most tokens (prompt + completion, padded) in one forward/backward micro-batch; larger micro-batches are split (0 = no limit). Activation memory grows with it: about 2.65 MiB per token for Qwen2.5-0.5B, 0.17 MiB with gradient checkpointing")]
    public int MicroBatchTokens { get; set; } = 2048;
    [TrainOption("Optimizer passes over each rollout batch (PPO epochs; > 1 makes the clipped ratio act)")]
    public int Epochs { get; set; } = 1;
    [TrainOption("Optimizer steps per rollout batch per epoch (> 1 makes the clipped ratio act)")]
    public int MiniBatches { get; set; } = 1;
    [TrainOption("PPO clip range epsilon of the importance ratio")]
    public double Clip { get; set; } = 0.2;
    [TrainOption("Coefficient of the k3 KL penalty to the initial model (0 = no reference model loaded)")]
    public double KlCoef { get; set; } = 0.0;
    [TrainOption("Coefficient of the entropy bonus (entropy is always logged)")]
    public double EntropyCoef { get; set; } = 0.0;
    [TrainOption("Samples the objective does not use: drop (removed, small reference) or mask (advantage 0, tokens still in the denominator, paper's code)")]
    public string Unused { get; set; } = "drop";
    [TrainOption("Loss aggregation: token-mean (paper's code), seq-mean-token-mean (small reference) or seq-mean-token-sum-norm (Dr. GRPO)")]
    public string LossAgg { get; set; } = "seq-mean-token-mean";
    [TrainOption("Recompute decoder layers in backward to save memory")]
    public bool GradientCheckpointing { get; set; } = false;

    [TrainOption("Training problems: a file (JSONL, parquet, MATH folder) or bundled:train")]
    public string TrainData { get; set; } = "bundled:train";
    [TrainOption("Evaluation problems: a file or bundled:test")]
    public string EvalData { get; set; } = "bundled:test";
    [TrainOption("Evaluate every N steps (and at step 0 and at the end); 0 = never")]
    public int EvalEvery { get; set; } = 10;
    [TrainOption("Evaluate on the first N problems of a fixed stratified subset of the evaluation data (0 = all)")]
    public int EvalLimit { get; set; } = 0;
    [TrainOption("Samples per evaluation problem")]
    public int EvalN { get; set; } = 1;
    [TrainOption("Comma-separated k of pass@k in evaluations (k <= eval-n)")]
    public string EvalK { get; set; } = "1";
    [TrainOption("Evaluation sampling temperature (0 = greedy)")]
    public double EvalTemperature { get; set; } = 0.6;
    [TrainOption("Evaluation nucleus sampling threshold")]
    public double EvalTopP { get; set; } = 0.95;
    [TrainOption("Most new tokens per evaluation sample")]
    public int EvalMaxNewTokens { get; set; } = 512;
    [TrainOption("Prompt template: reference, paper, or a file with a {problem} placeholder")]
    public string Prompt { get; set; } = "reference";
    [TrainOption("System prompt replacing the template's")]
    public string? SystemPrompt { get; set; }
    [TrainOption("Reward only answers in \\boxed{} (false: also 'answer is X' forms and the last number)")]
    public bool RequireBoxed { get; set; } = true;

    [TrainOption("Save a checkpoint every N steps (and at the end); 0 = only at the end")]
    public int SaveEvery { get; set; } = 20;
    [TrainOption("Checkpoints kept (the newest; 0 = all). Each holds the fp32 weights and the AdamW moments: about 16 bytes per parameter")]
    public int KeepCheckpoints { get; set; } = 2;
    [TrainOption("Random seed (data order, sampling)")]
    public int Seed { get; set; } = 42;
    [TrainOption("Device: cpu, or cuda[:N] where TorchSharp has CUDA")]
    public string Device { get; set; } = "cpu";
    [TrainOption("Torch threads (0 = torch's default)")]
    public int Threads { get; set; } = 0;

    public static readonly string[] Objectives = ["psr", "nsr", "w-reinforce", "reinforce", "grpo"];

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    /// <summary>The options, in declaration order.</summary>
    public static IReadOnlyList<PropertyInfo> Options => ConfigSchema.Options(typeof(TrainConfig));

    /// <summary>The option's key in config files (snake_case).</summary>
    public static string Key(PropertyInfo option) => ConfigSchema.Key(option);

    /// <summary>The option's command-line flag (--kebab-case).</summary>
    public static string Flag(PropertyInfo option) => ConfigSchema.Flag(option);

    public static string Description(PropertyInfo option) => ConfigSchema.Description(option);

    /// <summary>Reads a JSON config file (<see cref="ConfigSchema.Load{T}"/>).</summary>
    public static TrainConfig Load(string path) => ConfigSchema.Load<TrainConfig>(path);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainConfig FromJson(string json, string source) =>
        JsonSerializer.Deserialize<TrainConfig>(json, Json) ?? throw new InvalidDataException($"{source}: empty config");

    public TrainConfig Clone() => FromJson(ToJson(), "clone");

    /// <summary>The display name in reports: <see cref="ModelName"/> or the model folder's last part.</summary>
    [JsonIgnore]
    public string DisplayModelName => ModelName ?? Path.GetFileName(Model.TrimEnd('/', '\\'));

    [JsonIgnore]
    public int PromptsPerStep => RolloutBatchSize / RolloutsPerPrompt;

    [JsonIgnore]
    public IReadOnlyList<int> EvalKs => EvalK.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(k => int.TryParse(k, out var v) && v > 0 ? v : throw new ArgumentException($"eval_k: '{k}' is not a positive integer")).ToArray();

    /// <summary>Checks values and their combinations; the message names the option.</summary>
    public void Validate()
    {
        void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Model.Length > 0, "model: required (a model folder or Hub id)");
        Check(Objectives.Contains(Objective), $"objective: '{Objective}' is not one of {string.Join(", ", Objectives)}");
        Check(Steps >= 0, "steps: must be >= 0");
        Check(RolloutsPerPrompt >= 1, "rollouts_per_prompt: must be >= 1");
        Check(RolloutBatchSize >= RolloutsPerPrompt && RolloutBatchSize % RolloutsPerPrompt == 0,
            $"rollout_batch_size ({RolloutBatchSize}) must be a positive multiple of rollouts_per_prompt ({RolloutsPerPrompt})");
        Check(Temperature > 0, "temperature: rollouts need a temperature > 0");
        Check(TopP > 0 && TopP <= 1, "top_p: must be in (0, 1]");
        Check(MaxNewTokens >= 1 && EvalMaxNewTokens >= 1, "max_new_tokens and eval_max_new_tokens must be >= 1");
        Check(Lr >= 0, "lr: must be >= 0");
        Check(GradAccum >= 1, "grad_accum: must be >= 1");
        Check(Epochs >= 1 && MiniBatches >= 1, "epochs and mini_batches must be >= 1");
        Check(Clip > 0, "clip: must be > 0");
        Check(Unused is "drop" or "mask", $"unused: '{Unused}' is not drop or mask");
        Check(LossAgg is "token-mean" or "seq-mean-token-mean" or "seq-mean-token-sum-norm", $"loss_agg: '{LossAgg}' is not token-mean, seq-mean-token-mean or seq-mean-token-sum-norm");
        Check(EvalEvery >= 0 && SaveEvery >= 0, "eval_every and save_every must be >= 0");
        Check(EvalN >= 1, "eval_n: must be >= 1");
        Check(EvalKs.All(k => k <= EvalN), $"eval_k: every k must be <= eval_n ({EvalN})");
        Check(RolloutProtocol is "vllm" or "sglang", $"rollout_protocol: '{RolloutProtocol}' is not vllm or sglang");
        Check(WeightSync is "disk" or "none", $"weight_sync: '{WeightSync}' is not disk or none");
        Check(WeightSyncDtype is "float32" or "bfloat16", $"weight_sync_dtype: '{WeightSyncDtype}' is not float32 or bfloat16");
        Check(RolloutInFlight >= 1 && RolloutTimeout >= 1, "rollout_in_flight and rollout_timeout must be >= 1");
        Check(SyncTolerance >= 0 && TisCap >= 0, "sync_tolerance and tis_cap must be >= 0");
        if (RolloutServer is { Length: > 0 }) Rlvr.Rollouts.RemoteRolloutOptions.ParseServers(RolloutServer);
    }
}
