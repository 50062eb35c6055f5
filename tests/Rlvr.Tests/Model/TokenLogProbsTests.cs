using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

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

    static (Tensor Hidden, Tensor Weight, Tensor Targets) RandomInputs(int seed, bool hiddenRequiresGrad = true, bool weightRequiresGrad = true)
    {
        var gen = manual_seed(seed);
        var hidden = randn(N, Tn, H, generator: gen).requires_grad_(hiddenRequiresGrad);
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
    public void Constant_hidden_states_still_give_the_weight_its_gradient()
    {
        // Training only the head on fixed features: hidden requires no gradient, the weight does.
        using var scope = NewDisposeScope();
        var (hidden, weight, targets) = RandomInputs(22, hiddenRequiresGrad: false);
        Naive(hidden, weight, targets, 0.7).LogProbs.sum().backward();
        var naiveGradWeight = weight.grad!.clone();
        weight.grad!.zero_();

        TokenLogProbs.LogProbsOnly(hidden, weight, targets, chunkRows: 4, temperature: 0.7).sum().backward();
        AssertClose(naiveGradWeight, weight.grad!, "grad of weight");
        Assert.True(hidden.grad is null || hidden.grad.IsInvalid);
    }

    [Fact]
    public void Without_gradient_tracking_values_match_and_nothing_requires_a_gradient()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, targets) = RandomInputs(31);
        var (naiveLogProbs, naiveEntropy) = Naive(hidden, weight, targets, 0.7);
        using (no_grad())
        {
            // As for reference log-probs and for scoring: inputs that require gradients, autograd off.
            var fused = TokenLogProbs.Compute(hidden, weight, targets, chunkRows: 4, temperature: 0.7);
            var only = TokenLogProbs.LogProbsOnly(hidden, weight, targets, chunkRows: 4, temperature: 0.7);
            Assert.False(fused.LogProbs.requires_grad || fused.Entropy.requires_grad || only.requires_grad);
            AssertClose(naiveLogProbs, fused.LogProbs, "log-probs");
            AssertClose(naiveEntropy, fused.Entropy, "entropy");
            AssertClose(naiveLogProbs, only, "log-probs only");
            // 0 <= H <= ln V: the entropy of a distribution over V tokens.
            Assert.All(fused.Entropy.data<float>().ToArray(), h => Assert.InRange(h, 0.0, System.Math.Log(V) + 1e-5));
        }
        // Autograd on, but no input requires a gradient (a frozen model's weights).
        var constant = TokenLogProbs.LogProbsOnly(hidden.detach(), weight.detach(), targets, chunkRows: 4, temperature: 0.7);
        Assert.False(constant.requires_grad);
        AssertClose(naiveLogProbs, constant, "log-probs of detached inputs");
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
        e = Assert.Throws<ArgumentException>(() => TokenLogProbs.LogProbsOnly(hidden, zeros(V, H), zeros(3, 2, ScalarType.Int64)));
        Assert.Contains("targets", e.Message);
    }

    [Fact]
    public void Through_a_model_every_parameter_gets_the_gradient_of_the_full_logits()
    {
        foreach (var config in new[] { TestModels.Odd, TestModels.Small })   // untied and tied head
        {
            using var model = TestModels.Random(config, seed: 21);
            Dictionary<string, float[]> Gradients(Func<Tensor, Tensor, Tensor> logProbs)
            {
                model.zero_grad();
                using var scope = NewDisposeScope();
                var ids = tensor(Enumerable.Range(0, 2 * 9).Select(i => (long)(i * 53 % config.VocabSize)).ToArray()).view(2, 9);
                var hidden = model.Hidden(ids, arange(9).unsqueeze(0).expand(2, 9)).narrow(1, 0, 8);
                // Unequal weights per token, as an RL loss has (advantages).
                var weights = linspace(-1, 2, 16).view(2, 8);
                (logProbs(hidden, ids.narrow(1, 1, 8)) * weights).sum().backward();
                return model.NamedParameters().ToDictionary(p => p.Name, p => TestModels.Floats(p.Parameter.grad!));
            }
            var full = Gradients((h, t) => model.Logits(h).log_softmax(-1).gather(-1, t.unsqueeze(-1)).squeeze(-1));
            var chunked = Gradients((h, t) => TokenLogProbs.Compute(h, model.LmHeadWeight, t, chunkRows: 5).LogProbs);
            foreach (var (name, grad) in full)
            {
                Assert.True(grad.Any(g => g != 0), $"{name} got no gradient");
                TestModels.AssertClose(grad.Select(g => (double)g).ToArray(), chunked[name], 1e-5, name);
            }
        }
    }
}
