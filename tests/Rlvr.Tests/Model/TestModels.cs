using System.Text.Json.Nodes;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

/// <summary>Small random Qwen2 models for tests, and the fixture's expected values.</summary>
public static class TestModels
{
    /// <summary>
    /// Unlike the fixture (tied, 4 heads of 16 = hidden/heads, theta 1e6, eps 1e-6): an untied head,
    /// 3 query heads per KV head, an explicit head_dim that is not hidden/heads, theta 1e4, eps 1e-5.
    /// </summary>
    public static Qwen2Config Odd { get; } = new()
    {
        VocabSize = 320, HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 2,
        NumAttentionHeads = 6, NumKeyValueHeads = 2, HeadDim = 16, MaxPositionEmbeddings = 512,
        RopeTheta = 10000.0, RmsNormEps = 1e-5, TieWordEmbeddings = false, InitializerRange = 0.2,
        BosTokenId = 0, EosTokenIds = [1, 2],
    };

    /// <summary>The fixture's shape, tied, for tests that need a fresh model.</summary>
    public static Qwen2Config Small { get; } = new()
    {
        VocabSize = 1000, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16, MaxPositionEmbeddings = 4096,
        RopeTheta = 1000000.0, RmsNormEps = 1e-6, TieWordEmbeddings = true, BosTokenId = 0, EosTokenIds = [1],
    };

    /// <summary>
    /// A random model whose biases and norm weights are random too (transformers' init makes them 0
    /// and 1, which would hide a bias or norm-weight bug).
    /// </summary>
    public static Qwen2ForCausalLM Random(Qwen2Config config, long seed = 1)
    {
        var model = new Qwen2ForCausalLM(config);
        model.InitializeWeights(seed);
        using var noGrad = torch.no_grad();
        using var generator = new Generator((ulong)seed + 1000, torch.CPU);
        foreach (var (name, p) in model.NamedParameters())
        {
            if (name.EndsWith(".bias")) p.normal_(0, 0.1, generator);
            if (name.EndsWith("norm.weight")) p.normal_(1, 0.1, generator);
        }
        return model;
    }

    public sealed record ExpectedCase(int[] InputIds, double[] TokenLogprobs, long[] Top5Ids, double[] Top5Values, long[] GreedyIds);

    /// <summary>tests/fixtures/tiny-qwen2/expected.json: computed by a reference PyTorch implementation.</summary>
    public static IReadOnlyList<ExpectedCase> FixtureCases { get; } = LoadCases();

    static IReadOnlyList<ExpectedCase> LoadCases()
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TinyQwen2, "expected.json")))!;
        return root["cases"]!.AsArray().Select(c => new ExpectedCase(
            c!["input_ids"]!.AsArray().Select(x => (int)x!).ToArray(),
            c["token_logprobs"]!.AsArray().Select(x => (double)x!).ToArray(),
            c["last_logits_top5"]!["ids"]!.AsArray().Select(x => (long)x!).ToArray(),
            c["last_logits_top5"]!["values"]!.AsArray().Select(x => (double)x!).ToArray(),
            c["greedy_ids"]!.AsArray().Select(x => (long)x!).ToArray())).ToList();
    }

    public static float[] Floats(Tensor t) => t.detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();

    public static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
            Assert.True(System.Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    /// <summary>Token log-probs of one sequence through the model's batched API (batch of one).</summary>
    public static float[] LogProbs(Qwen2ForCausalLM model, int[] ids) => SequenceLogProbs.Compute(model, [ids])[0];
}

