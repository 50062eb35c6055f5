using System.Diagnostics;
using Rlvr.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>
/// Where one decoder layer's training time goes at Qwen2.5-0.5B's shapes (RLVR_BENCH=1 only): forward + backward
/// of the whole layer against its parts timed alone (the seven linear layers, causal SDPA on key/values expanded
/// to all heads, RMSNorm, SwiGLU's elementwise part). RLVR_BENCH_ROWS x RLVR_BENCH_LENGTH tokens (default 2 x 712,
/// one micro-batch of two 200 + 512 rollouts). Each is timed three times; the fastest counts (the machine is shared).
/// </summary>
public class DecoderLayerProfile(ITestOutputHelper output)
{
    [BenchmarkFact]
    public void Layer_forward_backward_against_its_parts()
    {
        int rows = int.Parse(Environment.GetEnvironmentVariable("RLVR_BENCH_ROWS") ?? "2");
        int length = int.Parse(Environment.GetEnvironmentVariable("RLVR_BENCH_LENGTH") ?? "712");
        var c = Qwen2Config.LoadNamedOrPath("qwen2.5-0.5b");
        using var scope = NewDisposeScope();
        var gen = manual_seed(1);
        var layer = new DecoderLayer(c, 0, CPU, ScalarType.Float32);
        using (no_grad())
            foreach (var p in layer.parameters()) p.normal_(0, 0.02, generator: gen);
        var freqs = randn(rows, length, 1, c.HeadDim / 2, generator: gen);
        var inputs = new ForwardInputs { Cos = cat([freqs.cos(), freqs.cos()], -1), SignedSin = cat([-freqs.sin(), freqs.sin()], -1) };
        var x = randn(rows, length, c.HiddenSize, generator: gen).requires_grad_();
        double tokens = rows * length;

        var whole = Time(() => layer.Forward(x, inputs));
        double linearFlops = 0;
        var linears = 0.0;
        foreach (var (name, w) in layer.named_parameters().Where(p => p.parameter.dim() == 2))
        {
            var input = randn(rows, length, w.shape[1], generator: gen).requires_grad_();
            linears += Time(() => nn.functional.linear(input, w));
            linearFlops += 6 * tokens * w.shape[0] * w.shape[1];
        }
        var (q, kv) = (randn(rows, c.NumAttentionHeads, length, c.HeadDim, generator: gen).requires_grad_(),
                       randn(rows, c.NumKeyValueHeads, length, c.HeadDim, generator: gen).requires_grad_());
        long groups = c.NumAttentionHeads / c.NumKeyValueHeads;
        Tensor Expand(Tensor t) => t.unsqueeze(2).expand(rows, c.NumKeyValueHeads, groups, length, c.HeadDim).reshape(rows, c.NumAttentionHeads, length, c.HeadDim);
        var attention = Time(() => nn.functional.scaled_dot_product_attention(q, Expand(kv), Expand(kv), is_casual: true));
        var norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, CPU, ScalarType.Float32);
        using (no_grad()) norm.weight.fill_(1);
        var norms = 2 * Time(() => norm.forward(x));
        var (gate, up) = (randn(rows, length, c.IntermediateSize, generator: gen).requires_grad_(), randn(rows, length, c.IntermediateSize, generator: gen).requires_grad_());
        var swiglu = Time(() => nn.functional.silu(gate) * up);

        output.WriteLine($"{rows} x {length} tokens, threads {get_num_threads()}, load {Bench.LoadAverage()}: one layer forward+backward {1000 * whole:F0} ms");
        output.WriteLine($"  7 linears {1000 * linears:F0} ms ({linearFlops / linears / 1e9:F0} GFLOP/s), SDPA causal with expanded k/v {1000 * attention:F0} ms, " +
                         $"2 RMSNorms {1000 * norms:F0} ms, SwiGLU elementwise {1000 * swiglu:F0} ms, rest (rotary, residual adds, reshapes) {1000 * (whole - linears - attention - norms - swiglu):F0} ms");
    }

    /// <summary>Fastest of three forward + backward passes (gradient of the output's sum), in seconds.</summary>
    static double Time(Func<Tensor> forward)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            forward().sum().backward();
            best = System.Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
