using Rlvr.Kernels;
using static TorchSharp.torch;

namespace Rlvr.Tests.Kernels;

/// <summary>The sampler's two-pass draw against the inverse CDF computed in float64 from the definition.</summary>
public class InverseCdfSamplingTests
{
    [Theory]
    [InlineData(1.0)]
    [InlineData(0.7)]
    public void Draws_the_first_token_whose_running_sum_reaches_u_times_the_total(double temperature)
    {
        const int vocab = 1300, width = 1536;   // three 512-blocks, the last partial; padding past the vocabulary
        var generator = new Generator(seed: 11);
        using var scope = NewDisposeScope();
        var logits = (randn([6, vocab], generator: generator) * 3).to(ScalarType.Float64);
        logits[1, 700] = 40;                         // a peaked row
        logits[2, TensorIndex.Slice(0, 600)] = -1e4;            // tokens whose weight underflows to zero
        var padded = zeros(6, width);
        padded.narrow(1, 0, vocab).copy_(logits);
        var uniforms = new[] { 0.5, 0.999999, 1e-6, 0.25, 0.75, 0.123 };

        var (tokens, model, sampling) = InverseCdfSampling.Draw(padded, vocab, temperature, uniforms);

        var stored = logits.to(ScalarType.Float32).to(ScalarType.Float64);   // what the kernel saw
        for (int r = 0; r < 6; r++)
        {
            var row = stored[r].data<double>().ToArray();
            var max = row.Max();
            var w = row.Select(x => System.Math.Exp((x - max) / temperature)).ToArray();
            double total = w.Sum(), target = uniforms[r] * total, running = 0;
            int expected = -1;
            for (int k = 0; k < vocab && expected < 0; k++) if (w[k] > 0 && (running += w[k]) >= target) expected = k;
            // The kernel sums in fp32 blocks: a target within rounding of a boundary may fall either side.
            if (tokens[r] != expected)
            {
                var boundary = w.Take(expected).Sum();
                Assert.True(System.Math.Abs(boundary - target) < 1e-5 * total, $"row {r}: drew {tokens[r]}, expected {expected}");
            }
            var token = (int)tokens[r];
            var logTotal = System.Math.Log(row.Sum(x => System.Math.Exp(x - max)));
            Assert.Equal(row[token] - max - logTotal, model[r], 4);
            Assert.Equal((row[token] - max) / temperature - System.Math.Log(total), sampling[r], 4);
        }
    }

    [Fact]
    public void A_row_with_a_nan_logit_is_an_error()
    {
        using var scope = NewDisposeScope();
        var padded = zeros(3, 512);
        padded[1, 17] = float.NaN;
        var e = Assert.Throws<InvalidDataException>(() => InverseCdfSampling.Draw(padded, 500, 1.0, [0.5, 0.5, 0.5]));
        Assert.Contains("NaN or infinite logits", e.Message);
    }
}
