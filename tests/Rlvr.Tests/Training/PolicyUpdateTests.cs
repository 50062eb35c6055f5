using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Tests.Generation;
using Rlvr.Tests.Model;
using Rlvr.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>
/// Every branch of <see cref="PolicyUpdate.Run"/> on a small random model and rollouts its own sampler drew:
/// the policy optimised is the one that sampled (temperature, padding, micro-batch splits), unused samples
/// masked or dropped, the KL term, several epochs and mini-batches (the clip acts), and the non-finite skip.
/// </summary>
public class PolicyUpdateTests
{
    // Prompts of different lengths, so rows of a micro-batch are padded differently.
    static readonly int[][] Prompts = [[5, 9, 17], [40, 41, 42, 43, 44, 45, 46], [7], [100, 101, 102, 103, 104]];
    // Many stop tokens, so completions end at different lengths.
    static readonly int[] StopIds = [.. Enumerable.Range(200, 24)];

    static LoadedModel Model(long seed = 11) => GenerationTestModels.Wrap(TestModels.Random(TestModels.Odd, seed));

    static AdamW Optimizer(LoadedModel m) =>
        new(m.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(), 0.9, 0.95, 1e-8, 0.01);

    static IReadOnlyList<Completion> Sample(LoadedModel m, double temperature, double topP = 1, int n = 4) =>
        new Sampler(m, null, maxBatch: 7).Generate(Prompts, n, new SamplingParams
        {
            Temperature = temperature, TopP = topP, MaxNewTokens = 12, StopTokenIds = StopIds, Seed = 3,
        });

    /// <summary>Rollouts with the given old log-probs and advantages alternating +1 / -1.</summary>
    static List<Rollout> Rollouts(IReadOnlyList<Completion> completions, Func<Completion, float[]> oldLogProbs) =>
        [.. completions.Select((c, i) => new Rollout(Prompts[c.PromptIndex], c.TokenIds, oldLogProbs(c), i % 2 == 0 ? 1f : -1f))];

    static float[] Weights(LoadedModel m) =>
        [.. m.Model.NamedParameters().SelectMany(p => TestModels.Floats(p.Parameter))];

    [Theory]
    [InlineData(0, 1)]      // one micro-batch holding every rollout
    [InlineData(40, 1)]     // split by the token budget
    [InlineData(0, 3)]      // three gradient-accumulation parts
    [InlineData(30, 2)]     // both
    public void At_temperature_0_7_the_trainer_recomputes_the_samplers_log_probs(int microBatchTokens, int gradAccum)
    {
        using var m = Model();
        var completions = Sample(m, 0.7);
        Assert.True(completions.Select(c => c.TokenIds.Length).Distinct().Count() > 2, "completion lengths should vary");
        // The sampler's sampling log-probs (no top-k/top-p: the tempered policy), in a shuffled order.
        var rollouts = Rollouts(completions, c => c.SamplingLogProbs).OrderBy(r => r.CompletionIds.Length % 3).ToList();
        var schedule = new UpdateSchedule(GradAccum: gradAccum, MicroBatchTokens: microBatchTokens, MaxResponseLength: 12);
        var result = new PolicyUpdate(m, Optimizer(m), new PolicyLossOptions(Temperature: 0.7), schedule).Run(rollouts, lr: 1e-3);

        Assert.True(result.SamplerMismatch < 1e-4, $"largest |log p trainer - log p sampler| = {result.SamplerMismatch}");
        Assert.Equal(0, result.ClipRatio);
        Assert.Equal(1, result.OptimizerSteps);
        Assert.Equal(completions.Sum(c => (long)c.TokenIds.Length), result.Tokens);
    }

    [Fact]
    public void Log_probs_at_temperature_1_are_not_the_samplers_at_0_7()
    {
        // What the trainer computed before it took the temperature into account: a different policy.
        using var m = Model();
        var rollouts = Rollouts(Sample(m, 0.7), c => c.SamplingLogProbs);
        var result = new PolicyUpdate(m, Optimizer(m), new PolicyLossOptions(), new UpdateSchedule(MaxResponseLength: 12)).Run(rollouts, lr: 0);
        Assert.True(result.SamplerMismatch > 0.05, $"mismatch {result.SamplerMismatch}");
    }

    [Fact]
    public void With_top_p_the_old_log_probs_are_the_tempered_policys_over_the_whole_vocabulary()
    {
        using var m = Model();
        var completions = Sample(m, 0.7, topP: 0.8);
        // Truncation renormalises the sampling distribution: its log-probs are higher than the tempered policy's.
        Assert.Contains(completions, c => c.SamplingLogProbs.Zip(c.PolicyLogProbs).Any(x => x.First > x.Second + 1e-3));
        var result = new PolicyUpdate(m, Optimizer(m), new PolicyLossOptions(Temperature: 0.7), new UpdateSchedule(MicroBatchTokens: 40, MaxResponseLength: 12))
            .Run(Rollouts(completions, c => c.PolicyLogProbs), lr: 1e-3);
        Assert.True(result.SamplerMismatch < 1e-4, $"mismatch {result.SamplerMismatch}");
    }

