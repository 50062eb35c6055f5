using Rlvr.Generation;
using Rlvr.Tests.Model;
using TorchSharp;
using static Rlvr.Tests.Generation.GenerationTestModels;
using static TorchSharp.torch;

namespace Rlvr.Tests.Generation;

public class TokenSamplingTests
{
    const int Vocab = 1000;

    /// <summary>Two kinds of rows: a flat one (logits spread over 1 nat) and a peaked one (a few tokens hold most of the mass).</summary>
    static double[][] RowLogits()
    {
        var random = new Random(4);
        var flat = Enumerable.Range(0, Vocab).Select(_ => random.NextDouble()).ToArray();
        var peaked = Enumerable.Range(0, Vocab).Select(i => i % 97 == 3 ? 6 + random.NextDouble() * 3 : random.NextDouble() * 2).ToArray();
        return [flat, peaked];
    }

    /// <summary>The sampler's buffer layout: logits, then zeros up to a whole number of blocks.</summary>
    static Tensor Padded(Tensor logits) =>
        torch.cat([logits, torch.zeros(logits.shape[0], TokenSampling.PaddedWidth(Vocab) - Vocab)], 1);

    /// <summary>
    /// With uniforms on a grid (j + 1/2) / N, inverse-CDF sampling draws token i exactly as often as the grid
    /// points in its probability interval: N p_i rounded one way or the other. So the counts pin the whole
    /// distribution, deterministically, and rows of both kinds are mixed in one batch.
    /// </summary>
    [Theory]
    [InlineData(1.0, 0, 1.0)]
    [InlineData(0.7, 0, 1.0)]
    [InlineData(1.0, 50, 1.0)]
    [InlineData(0.8, 0, 0.9)]
    [InlineData(1.0, 0, 0.5)]
    [InlineData(0.5, 30, 0.8)]
    public void Grid_uniforms_reproduce_the_sampling_distribution(double temperature, int topK, double topP)
    {
        const int n = 4000;
        var rows = RowLogits();
        var p = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP };
        // Rows alternate flat, peaked; row 2j and 2j+1 get the j-th grid uniform.
        var logits = torch.tensor(Enumerable.Range(0, 2 * n).SelectMany(r => rows[r % 2].Select(x => (float)x)).ToArray()).view(2 * n, Vocab);
        var uniforms = torch.tensor(Enumerable.Range(0, 2 * n).Select(r => (r / 2 + 0.5) / n).ToArray());
        var drawn = TokenSampling.Draw(Padded(logits), Vocab, p, uniforms);
        var tokens = drawn.Tokens.data<long>().ToArray();
        var logProbs = drawn.LogProbs.data<float>().ToArray();
        var samplingLogProbs = drawn.SamplingLogProbs.data<float>().ToArray();

        for (var kind = 0; kind < 2; kind++)
        {
            var expected = SamplingDistribution(rows[kind], temperature, topK, topP);
            var raw = Softmax(rows[kind]);
            var counts = new int[Vocab];
            for (var r = kind; r < 2 * n; r += 2)
            {
                counts[tokens[r]]++;
                Assert.True(System.Math.Abs(System.Math.Log(raw[tokens[r]]) - logProbs[r]) < 1e-4, $"row {r}: model log-prob");
                Assert.True(System.Math.Abs(System.Math.Log(expected[tokens[r]]) - samplingLogProbs[r]) < 1e-4, $"row {r}: sampling log-prob");
            }
            for (var i = 0; i < Vocab; i++)
                Assert.True(System.Math.Abs(counts[i] - n * expected[i]) <= 1.01, $"{(kind == 0 ? "flat" : "peaked")} row, token {i}: drawn {counts[i]} times, expected {n * expected[i]:F2}");
        }
    }

    [Fact]
    public void Greedy_takes_the_argmax_and_banned_tokens_are_never_drawn_but_keep_their_mass_in_the_model_log_prob()
    {
        var rows = RowLogits();
        var peaked = rows[1];
        var best = Array.IndexOf(peaked, peaked.Max());
        var logits = torch.tensor(peaked.Concat(peaked).Select(x => (float)x).ToArray()).view(2, Vocab);
        var banned = torch.tensor(new long[] { best });
        var bannedRows = torch.tensor(new[] { false, true });
        var drawn = TokenSampling.Draw(Padded(logits), Vocab, new SamplingParams { Temperature = 0 }, torch.zeros(2, ScalarType.Float64), banned, bannedRows);
        var tokens = drawn.Tokens.data<long>().ToArray();
        var without = peaked.Select((x, i) => i == best ? double.NegativeInfinity : x).ToArray();
        Assert.Equal([best, Array.IndexOf(without, without.Max())], tokens.Select(t => (int)t));
        var raw = Softmax(peaked);
        TestModels.AssertClose(tokens.Select(t => System.Math.Log(raw[t])).ToArray(), drawn.LogProbs.data<float>().ToArray(), 1e-5, "model log-probs");
        Assert.All(drawn.SamplingLogProbs.data<float>().ToArray(), x => Assert.Equal(0f, x));
    }
}