/// <summary>
/// An independent oracle: Qwen2's forward written out with plain loops in double precision, straight
/// from the architecture's definition (modeling_qwen2.py), sharing no code with the model.
/// </summary>
public static class NaiveQwen2
{
    public static (double[] LogProbs, double[] LastLogits) Run(Qwen2ForCausalLM model, int[] ids)
    {
        var c = model.Config;
        var w = model.NamedParameters().ToDictionary(p => p.Name, p => TestModels.Floats(p.Parameter));
        int hidden = c.HiddenSize, heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads, d = c.HeadDim, n = ids.Length;
        var x = ids.Select(id => Enumerable.Range(0, hidden).Select(i => (double)w["model.embed_tokens.weight"][id * hidden + i]).ToArray()).ToArray();
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var p = $"model.layers.{l}.";
            var normed = x.Select(v => RmsNorm(v, w[p + "input_layernorm.weight"], c.RmsNormEps)).ToArray();
            var q = normed.Select((v, t) => Rope(Linear(w[p + "self_attn.q_proj.weight"], w[p + "self_attn.q_proj.bias"], v), heads, d, t, c.RopeTheta)).ToArray();
            var k = normed.Select((v, t) => Rope(Linear(w[p + "self_attn.k_proj.weight"], w[p + "self_attn.k_proj.bias"], v), kvHeads, d, t, c.RopeTheta)).ToArray();
            var val = normed.Select(v => Linear(w[p + "self_attn.v_proj.weight"], w[p + "self_attn.v_proj.bias"], v)).ToArray();
            for (var t = 0; t < n; t++)
            {
                var attn = new double[heads * d];
                for (var h = 0; h < heads; h++)
                {
                    var g = h / (heads / kvHeads);
                    var scores = Enumerable.Range(0, t + 1).Select(s => Enumerable.Range(0, d).Sum(i => q[t][h * d + i] * k[s][g * d + i]) / System.Math.Sqrt(d)).ToArray();
                    var max = scores.Max();
                    var weights = scores.Select(s => System.Math.Exp(s - max)).ToArray();
                    var total = weights.Sum();
                    for (var s = 0; s <= t; s++)
                        for (var i = 0; i < d; i++) attn[h * d + i] += weights[s] / total * val[s][g * d + i];
                }
                Add(x[t], Linear(w[p + "self_attn.o_proj.weight"], null, attn));
            }
            for (var t = 0; t < n; t++)
            {
                var m = RmsNorm(x[t], w[p + "post_attention_layernorm.weight"], c.RmsNormEps);
                var gate = Linear(w[p + "mlp.gate_proj.weight"], null, m);
                var up = Linear(w[p + "mlp.up_proj.weight"], null, m);
                var act = gate.Select((z, i) => z / (1 + System.Math.Exp(-z)) * up[i]).ToArray();
                Add(x[t], Linear(w[p + "mlp.down_proj.weight"], null, act));
            }
        }
        var head = c.TieWordEmbeddings ? w["model.embed_tokens.weight"] : w["lm_head.weight"];
        var logits = x.Select(v => Linear(head, null, RmsNorm(v, w["model.norm.weight"], c.RmsNormEps))).ToArray();
        var logProbs = Enumerable.Range(1, n - 1).Select(t =>
        {
            var row = logits[t - 1];
            var max = row.Max();
            return row[ids[t]] - max - System.Math.Log(row.Sum(z => System.Math.Exp(z - max)));
        }).ToArray();
        return (logProbs, logits[^1]);
    }

    static double[] RmsNorm(double[] v, float[] weight, double eps)
    {
        var scale = 1 / System.Math.Sqrt(v.Sum(z => z * z) / v.Length + eps);
        return v.Select((z, i) => z * scale * weight[i]).ToArray();
    }

    /// <summary>y = W x + b with W [out, in] row-major.</summary>
    static double[] Linear(float[] weight, float[]? bias, double[] v)
    {
        var outs = weight.Length / v.Length;
        var y = new double[outs];
        for (var o = 0; o < outs; o++)
        {
            double sum = bias?[o] ?? 0;
            for (var i = 0; i < v.Length; i++) sum += weight[o * v.Length + i] * v[i];
            y[o] = sum;
        }
        return y;
    }

    /// <summary>Rotary embedding, rotate-half layout: pairs (i, i + d/2) rotate by position * theta^(-2i/d).</summary>
    static double[] Rope(double[] v, int heads, int d, int position, double theta)
    {
        var r = (double[])v.Clone();
        for (var h = 0; h < heads; h++)
            for (var i = 0; i < d / 2; i++)
            {
                var angle = position / System.Math.Pow(theta, 2.0 * i / d);
                double x1 = v[h * d + i], x2 = v[h * d + i + d / 2];
                r[h * d + i] = x1 * System.Math.Cos(angle) - x2 * System.Math.Sin(angle);
                r[h * d + i + d / 2] = x2 * System.Math.Cos(angle) + x1 * System.Math.Sin(angle);
            }
        return r;
    }

    static void Add(double[] x, double[] y)
    {
        for (var i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
