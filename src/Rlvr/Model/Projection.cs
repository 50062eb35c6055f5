using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>
/// A linear projection y = x W^T + b (HuggingFace's parameter names <c>weight</c>, <c>bias</c>) that can carry a
/// LoRA adapter (Hu et al. 2021, as PEFT implements it): y + (alpha / r) * B (A dropout(x)), with <c>lora_A.weight</c>
/// [r, in] and <c>lora_B.weight</c> [out, r] always fp32, whatever dtype the frozen base weight is stored in.
/// </summary>
internal sealed class Projection : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    LoraMatrix? loraA, loraB;
    LoraSettings? settings;

    public Projection(long inFeatures, long outFeatures, bool hasBias, Device device, ScalarType dtype) : base("Projection")
    {
        weight = Layers.Empty(device, dtype, outFeatures, inFeatures);
        register_parameter("weight", weight);
        if (hasBias)
        {
            bias = Layers.Empty(device, dtype, outFeatures);
            register_parameter("bias", bias);
        }
    }

    /// <summary>A lower-precision copy of <see cref="weight"/> that the sampler's few-row products use instead
    /// (<see cref="Qwen2ForCausalLM.UseSamplingWeights"/>); null otherwise.</summary>
    internal Tensor? SamplingWeight { get; set; }

    public bool HasAdapter => loraA is not null;
    public Parameter AdapterA => loraA?.weight ?? throw new InvalidOperationException("no adapter");
    public Parameter AdapterB => loraB?.weight ?? throw new InvalidOperationException("no adapter");

    /// <summary>Adds a zero-effect adapter: A ~ Kaiming-uniform (PEFT's a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))), B = 0.</summary>
    public void AddAdapter(LoraSettings shared, Generator generator)
    {
        if (HasAdapter) throw new InvalidOperationException("the projection already has an adapter");
        settings = shared;
        long rank = shared.Options.Rank, inFeatures = weight.shape[1], outFeatures = weight.shape[0];
        loraA = new LoraMatrix(rank, inFeatures, weight.device);
        loraB = new LoraMatrix(outFeatures, rank, weight.device);
        using (no_grad())
        {
            var bound = 1 / System.Math.Sqrt(inFeatures);
            using var values = torch.empty([rank, inFeatures], ScalarType.Float32).uniform_(-bound, bound, generator);
            loraA.weight.copy_(values);
            loraB.weight.zero_();
        }
        register_module("lora_A", loraA);
        register_module("lora_B", loraB);
    }

    /// <summary>The adapter's change to the weight, (alpha / r) * B A [out, in], in fp32.</summary>
    public Tensor AdapterDelta() => AdapterB.matmul(AdapterA).mul_(settings!.Options.Scale);

    /// <summary>W += (alpha / r) B A, and B = 0 so the adapter no longer changes anything.</summary>
    public void MergeAdapter()
    {
        using var _ = no_grad();
        using (var delta = AdapterDelta())
        using (var cast = delta.to(weight.dtype))
            weight.add_(cast);
        AdapterB.zero_();
    }

    public override Tensor forward(Tensor x)
    {
        var y = SamplingWeight is { } copy && Kernels.Gemm.Serves(x, copy) ? Kernels.Gemm.Linear(x, copy, bias) : Kernels.Gemm.Forward(x, weight, bias);
        if (settings is not { Enabled: true }) return y;
        using var scope = NewDisposeScope();
        var input = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        if (settings.Options.Dropout > 0 && training) input = nn.functional.dropout(input, settings.Options.Dropout, training: true);
        var update = nn.functional.linear(nn.functional.linear(input, loraA!.weight), loraB!.weight).mul_(settings.Options.Scale);
        if (update.dtype != y.dtype) update = update.to(y.dtype);
        // y is a fresh output: adding in place is autograd-safe.
        return y.add_(update).MoveToOuterDisposeScope();
    }

    /// <summary>One adapter matrix, a module so that its parameter is named <c>lora_A.weight</c> / <c>lora_B.weight</c> as in PEFT.</summary>
    sealed class LoraMatrix : nn.Module
    {
        public readonly Parameter weight;

        public LoraMatrix(long rows, long columns, Device device) : base("LoraMatrix")
        {
            weight = new Parameter(torch.empty([rows, columns], ScalarType.Float32, device), requires_grad: true);
            register_parameter("weight", weight);
        }
    }
}

/// <summary>What every adapter of one model shares: the options, and whether adapters apply (off = the base model, the KL reference).</summary>
internal sealed class LoraSettings(LoraOptions options)
{
    public LoraOptions Options { get; } = options;
    public bool Enabled { get; set; } = true;
}
