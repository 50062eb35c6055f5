using Rlvr.Training;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>Sampler/trainer mismatch and truncated importance sampling, against hand-computed values.</summary>
public class OffPolicyTests
{
    [Fact]
    public void Mismatch_is_the_mean_absolute_difference_and_the_k3_kl_over_response_tokens()
    {
        // d = trainer - sampler = [0.5, 0 | -1, (padding)]; |d| mean = 1.5 / 3;
        // k3 = exp(d) - 1 - d: exp(0.5) - 1.5 = 0.148721, 0, exp(-1) = 0.367879; mean = 0.516600 / 3.
        var sums = new OffPolicy.Sums();
        sums.Add(tensor(new float[,] { { -1f, -2f }, { -3f, 0f } }), tensor(new float[,] { { -1.5f, -2f }, { -2f, 9f } }), tensor(new float[,] { { 1, 1 }, { 1, 0 } }));
        var result = sums.Result!;
        Assert.Equal(0.5, result.MeanAbsLogProbDiff, 6);
        Assert.Equal((System.Math.Exp(0.5) - 1.5 + System.Math.Exp(-1)) / 3, result.Kl, 6);
        Assert.Null(new OffPolicy.Sums().Result);
    }

    [Fact]
    public void Token_weights_scale_each_tokens_policy_gradient_term()
    {
        // On-policy (ratio 1), advantage 1: token loss -1 each; weights 0.5 and 2; token-mean over 2 tokens = -(0.5 + 2) / 2.
        var logProbs = tensor(new float[,] { { -1f, -2f } }).requires_grad_(true);
        var mask = tensor(new float[,] { { 1, 1 } });
        var options = new PolicyLossOptions(Aggregation: LossAggregation.TokenMean, TisCap: 2);
        var result = PolicyLoss.Compute(logProbs, logProbs.detach(), tensor(new float[] { 1f }), mask, options,
            new LossNormalization(2, 1, 2), tokenWeights: tensor(new float[,] { { 0.5f, 2f } }));
        Assert.Equal(-1.25, result.Loss.item<float>(), 6);
        result.Loss.backward();
        // d loss / d logp_t = -A w_t / 2 (the weights carry no gradient).
        Assert.Equal([-0.25f, -1f], logProbs.grad!.data<float>().ToArray());
    }
}
