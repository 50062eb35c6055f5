using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>
/// A Qwen2 causal language model (Qwen2.5 and any checkpoint of the same architecture).
///
/// <see cref="Hidden"/> runs the decoder and returns final-normed hidden states; <see cref="Logits"/>
/// applies the LM head separately, so callers compute the [.., vocab] logits only where they need
/// them (the last position when decoding; chunks of positions when scoring or training, through
/// <see cref="TokenLogProbs"/> with <see cref="LmHeadWeight"/>).
///
/// Parameter names are HuggingFace's (<c>model.layers.0.self_attn.q_proj.weight</c>, ...); a tied
/// model has no <c>lm_head.weight</c>: the head is <c>model.embed_tokens.weight</c>.
/// Not implemented: sliding-window attention, scaled rotary embeddings (yarn, dynamic), dropout.
/// </summary>
public sealed class Qwen2ForCausalLM : nn.Module
{
    readonly Qwen2Backbone model;
    readonly Linear? lm_head;
    readonly Tensor invFreq;

    public Qwen2Config Config { get; }
    public Device Device { get; }
    public ScalarType DType { get; }

    /// <summary>
    /// Recompute each decoder layer in the backward pass instead of keeping its activations
    /// (only the layer inputs are kept). Applies when autograd is on and no KV cache is used.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>A model with uninitialised weights on <paramref name="device"/> (default CPU): load a checkpoint into it or call <see cref="InitializeWeights"/>.</summary>
    public Qwen2ForCausalLM(Qwen2Config config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base("Qwen2ForCausalLM")
    {
        NativeRuntime.Configure();
        Config = config;
        Device = device ?? torch.CPU;
        DType = dtype;
        model = new Qwen2Backbone(config, Device, dtype);
        register_module("model", model);
        if (!config.TieWordEmbeddings)
        {
            lm_head = Layers.Linear(config.HiddenSize, config.VocabSize, false, Device, dtype);
            register_module("lm_head", lm_head);
        }
        invFreq = InverseFrequencies(config.HeadDim, config.RopeTheta, Device);
        NativeRuntime.SuitModelSize(parameters().Sum(p => p.numel()));
    }

    /// <summary>The LM head's weight [vocab, hidden]: the embedding table when tied.</summary>
    public Tensor LmHeadWeight => lm_head?.weight ?? model.embed_tokens.weight;

    /// <summary>The parameters by HuggingFace name, in checkpoint order (LoRA adapters excluded: see <see cref="AdapterParameters"/>).</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> NamedParameters() => named_parameters().Where(p => !IsAdapterName(p.name)).ToList();

    static bool IsAdapterName(string name) => name.Contains(".lora_A.") || name.Contains(".lora_B.");

    LoraSettings? lora;

    /// <summary>The LoRA options of the model's adapters; null without adapters.</summary>
    public LoraOptions? Lora => lora?.Options;

    /// <summary>The adapters' parameters (<c>model.layers.0.self_attn.q_proj.lora_A.weight</c>, ...), in module order.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> AdapterParameters() => named_parameters().Where(p => IsAdapterName(p.name)).ToList();

    /// <summary>What training updates: the adapters when there are any, else every parameter.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> TrainedParameters() => lora is null ? NamedParameters() : AdapterParameters();

    /// <summary>Whether the adapters apply; off, the model computes exactly the base model (the KL reference, at no extra memory).</summary>
    public bool AdaptersEnabled
    {
        get => lora?.Enabled ?? false;
        set { if (lora is not null) lora.Enabled = value; }
    }

    /// <summary>Turns the adapters off until disposed: the base model, for the KL reference of a LoRA run.</summary>
    public IDisposable WithoutAdapters()
    {
        var was = AdaptersEnabled;
        AdaptersEnabled = false;
        return new Restore(() => AdaptersEnabled = was);
    }

    sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    /// <summary>
    /// Adds a LoRA adapter (A Kaiming-uniform from <paramref name="seed"/>, B = 0, so nothing changes yet) to every
    /// projection whose name is one of the targets, and freezes every base parameter: only the adapters train.
    /// </summary>
    public void AddAdapters(LoraOptions options, long seed)
    {
        options.Validate();
        if (lora is not null) throw new InvalidOperationException("the model already has LoRA adapters");
        lora = new LoraSettings(options);
        using var generator = new Generator((ulong)seed, torch.CPU);
        foreach (var (_, projection) in Projections(options.Targets)) projection.AddAdapter(lora, generator);
        foreach (var (_, p) in NamedParameters()) p.requires_grad = false;
    }

    /// <summary>Folds every adapter into its base weight (W += alpha / r * B A); the model then equals the adapted one without adapters.</summary>
    public void MergeAdapters()
    {
        if (lora is null) return;
        foreach (var (_, projection) in Projections(lora.Options.Targets)) projection.MergeAdapter();
    }

    /// <summary>The projections (module name, module) whose last name part is one of <paramref name="targets"/>, as PEFT matches target_modules.</summary>
    internal IEnumerable<(string Name, Projection Module)> Projections(IReadOnlyList<string> targets) =>
        named_modules().Where(m => m.module is Projection && targets.Contains(m.name.Split('.')[^1]))
            .Select(m => (m.name, (Projection)m.module));

    /// <summary>
    /// Final-normed hidden states [B, T, hidden] for token ids [B, T] at <paramref name="positions"/>
    /// [B, T] (int64: rotary positions, so a left-padded row starts its real tokens at 0).
    /// <para><paramref name="cache"/>: keys/values of earlier tokens; the new ones are appended at
    /// <see cref="KvCache.Length"/> (the same for every row) and the length advances by T.</para>
    /// <para><paramref name="attentionMask"/>: [B, S] with S = past length + T, nonzero for real tokens
    /// (HuggingFace's convention). Without it attention is plain causal. With it a token attends to the
    /// earlier real tokens and itself, so padded rows stay finite and never leak into real ones.</para>
    /// Inputs must be on <see cref="Device"/>. Gradients flow when autograd is enabled (training);
    /// the cache is meant for inference under <c>torch.no_grad()</c>.
    /// </summary>
    public Tensor Hidden(Tensor inputIds, Tensor positions, KvCache? cache = null, Tensor? attentionMask = null)
    {
        if (inputIds.dim() != 2 || !inputIds.shape.SequenceEqual(positions.shape))
            throw new ArgumentException($"input ids {SafeTensors.ShapeText(inputIds.shape)} and positions {SafeTensors.ShapeText(positions.shape)} must both be [batch, tokens]");
        long batch = inputIds.shape[0], tokens = inputIds.shape[1];
        var past = cache?.Length ?? 0;
        if (cache is not null && (cache.Batch != batch || past + tokens > cache.MaxLength))
            throw new ArgumentException($"KV cache holds {cache.Batch} rows of {cache.Length}/{cache.MaxLength} positions; cannot add {batch} x {tokens}");
        if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != batch || attentionMask.shape[1] != past + tokens))
            throw new ArgumentException($"attention mask {SafeTensors.ShapeText(attentionMask.shape)} must be [{batch}, {past + tokens}] (past + new tokens)");

