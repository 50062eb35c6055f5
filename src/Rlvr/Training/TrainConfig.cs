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
    [TrainOption("Objective: {objectives}")]
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
    [TrainOption("Sampling temperature of rollouts; the policy trained is softmax(logits / temperature), the one that sampled")]
    public double Temperature { get; set; } = 1.0;
    [TrainOption("Nucleus sampling threshold of rollouts (1 = off); the loss still uses the whole vocabulary (docs/objectives.md)")]
    public double TopP { get; set; } = 1.0;
    [TrainOption("Top-k of rollouts (0 = off); the loss still uses the whole vocabulary (docs/objectives.md)")]
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
    [TrainOption("Samples the objective does not use: {unused} (drop: removed, small reference; mask: advantage 0, tokens still in the denominator, paper's code)")]
    public string Unused { get; set; } = "drop";
    [TrainOption("Loss aggregation: {loss_aggs} (token-mean: paper's code; seq-mean-token-mean: small reference; seq-mean-token-sum-norm: Dr. GRPO)")]
    public string LossAgg { get; set; } = "seq-mean-token-mean";
    [TrainOption("Recompute decoder layers in backward to save memory")]
    public bool GradientCheckpointing { get; set; } = false;
    [TrainOption("How AdamW keeps its two moments: fp32 (8 bytes per trained parameter), bf16 (4) or 8bit (bitsandbytes' blockwise dynamic quantization, about 2; tensors under 4096 elements stay fp32)")]
    public string OptimizerStates { get; set; } = "fp32";
    [TrainOption("LoRA rank r: train low-rank adapters on the --lora-targets projections instead of all weights (0 = full fine-tuning; PEFT's common Qwen recipes use 8 to 64)")]
    public int LoraRank { get; set; } = 0;
    [TrainOption("LoRA alpha: the adapters' update is scaled by alpha / r")]
    public double LoraAlpha { get; set; } = 16;
    [TrainOption("LoRA dropout on the adapters' input while training")]
    public double LoraDropout { get; set; } = 0.05;
    [TrainOption("Comma-separated projections that get adapters (PEFT target_modules): any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")]
    public string LoraTargets { get; set; } = string.Join(",", Rlvr.Model.LoraOptions.AllProjections);
    [TrainOption("With LoRA: dtype the frozen base weights are held and computed in, float32 or bfloat16 (half the memory; bf16 matmuls are about 2x slower on CPUs without AMX)")]
    public string BaseDtype { get; set; } = "float32";

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
    [TrainOption("Samples per problem at the step-0 and final evaluations, for pass@k curves at large k (0 = eval_n)")]
    public int PassAtKSamples { get; set; } = 0;
    [TrainOption("Comma-separated k of pass@k at the step-0 and final evaluations (k <= pass_at_k_samples; default: eval_k)")]
    public string? PassAtK { get; set; }
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
    [TrainOption("Subtracted from the reward of a sample with no extractable answer (the verifier gives 1 correct, 0 otherwise)")]
    public double FormatPenalty { get; set; } = 0.0;

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

    /// <summary>The options whose values differ between two configs, by key, with both values as JSON.</summary>
    public static List<(string Key, JsonNode? From, JsonNode? To)> Differences(TrainConfig from, TrainConfig to)
    {
        var a = JsonNode.Parse(from.ToJson())!.AsObject();
        var b = JsonNode.Parse(to.ToJson())!.AsObject();
        return [.. Options.Select(Key).Where(k => !JsonNode.DeepEquals(a[k], b[k])).Select(k => (k, a[k], b[k]))];
    }

    /// <summary>Reads a JSON config file (<see cref="ConfigSchema.Load{T}"/>).</summary>
    public static TrainConfig Load(string path) => ConfigSchema.Load<TrainConfig>(path);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainConfig FromJson(string json, string source) =>
        JsonSerializer.Deserialize<TrainConfig>(json, Json) ?? throw new InvalidDataException($"{source}: empty config");

    public TrainConfig Clone() => FromJson(ToJson(), "clone");

    /// <summary>The display name in reports: <see cref="ModelName"/> or the model folder's last part.</summary>
    [JsonIgnore]
    public string DisplayModelName => ModelName ?? Path.GetFileName(Model.TrimEnd('/', '\\'));

    /// <summary>The LoRA options, or null for full fine-tuning.</summary>
    [JsonIgnore]
    public Rlvr.Model.LoraOptions? Lora => LoraRank > 0
        ? new Rlvr.Model.LoraOptions(LoraRank, LoraAlpha, LoraDropout, Rlvr.Model.LoraOptions.ParseTargets(LoraTargets))
        : null;

    [JsonIgnore]
    public int PromptsPerStep => RolloutBatchSize / RolloutsPerPrompt;

    [JsonIgnore]
    public IReadOnlyList<int> EvalKs => ConfigSchema.Ks(EvalK, "eval_k");

    /// <summary>The k of pass@k at the first and last evaluations: <see cref="PassAtK"/>, else <see cref="EvalKs"/>.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> PassAtKKs => PassAtK is null ? EvalKs : ConfigSchema.Ks(PassAtK, "pass_at_k");

    /// <summary>
    /// Checks every option against its allowed range, and their combinations, before anything is written; the
    /// message starts with the option's key and names its flag, the value and the range. The one list of ranges.
    /// </summary>
    public void Validate()
    {
        void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        // [min, max], with open ends when asked; NaN and infinities are never in range.
        void Range(string property, double value, double min, double max, bool minOpen = false, bool maxOpen = false)
        {
            bool ok = double.IsFinite(value) && (minOpen ? value > min : value >= min) && (maxOpen ? value < max : value <= max);
            var key = JsonNamingPolicy.SnakeCaseLower.ConvertName(property);
            var allowed = max == int.MaxValue ? (minOpen ? $"> {min}" : $">= {min}") : $"{(minOpen ? "(" : "[")}{min}, {max}{(maxOpen ? ")" : "]")}";
            Check(ok, FormattableString.Invariant($"{key} (--{key.Replace('_', '-')}): {value} is out of range (allowed: {allowed})"));
        }
        Check(Model.Length > 0, "model: required (a model folder or Hub id)");
        Check(Training.Objectives.Names.Contains(Objective), $"objective: '{Objective}' is not one of {string.Join(", ", Training.Objectives.Names)}");
        Range(nameof(Lambda), Lambda, 0, 1000);
        Range(nameof(Steps), Steps, 1, int.MaxValue);
        Range(nameof(RolloutsPerPrompt), RolloutsPerPrompt, 1, int.MaxValue);
        Range(nameof(RolloutBatchSize), RolloutBatchSize, 1, int.MaxValue);
        Check(RolloutBatchSize >= RolloutsPerPrompt && RolloutBatchSize % RolloutsPerPrompt == 0,
            $"rollout_batch_size ({RolloutBatchSize}) must be a positive multiple of rollouts_per_prompt ({RolloutsPerPrompt})");
        Range(nameof(Temperature), Temperature, 0, 100, minOpen: true);
        Range(nameof(TopP), TopP, 0, 1, minOpen: true);
        Range(nameof(TopK), TopK, 0, int.MaxValue);
        Range(nameof(MaxNewTokens), MaxNewTokens, 1, int.MaxValue);
        Range(nameof(SamplerBatchSize), SamplerBatchSize, 0, int.MaxValue);
        Range(nameof(Lr), Lr, 0, 1);
        Range(nameof(Beta1), Beta1, 0, 1, maxOpen: true);
        Range(nameof(Beta2), Beta2, 0, 1, maxOpen: true);
        Range(nameof(AdamEps), AdamEps, 0, 1, minOpen: true);
        Range(nameof(WeightDecay), WeightDecay, 0, 1);
        Range(nameof(WarmupSteps), WarmupSteps, 0, int.MaxValue);
        Range(nameof(GradClip), GradClip, 0, int.MaxValue);
        Range(nameof(GradAccum), GradAccum, 1, int.MaxValue);
        Range(nameof(MicroBatchTokens), MicroBatchTokens, 0, int.MaxValue);
        Range(nameof(Epochs), Epochs, 1, 1000);
        Range(nameof(MiniBatches), MiniBatches, 1, int.MaxValue);
        Check(MiniBatches <= RolloutBatchSize, $"mini_batches ({MiniBatches}) must be <= rollout_batch_size ({RolloutBatchSize})");
        Range(nameof(Clip), Clip, 0, 100, minOpen: true);
        Range(nameof(KlCoef), KlCoef, 0, 1000);
        Range(nameof(EntropyCoef), EntropyCoef, 0, 1000);
        Check(PolicyLoss.UnusedNames.Contains(Unused), $"unused: '{Unused}' is not one of {string.Join(", ", PolicyLoss.UnusedNames)}");
        Check(PolicyLoss.AggregationNames.Contains(LossAgg), $"loss_agg: '{LossAgg}' is not one of {string.Join(", ", PolicyLoss.AggregationNames)}");
        Range(nameof(FormatPenalty), FormatPenalty, 0, 1000);
        Range(nameof(EvalEvery), EvalEvery, 0, int.MaxValue);
        Range(nameof(EvalLimit), EvalLimit, 0, int.MaxValue);
        Range(nameof(EvalN), EvalN, 1, int.MaxValue);
        Check(EvalKs.Count > 0, "eval_k: give at least one k");
        Check(MomentPrecisions.Names.Contains(OptimizerStates), $"optimizer_states: '{OptimizerStates}' is not one of {string.Join(", ", MomentPrecisions.Names)}");
        Check(LoraRank >= 0, "lora_rank: must be >= 0 (0 = full fine-tuning)");
        if (LoraRank > 0) Lora!.Validate();
        Check(BaseDtype is "float32" or "bfloat16", $"base_dtype: '{BaseDtype}' is not float32 or bfloat16");
        Check(BaseDtype == "float32" || LoraRank > 0, "base_dtype: bfloat16 needs LoRA (--lora-rank): full fine-tuning updates fp32 weights");
        Check(EvalKs.All(k => k <= EvalN), $"eval_k: every k must be <= eval_n ({EvalN})");
        Range(nameof(PassAtKSamples), PassAtKSamples, 0, int.MaxValue);
        Check(PassAtKKs.All(k => k <= (PassAtKSamples > 0 ? PassAtKSamples : EvalN)), $"pass_at_k: every k must be <= pass_at_k_samples ({(PassAtKSamples > 0 ? PassAtKSamples : EvalN)})");
        Range(nameof(EvalTemperature), EvalTemperature, 0, 100);
        Range(nameof(EvalTopP), EvalTopP, 0, 1, minOpen: true);
        Range(nameof(EvalMaxNewTokens), EvalMaxNewTokens, 1, int.MaxValue);
        Range(nameof(SaveEvery), SaveEvery, 0, int.MaxValue);
        Range(nameof(KeepCheckpoints), KeepCheckpoints, 0, int.MaxValue);
        Range(nameof(Threads), Threads, 0, 4096);
        Check(Device.Trim().ToLowerInvariant() is var d && (d == "cpu" || d == "cuda" || (d.StartsWith("cuda:") && int.TryParse(d[5..], out var i) && i >= 0)),
            $"device: '{Device}' is not cpu, cuda or cuda:N");
        Check(RolloutProtocol is "vllm" or "sglang", $"rollout_protocol: '{RolloutProtocol}' is not vllm or sglang");
        Check(WeightSync is "disk" or "none", $"weight_sync: '{WeightSync}' is not disk or none");
        Check(WeightSyncDtype is "float32" or "bfloat16", $"weight_sync_dtype: '{WeightSyncDtype}' is not float32 or bfloat16");
        Check(RolloutInFlight >= 1 && RolloutTimeout >= 1, "rollout_in_flight and rollout_timeout must be >= 1");
        Check(SyncTolerance >= 0 && TisCap >= 0, "sync_tolerance and tis_cap must be >= 0");
        if (RolloutServer is { Length: > 0 }) Rlvr.Rollouts.RemoteRolloutOptions.ParseServers(RolloutServer);
    }
}
