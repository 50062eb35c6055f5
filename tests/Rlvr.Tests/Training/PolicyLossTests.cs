using Rlvr.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

public class PolicyLossTests
{
    static Tensor T(float[,] values) => tensor(values);

    static void AssertClose(float[] expected, Tensor actual, double tolerance = 1e-6)
    {
        var got = actual.detach().reshape(-1).to_type(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
            Assert.True(System.Math.Abs(expected[i] - got[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {got[i]}");
    }

    [Fact]
    public void Drop_keeps_used_samples_and_mask_keeps_all()
    {
        bool[] used = [true, false, true];
        Assert.Equal([true, false, true], PolicyLoss.EntersLossBatch(used, UnusedSamples.Drop));
        Assert.Equal([true, true, true], PolicyLoss.EntersLossBatch(used, UnusedSamples.Mask));
    }

    [Fact]
    public void Mode_names_parse_and_round_trip()
    {
        foreach (var name in PolicyLoss.AggregationNames) Assert.Equal(name, PolicyLoss.Name(PolicyLoss.ParseAggregation(name)));
        foreach (var name in PolicyLoss.UnusedNames) Assert.Equal(name, PolicyLoss.Name(PolicyLoss.ParseUnused(name)));
        Assert.Equal(LossAggregation.SeqMeanTokenSumNorm, PolicyLoss.ParseAggregation("seq-mean-token-sum-norm"));
        var e = Assert.Throws<ArgumentException>(() => PolicyLoss.ParseAggregation("seq-sum"));
        Assert.Contains("token-mean", e.Message);
        Assert.Throws<ArgumentException>(() => PolicyLoss.ParseUnused("keep"));
    }

    // loss [[1,2,3],[4,5,6]], mask [[1,1,0],[1,0,0]]: masked tokens 1, 2 | 4.
    [Theory]
    [InlineData("token-mean", 7.0 / 3)]                  // (1 + 2 + 4) / 3 tokens
    [InlineData("seq-mean-token-mean", 2.75)]            // ((1 + 2) / 2 + 4 / 1) / 2 sequences
    [InlineData("seq-mean-token-sum-norm", 7.0 / 8)]     // (1 + 2 + 4) / (2 sequences x max length 4)
    public void Aggregation_modes_match_hand_computed_values(string mode, double expected)
    {
        using var scope = NewDisposeScope();
        var loss = T(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var mask = T(new float[,] { { 1, 1, 0 }, { 1, 0, 0 } });
        var normalization = LossNormalization.Of([mask], maxResponseLength: 4);
        Assert.Equal(new LossNormalization(3, 2, 4), normalization);
        var result = PolicyLoss.Aggregate(loss, mask, PolicyLoss.ParseAggregation(mode), normalization);
        Assert.Equal(expected, result.item<float>(), 5);
    }

    [Fact]
    public void Seq_mean_token_mean_counts_an_empty_sequence_as_zero()
    {
        using var scope = NewDisposeScope();
        var loss = T(new float[,] { { 3, 5 }, { 7, 7 } });
        var mask = T(new float[,] { { 1, 1 }, { 0, 0 } });
        var result = PolicyLoss.Aggregate(loss, mask, LossAggregation.SeqMeanTokenMean, LossNormalization.Of([mask], 2));
        Assert.Equal(2.0f, result.item<float>(), 5);   // (4 + 0) / 2
    }

    [Theory]
    [InlineData("token-mean")]
    [InlineData("seq-mean-token-mean")]
    [InlineData("seq-mean-token-sum-norm")]
    public void Two_micro_batches_with_the_global_normalization_equal_one_batch(string mode)
    {
        using var scope = NewDisposeScope();
        var aggregation = PolicyLoss.ParseAggregation(mode);
        var gen = manual_seed(7);
        var full = randn(4, 5, generator: gen).requires_grad_();
        // Rows 2 and 3 are short: their micro-batch is padded to 2 columns only, as a collator would.
        var mask = T(new float[,] { { 1, 1, 1, 1, 0 }, { 1, 1, 1, 0, 0 }, { 1, 1, 0, 0, 0 }, { 1, 0, 0, 0, 0 } });
        var normalization = LossNormalization.Of([mask], maxResponseLength: 5);

        var oneBatch = PolicyLoss.Aggregate(full.square(), mask, aggregation, normalization);
        oneBatch.backward();
        var oneBatchGrad = full.grad!.clone();
        full.grad!.zero_();

        var first = PolicyLoss.Aggregate(full.narrow(0, 0, 2).square(), mask.narrow(0, 0, 2), aggregation, normalization);
        var second = PolicyLoss.Aggregate(
            full.narrow(0, 2, 2).narrow(1, 0, 2).square(), mask.narrow(0, 2, 2).narrow(1, 0, 2), aggregation, normalization);
        first.backward();
        second.backward();

        Assert.Equal(oneBatch.item<float>(), (first + second).item<float>(), 5);
        Assert.True(allclose(oneBatchGrad, full.grad!, rtol: 0, atol: 1e-6), "accumulated gradient differs from one batch's");
    }

    [Theory]
    [InlineData("token-mean")]
    [InlineData("seq-mean-token-mean")]
    public void On_policy_gradient_equals_reinforce(string mode)
    {
        using var scope = NewDisposeScope();
        var aggregation = PolicyLoss.ParseAggregation(mode);
        var logp = T(new float[,] { { -0.5f, -1.5f, -0.2f }, { -2.0f, -0.1f, -3.0f } }).requires_grad_();
        var advantages = tensor(new float[] { 0.5f, -1f });
        var mask = T(new float[,] { { 1, 1, 0 }, { 1, 1, 1 } });
        var normalization = LossNormalization.Of([mask], 3);

        var ppo = PolicyLoss.Compute(logp, logp.detach(), advantages, mask, new PolicyLossOptions(Aggregation: aggregation), normalization);
        ppo.Loss.backward();
        var ppoGrad = logp.grad!.clone();
        logp.grad!.zero_();

        var reinforce = PolicyLoss.Aggregate(-advantages.unsqueeze(1) * logp, mask, aggregation, normalization);
        reinforce.backward();

        Assert.True(allclose(ppoGrad, logp.grad!, rtol: 0, atol: 1e-7), "PPO's on-policy gradient differs from REINFORCE's");
        // Hand-computed: -A / (denominator) on masked tokens.
        float[] expected = mode == "token-mean"
            ? [-0.5f / 5, -0.5f / 5, 0, 1f / 5, 1f / 5, 1f / 5]
            : [-0.5f / 2 / 2, -0.5f / 2 / 2, 0, 1f / 3 / 2, 1f / 3 / 2, 1f / 3 / 2];
        AssertClose(expected, ppoGrad);
        Assert.Equal(0.0, ppo.Stats.ClipRatio);
        Assert.Equal(5, ppo.Stats.Tokens);
    }

    [Fact]
    public void Clipping_zeroes_the_gradient_where_the_clipped_term_wins()
    {
        using var scope = NewDisposeScope();
        // ratios: row 0 (A = +1): 1.5 (clipped to 1.2), 0.5 (not clipped: min picks 0.5);
        //         row 1 (A = -1): 1.5 (not clipped: loss 1.5 > 1.2), 0.5 (clipped: loss 0.8 > 0.5).
        var old = T(new float[,] { { -1, -1 }, { -1, -1 } });
        var logp = (old + T(new float[,] { { MathF.Log(1.5f), MathF.Log(0.5f) }, { MathF.Log(1.5f), MathF.Log(0.5f) } }))
            .detach().requires_grad_();
        var mask = ones(2, 2);
        var result = PolicyLoss.Compute(logp, old, tensor(new float[] { 1f, -1f }), mask,
            new PolicyLossOptions(Clip: 0.2, Aggregation: LossAggregation.TokenMean), LossNormalization.Of([mask], 2));
        result.Loss.backward();

        Assert.Equal((-1.2 - 0.5 + 1.5 + 0.8) / 4, result.Loss.item<float>(), 5);
        Assert.Equal(0.5, result.Stats.ClipRatio, 6);
        // d/dlogp of -A r = -A r where unclipped, 0 where clipped; token-mean divides by 4.
        AssertClose([0f, -0.5f / 4, 1.5f / 4, 0f], logp.grad!);
        Assert.Null(result.Stats.KlMean);
        Assert.Null(result.Stats.EntropyMean);
    }

    [Fact]
    public void Kl_penalty_uses_the_k3_estimator()
    {
        using var scope = NewDisposeScope();
        var logp = T(new float[,] { { 0f } }).requires_grad_();
        var reference = T(new float[,] { { MathF.Log(2f) } });
        var mask = ones(1, 1);
        var result = PolicyLoss.Compute(logp, logp.detach(), zeros(1), mask,
            new PolicyLossOptions(KlCoef: 0.5, Aggregation: LossAggregation.TokenMean), LossNormalization.Of([mask], 1),
            refLogProbs: reference);
        result.Loss.backward();
        // k3 = exp(ln 2) - ln 2 - 1 = 1 - ln 2; d/dlogp = 1 - exp(ref - logp) = -1.
        Assert.Equal(1 - System.Math.Log(2), result.Stats.KlMean!.Value, 6);
        Assert.Equal(0.5 * (1 - System.Math.Log(2)), result.Loss.item<float>(), 6);
        AssertClose([-0.5f], logp.grad!);
    }

    [Fact]
    public void Entropy_bonus_is_subtracted()
    {
        using var scope = NewDisposeScope();
        var logp = T(new float[,] { { -1f, -1f } }).requires_grad_();
        var entropy = T(new float[,] { { 2f, 4f } }).requires_grad_();
        var mask = ones(1, 2);
        var result = PolicyLoss.Compute(logp, logp.detach(), zeros(1), mask,
            new PolicyLossOptions(EntropyCoef: 0.1, Aggregation: LossAggregation.TokenMean), LossNormalization.Of([mask], 2),
            entropy: entropy);
        result.Loss.backward();
        Assert.Equal(-0.1 * 3, result.Loss.item<float>(), 6);
        Assert.Equal(3.0, result.Stats.EntropyMean!.Value, 6);
        AssertClose([-0.05f, -0.05f], entropy.grad!);
    }

    [Fact]
    public void Missing_or_misshapen_inputs_are_named()
    {
        using var scope = NewDisposeScope();
        var logp = zeros(2, 3);
        var mask = ones(2, 3);
        var normalization = LossNormalization.Of([mask], 3);
        var e = Assert.Throws<ArgumentException>(() =>
            PolicyLoss.Compute(logp, logp, zeros(2), mask, new PolicyLossOptions(KlCoef: 0.1), normalization));
        Assert.Contains("refLogProbs", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            PolicyLoss.Compute(logp, zeros(2, 4), zeros(2), mask, new PolicyLossOptions(), normalization));
        Assert.Contains("oldLogProbs", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            PolicyLoss.Compute(logp, logp, zeros(3), mask, new PolicyLossOptions(), normalization));
        Assert.Contains("advantages", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            PolicyLoss.Aggregate(logp, mask, LossAggregation.TokenMean, new LossNormalization(0, 2, 3)));
        Assert.Contains("token count", e.Message);
    }
}