        // Layer-input tensors (cos/sin/masks) must outlive a checkpointed forward until its backward.
        var keepForBackward = GradientCheckpointing && torch.is_grad_enabled();
        using var scope = keepForBackward ? null : torch.NewDisposeScope();
        var (cos, signedSin) = RotaryTables(positions);
        var inputs = new ForwardInputs
        {
            Cos = cos, SignedSin = signedSin, Cache = cache,
            Mask = AttentionMask(attentionMask, past, tokens, needCausal: cache is not null && tokens > 1),
        };
        var hidden = model.Forward(inputIds, inputs, checkpoint: keepForBackward && cache is null);
        cache?.Advance(tokens);
        return scope is null ? hidden : hidden.MoveToOuterDisposeScope();
    }

    /// <summary>The LM head's weight for the sampler's products: its <see cref="UseSamplingWeights"/> copy while there is one.</summary>
    public Tensor SamplingLmHeadWeight => samplingLmHead ?? LmHeadWeight;
    Tensor? samplingLmHead;

    /// <summary>Copies of every projection's weight and of the LM head in <paramref name="dtype"/> for the sampler's few-row
    /// products (<see cref="Kernels.Gemm"/>), until disposed. The fp32 weights stay, for everything else.</summary>
    public IDisposable UseSamplingWeights(ScalarType dtype)
    {
        if (samplingLmHead is not null) throw new InvalidOperationException("sampling weights are already in use");
        using var _ = no_grad();
        var projections = modules().OfType<Projection>().ToList();
        foreach (var projection in projections) projection.SamplingWeight = projection.weight.detach().to(dtype);
        samplingLmHead = LmHeadWeight.detach().to(dtype);
        return new SamplingWeights(this, projections);
    }

    sealed class SamplingWeights(Qwen2ForCausalLM model, List<Projection> projections) : IDisposable
    {
        public void Dispose()
        {
            foreach (var projection in projections)
            {
                projection.SamplingWeight?.Dispose();
                projection.SamplingWeight = null;
            }
            model.samplingLmHead?.Dispose();
            model.samplingLmHead = null;
        }
    }

    /// <summary>Logits over the vocabulary for hidden states [..., hidden] → [..., vocab].</summary>
    public Tensor Logits(Tensor hidden) => nn.functional.linear(hidden, LmHeadWeight);

    /// <summary>
    /// Random initial weights as transformers' <c>_init_weights</c> does for Qwen2: linear and embedding
    /// weights ~ normal(0, initializer_range), biases 0, norm weights 1. Deterministic for a seed
    /// (values are drawn on the CPU in parameter order, whatever the device).
    /// </summary>
    public void InitializeWeights(long seed)
    {
        using var noGrad = torch.no_grad();
        using var generator = new Generator((ulong)seed, torch.CPU);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight")) p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_();
            else
                using (var values = torch.empty(p.shape, ScalarType.Float32).normal_(0, Config.InitializerRange, generator))
                    p.copy_(values);
        }
    }

    /// <summary>inv_freq = 1 / theta^(arange(0, d, 2) / d) in fp32, exactly as transformers computes it.</summary>
    static Tensor InverseFrequencies(long headDim, double theta, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var exponent = torch.arange(0, headDim, 2, ScalarType.Int64).to(ScalarType.Float32) / headDim;
        var inv = 1.0 / torch.full_like(exponent, theta).pow(exponent);
        return inv.to(device).DetachFromDisposeScope();
    }

    /// <summary>cos and signed sin [B, T, 1, d] for positions [B, T], in fp32 like transformers, then cast to the model dtype.</summary>
    (Tensor Cos, Tensor SignedSin) RotaryTables(Tensor positions)
    {
        using var scope = torch.NewDisposeScope();
        var freqs = (positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq).unsqueeze(2);   // [B, T, 1, d/2]
        var cos = freqs.cos();
        var sin = freqs.sin();
        var cosTable = torch.cat([cos, cos], -1).to(DType);
        var sinTable = torch.cat([sin.neg(), sin], -1).to(DType);
        return (cosTable.MoveToOuterDisposeScope(), sinTable.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The boolean [B or 1, 1, T, S] mask (true = may attend) for T new tokens after <paramref name="past"/>
    /// cached ones; null when plain causal attention without a cache will do (SDPA's own causal kernel)
    /// or when a single decode token may see everything. Key s is visible to new token t when
    /// s &lt;= past + t (causal by cache index) and it is a real token, or it is the token itself.
    /// </summary>
    Tensor? AttentionMask(Tensor? attentionMask, long past, long tokens, bool needCausal)
    {
        if (attentionMask is null && !needCausal) return null;
        using var scope = torch.NewDisposeScope();
        var keys = torch.arange(past + tokens, ScalarType.Int64, Device).view(1, -1);
        var queries = torch.arange(past, past + tokens, ScalarType.Int64, Device).view(-1, 1);
        var causal = keys.le(queries);                                           // [T, S]
        if (attentionMask is null) return causal.view(1, 1, tokens, past + tokens).MoveToOuterDisposeScope();
        var real = attentionMask.to(ScalarType.Bool).view(attentionMask.shape[0], 1, 1, -1);
        var mask = causal.logical_and(real.logical_or(keys.eq(queries)));        // [B, 1, T, S]
        return mask.MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) invFreq.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>The decoder stack (HuggingFace's Qwen2Model, prefix <c>model.</c>): embedding, layers, final norm.</summary>
internal sealed class Qwen2Backbone : nn.Module
{
    public readonly Embedding embed_tokens;
    readonly ModuleList<DecoderLayer> layers;
    readonly RmsNorm norm;

    public Qwen2Backbone(Qwen2Config c, Device device, ScalarType dtype) : base("Qwen2Model")
    {
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, device, dtype);
        layers = nn.ModuleList(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new DecoderLayer(c, i, device, dtype)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype);
        register_module("embed_tokens", embed_tokens);
        register_module("layers", layers);
        register_module("norm", norm);
    }

    public Tensor Forward(Tensor inputIds, ForwardInputs inputs, bool checkpoint)
    {
        var x = embed_tokens.forward(inputIds);
        // Under no_grad each layer's input is dropped as soon as the next exists (a prefill of
        // 64 x 512 tokens would otherwise hold every layer's [B, T, hidden] until the call returns).
        var dropInputs = !torch.is_grad_enabled();
        // With a frozen base (LoRA) nothing before the first layer needs a gradient; the checkpointed layers'
        // backward (which reaches the adapters inside) runs only if their input asks for one.
        if (checkpoint && !x.requires_grad) x.requires_grad_();
        foreach (var layer in layers)
        {
            var next = checkpoint ? LayerCheckpoint.apply(layer, x, inputs) : layer.Forward(x, inputs);
            if (dropInputs) x.Dispose();
            x = next;
        }
        var normed = norm.forward(x);
        if (dropInputs) x.Dispose();
        return normed;
    }
}

/// <summary>
/// Gradient checkpointing of one decoder layer as a custom autograd function: the forward runs
/// without recording a graph and keeps only the layer input; the backward runs the layer again with
/// autograd on and backpropagates through it (parameter gradients accumulate as usual).
/// </summary>
internal sealed class LayerCheckpoint : torch.autograd.SingleTensorFunction<LayerCheckpoint>
{
    public override string Name => "Qwen2DecoderLayerCheckpoint";

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var (layer, x, inputs) = ((DecoderLayer)vars[0], (Tensor)vars[1], (ForwardInputs)vars[2]);
        ctx.save_for_backward([x]);
        ctx.save_data("layer", layer);
        ctx.save_data("inputs", inputs);
        // The recomputation must draw the same dropout masks (LoRA dropout): it runs from the same random state.
        // As bytes: TorchSharp warns on every tensor kept outside save_for_backward.
        using (var rng = torch.get_rng_state()) ctx.save_data("rng", rng.data<byte>().ToArray());
        using var noGrad = torch.no_grad();
        return layer.Forward(x, inputs);
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var x = ctx.get_saved_variables()[0];
        var layer = (DecoderLayer)ctx.get_data("layer");
        var inputs = (ForwardInputs)ctx.get_data("inputs");
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        var input = x.detach().requires_grad_();
        var after = torch.get_rng_state();
        using (var rng = torch.tensor((byte[])ctx.get_data("rng"))) torch.set_rng_state(rng);
        var output = layer.Forward(input, inputs);
        torch.set_rng_state(after);
        torch.autograd.backward([output], [gradOutput]);
        // One entry per argument of apply(layer, x, inputs): only x gets a gradient.
        return [null!, input.grad!.MoveToOuterDisposeScope(), null!];
    }
}
