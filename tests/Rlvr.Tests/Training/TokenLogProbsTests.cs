using Rlvr.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

public class TokenLogProbsTests
{
    const int N = 3, Tn = 5, H = 16, V = 50;

    /// <summary>The oracle: full logits, log_softmax, gather, entropy from the full distribution.</summary>
    internal static (Tensor LogProbs, Tensor Entropy) Naive(Tensor hidden, Tensor weight, Tensor targets, double temperature)
    {
        var logSoftmax = nn.functional.log_softmax(hidden.matmul(weight.t()) / temperature, -1);
        var logProbs = logSoftmax.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
        var entropy = -(logSoftmax.exp() * logSoftmax).sum(-1);
        return (logProbs, entropy);
    }

    static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        var diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= 1e-5, $"{what}: max |difference| {diff} > 1e-5");
    }

    static (Tensor Hidden, Tensor Weight, Tensor Targets) RandomInputs(int seed, bool weightRequiresGrad = true)
    {
        var gen = manual_seed(seed);
        var hidden = randn(N, Tn, H, generator: gen).requires_grad_();
        var weight = (randn(V, H, generator: gen) * 0.5).detach().requires_grad_(weightRequiresGrad);
        var targets = randint(0, V, [N, Tn], generator: gen);
        return (hidden, weight, targets);
    }

    [Theory]
    [InlineData(4, 1.0, true)]     // 15 rows in chunks of 4 (the last one short); entropy carries gradient
    [InlineData(4, 1.0, false)]    // entropy only logged: its gradient is absent
    [InlineData(15, 0.7, true)]    // one chunk; sampling temperature 0.7
    [InlineData(1, 1.3, true)]     // one row per chunk
    public void Values_and_gradients_match_the_naive_computation(int chunkRows, double temperature, bool entropyInLoss)
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, targets) = RandomInputs(11);
        var gen = manual_seed(12);
        var logProbWeights = randn(N, Tn, generator: gen);
        var entropyWeights = randn(N, Tn, generator: gen);
        Tensor Objective(Tensor logProbs, Tensor entropy) =>
            (logProbs * logProbWeights).sum() + (entropyInLoss ? (entropy * entropyWeights).sum() : zeros(1).sum());

        var (naiveLogProbs, naiveEntropy) = Naive(hidden, weight, targets, temperature);
        Objective(naiveLogProbs, naiveEntropy).backward();
        var (naiveGradHidden, naiveGradWeight) = (hidden.grad!.clone(), weight.grad!.clone());
        hidden.grad!.zero_();
        weight.grad!.zero_();

        var fused = TokenLogProbs.Compute(hidden, weight, targets, chunkRows, temperature);
        if (entropyInLoss) Objective(fused.LogProbs, fused.Entropy).backward();
        else (fused.LogProbs * logProbWeights).sum().backward();

        Assert.Equal([N, Tn], fused.LogProbs.shape);
        AssertClose(naiveLogProbs, fused.LogProbs, "log-probs");
        AssertClose(naiveEntropy, fused.Entropy, "entropy");
        AssertClose(naiveGradHidden, hidden.grad!, "grad of hidden");
        AssertClose(naiveGradWeight, weight.grad!, "grad of weight");
    }

    [Fact]
    public void A_frozen_weight_gets_no_gradient_and_hidden_still_does()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, targets) = RandomInputs(21, weightRequiresGrad: false);
        var (naiveLogProbs, _) = Naive(hidden, weight, targets, 1.0);
        naiveLogProbs.sum().backward();
        var naiveGradHidden = hidden.grad!.clone();
        hidden.grad!.zero_();

        TokenLogProbs.Compute(hidden, weight, targets, chunkRows: 4).LogProbs.sum().backward();
        AssertClose(naiveGradHidden, hidden.grad!, "grad of hidden");
        Assert.True(weight.grad is null || weight.grad.IsInvalid);
    }

    [Fact]
    public void Works_without_gradient_tracking_as_for_reference_log_probs()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, targets) = RandomInputs(31);
        using var _ = no_grad();
        var fused = TokenLogProbs.Compute(hidden, weight, targets, chunkRows: 4);
        Assert.False(fused.LogProbs.requires_grad);
        AssertClose(Naive(hidden, weight, targets, 1.0).LogProbs, fused.LogProbs, "log-probs");
    }

    [Fact]
    public void Log_probs_of_a_uniform_distribution_are_hand_computable()
    {
        using var scope = NewDisposeScope();
        // Zero hidden states give zero logits: every token has probability 1/V, entropy ln V.
        var result = TokenLogProbs.Compute(zeros(2, H), randn(V, H), tensor(new long[] { 0, 49 }), chunkRows: 1);
        Assert.All(result.LogProbs.data<float>().ToArray(), lp => Assert.Equal(-MathF.Log(V), lp, 5));
        Assert.All(result.Entropy.data<float>().ToArray(), h => Assert.Equal(MathF.Log(V), h, 5));
    }

    [Fact]
    public void Bad_inputs_are_named()
    {
        using var scope = NewDisposeScope();
        var hidden = zeros(2, 3, H);
        var e = Assert.Throws<ArgumentException>(() => TokenLogProbs.Compute(hidden, zeros(V, H), full(2, 3, V, ScalarType.Int64)));
        Assert.Contains("targets", e.Message);
        e = Assert.Throws<ArgumentException>(() => TokenLogProbs.Compute(hidden, zeros(V, H + 1), zeros(2, 3, ScalarType.Int64)));
        Assert.Contains("weight", e.Message);
        e = Assert.Throws<ArgumentException>(() => TokenLogProbs.Compute(hidden, zeros(V, H), zeros(3, 2, ScalarType.Int64)));
        Assert.Contains("targets", e.Message);
    }
}