    [Fact]
    public void Masked_unused_samples_count_in_token_means_denominator_and_dropped_ones_do_not()
    {
        // On policy (ratio 1) the token-mean loss is -sum_i A_i T_i / (tokens in the batch), T_i the length of rollout i.
        using var m = Model();
        var completions = Sample(m, 1.0);
        var used = completions.Select((c, i) => new Rollout(Prompts[c.PromptIndex], c.TokenIds, c.PolicyLogProbs, i % 3 == 0 ? -1f : 0f)).ToList();
        var kept = used.Where(r => r.Advantage != 0).ToList();
        double signal = -kept.Sum(r => r.Advantage * r.CompletionIds.Length);
        var options = new PolicyLossOptions(Aggregation: LossAggregation.TokenMean);
        var schedule = new UpdateSchedule(MicroBatchTokens: 50, MaxResponseLength: 12);

        var masked = new PolicyUpdate(m, Optimizer(m), options, schedule).Run(used, lr: 0);          // --unused mask: all enter
        var dropped = new PolicyUpdate(m, Optimizer(m), options, schedule).Run(kept, lr: 0);         // --unused drop
        Assert.Equal(signal / used.Sum(r => r.CompletionIds.Length), masked.Loss, 4);
        Assert.Equal(signal / kept.Sum(r => r.CompletionIds.Length), dropped.Loss, 4);
        Assert.True(System.Math.Abs(masked.Loss - dropped.Loss) > 1e-3);
        // The trainer's choice of which samples enter (drop: the used ones; mask: all).
        Assert.Equal([true, false, true], PolicyLoss.EntersLossBatch([true, false, true], UnusedSamples.Drop));
        Assert.Equal([true, true, true], PolicyLoss.EntersLossBatch([true, false, true], UnusedSamples.Mask));
    }

    [Fact]
    public void The_KL_term_to_the_reference_starts_at_zero_and_grows_as_the_policy_moves()
    {
        using var m = Model();
        using var reference = Model();                 // same seed: the initial policy
        var update = new PolicyUpdate(m, Optimizer(m), new PolicyLossOptions(KlCoef: 0.5, Temperature: 0.7),
            new UpdateSchedule(MaxResponseLength: 12), reference);
        var rollouts = Rollouts(Sample(m, 0.7), c => c.PolicyLogProbs);
        var first = update.Run(rollouts, lr: 2e-2);
        Assert.NotNull(first.Kl);
        Assert.True(first.Kl!.Value < 1e-6, $"KL at the start {first.Kl}");
        var second = update.Run(rollouts, lr: 2e-2);
        Assert.True(second.Kl > 1e-4, $"KL after one update {second.Kl}");
        var withoutReference = new PolicyUpdate(m, Optimizer(m), new PolicyLossOptions(), new UpdateSchedule(MaxResponseLength: 12)).Run(rollouts, lr: 0);
        Assert.Null(withoutReference.Kl);
    }

    [Fact]
    public void Several_epochs_and_mini_batches_take_one_step_each_and_the_clip_acts()
    {
        using var m = Model();
        var rollouts = Rollouts(Sample(m, 1.0), c => c.PolicyLogProbs);
        var result = new PolicyUpdate(m, Optimizer(m), new PolicyLossOptions(Clip: 0.2),
            new UpdateSchedule(Epochs: 3, MiniBatches: 2, MicroBatchTokens: 60, MaxResponseLength: 12)).Run(rollouts, lr: 5e-2);
        Assert.Equal(6, result.OptimizerSteps);
        Assert.Equal(0, result.NonFinite);
        // The first step is on-policy; the later ones see a moved policy, and its ratios leave [0.8, 1.2].
        Assert.True(result.SamplerMismatch < 1e-4, $"mismatch {result.SamplerMismatch}");
        Assert.True(result.ClipRatio > 0, "the PPO clip never acted");
    }

    [Fact]
    public void A_non_finite_loss_skips_the_step_leaving_weights_and_optimizer_state_untouched()
    {
        using var m = Model();
        var optimizer = Optimizer(m);
        var update = new PolicyUpdate(m, optimizer, new PolicyLossOptions(), new UpdateSchedule(MaxResponseLength: 12));
        var rollouts = Rollouts(Sample(m, 1.0), c => c.PolicyLogProbs);
        Assert.Equal(1, update.Run(rollouts, lr: 1e-2).OptimizerSteps);     // a state that is not all zeros

        var weights = Weights(m);
        var state = optimizer.StateTensors().ToDictionary(kv => kv.Key, kv => TestModels.Floats(kv.Value));
        var step = optimizer.Step;
        var poisoned = rollouts.Select((r, i) => i == 1 ? r with { SamplerLogProbs = [.. r.SamplerLogProbs.Select(_ => float.NaN)] } : r).ToList();
        var result = update.Run(poisoned, lr: 1e-2);

        Assert.Equal(1, result.NonFinite);
        Assert.Equal(0, result.OptimizerSteps);
        Assert.Equal(weights, Weights(m));
        Assert.Equal(step, optimizer.Step);
        foreach (var (name, values) in optimizer.StateTensors())
            Assert.Equal(state[name], TestModels.Floats(values));
        Assert.All(m.Model.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
    }
}
