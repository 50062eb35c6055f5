using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>
/// A toy verifiable task on a tiny random model: the reward is 1 when the single completion token is
/// one of the "correct" tokens (the lower half of a 64-token vocabulary). A few updates of each objective
/// must move the policy as the paper describes.
/// </summary>
public class LearningTests
{
    const int Vocab = 64;
    static readonly int[] Prompt = [5, 9, 17];
    static bool IsCorrect(int token) => token < Vocab / 2;

    static LoadedModel TinyModel()
    {
        var config = Qwen2Config.Tiny with { VocabSize = Vocab, BosTokenId = null, EosTokenIds = [] };
        var model = new Qwen2ForCausalLM(config);
        model.InitializeWeights(3);
        model.eval();
        return new LoadedModel("", config, model, GenerationConfig.FromModelConfig(config));
    }

    /// <summary>The policy's next-token distribution after the prompt.</summary>
    static float[] Distribution(LoadedModel m)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(Prompt.Select(i => (long)i).ToArray()).unsqueeze(0);
        var positions = arange(Prompt.Length, ScalarType.Int64).unsqueeze(0);
        var hidden = m.Model.Hidden(ids, positions);
        return m.Model.Logits(hidden[0, -1]).softmax(-1).data<float>().ToArray();
    }

    /// <summary>Samples one-token completions and trains on them for a few steps; returns (distribution before, after, tokens sampled in the first step).</summary>
    static (float[] Before, float[] After, int[] FirstSamples) Train(string objective, float lambda = 0.1f, int steps = 4)
    {
        using var m = TinyModel();
        var before = Distribution(m);
        var optimizer = new AdamW(m.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(), 0.9, 0.95, 1e-8, 0);
        var update = new PolicyUpdate(m, optimizer, new PolicyLossOptions(Aggregation: LossAggregation.TokenMean), new UpdateSchedule(MaxResponseLength: 1));
        var sampler = new Sampler(m, null, maxBatch: 64);
        int[] first = [];
        for (int step = 0; step < steps; step++)
        {
            var completions = sampler.Generate([Prompt], 32, new SamplingParams { MaxNewTokens = 1, StopTokenIds = [], Seed = (ulong)step });
            var tokens = completions.Select(c => c.TokenIds[0]).ToArray();
            if (step == 0) first = tokens;
            var advantages = Objectives.Get(objective)([.. tokens.Select(t => IsCorrect(t) ? 1.0 : 0.0)], new ObjectiveOptions(lambda));
            var rollouts = completions.Select((c, i) => (c, a: advantages[i])).Where(x => x.a.Used)
                .Select(x => new Rollout(Prompt, x.c.TokenIds, x.c.PolicyLogProbs, x.a.Advantage)).ToList();
            if (rollouts.Count > 0) update.Run(rollouts, lr: 0.01);
        }
        return (before, Distribution(m), first);
    }

    static double Mass(float[] p, Func<int, bool> which) => Enumerable.Range(0, Vocab).Where(which).Sum(i => (double)p[i]);

    [Fact]
    public void Psr_raises_the_probability_of_rewarded_samples()
    {
        var (before, after, first) = Train("psr");
        var rewarded = first.Where(IsCorrect).ToHashSet();
        Assert.NotEmpty(rewarded);
        Assert.True(Mass(after, rewarded.Contains) > Mass(before, rewarded.Contains) + 0.1,
            $"p(rewarded samples) {Mass(before, rewarded.Contains):F3} -> {Mass(after, rewarded.Contains):F3}");
        Assert.True(Mass(after, IsCorrect) > Mass(before, IsCorrect));
    }

    [Fact]
    public void Nsr_lowers_the_probability_of_penalised_samples_and_spreads_it_over_the_others()
    {
        var (before, after, first) = Train("nsr");
        var penalised = first.Where(t => !IsCorrect(t)).ToHashSet();
        Assert.NotEmpty(penalised);
        Assert.True(Mass(after, penalised.Contains) < Mass(before, penalised.Contains) - 0.1,
            $"p(penalised samples) {Mass(before, penalised.Contains):F3} -> {Mass(after, penalised.Contains):F3}");
        // The mass goes to the tokens NSR never touched: correct ones and unsampled ones alike.
        Assert.True(Mass(after, IsCorrect) > Mass(before, IsCorrect));
        var unsampled = Enumerable.Range(0, Vocab).Where(t => !first.Contains(t)).ToArray();
        Assert.True(unsampled.Count(t => after[t] > before[t]) > unsampled.Length / 2,
            "most tokens NSR did not penalise should gain probability");
    }

    [Fact]
    public void W_reinforce_does_both()
    {
        var (before, after, first) = Train("w-reinforce");
        var penalised = first.Where(t => !IsCorrect(t)).ToHashSet();
        Assert.True(Mass(after, penalised.Contains) < Mass(before, penalised.Contains));
        Assert.True(Mass(after, IsCorrect) > Mass(before, IsCorrect));
    }

    [Fact]
    public void W_reinforce_gradient_is_lambda_psr_plus_nsr()
    {
        // With unused samples masked (same denominators), the loss is linear in the advantages:
        // grad(W-REINFORCE) = lambda x grad(PSR) + grad(NSR), exactly.
        using var m = TinyModel();
        var completions = new Sampler(m, null, 64).Generate([Prompt], 16, new SamplingParams { MaxNewTokens = 2, StopTokenIds = [], Seed = 9 });
        var correct = completions.Select(c => IsCorrect(c.TokenIds[0])).ToArray();
        Assert.Contains(true, correct);
        Assert.Contains(false, correct);
        Tensor Gradient(string objective)
        {
            var adv = Objectives.Get(objective)([.. correct.Select(c => c ? 1.0 : 0.0)], new ObjectiveOptions(0.1f));
            var rollouts = completions.Select((c, i) => new Rollout(Prompt, c.TokenIds, c.PolicyLogProbs, adv[i].Advantage)).ToList();
            using var batch = RolloutBatch.Create(rollouts, CPU);
            foreach (var (_, p) in m.Model.NamedParameters()) p.grad?.zero_();
            var hidden = batch.PredictorHidden(m.Model.Hidden(batch.InputIds, batch.Positions));
            var (logProbs, _) = TokenLogProbs.Compute(hidden, m.Model.LmHeadWeight, batch.Targets);
            var norm = new LossNormalization(rollouts.Sum(r => r.CompletionIds.Length), rollouts.Count, 2);
            PolicyLoss.Compute(logProbs, batch.OldLogProbs, batch.Advantages, batch.Mask,
                new PolicyLossOptions(Aggregation: LossAggregation.TokenMean), norm).Loss.backward();
            return m.Model.LmHeadWeight.grad!.clone();
        }
        var w = Gradient("w-reinforce");
        var psr = Gradient("psr");
        var nsr = Gradient("nsr");
        Assert.True(allclose(w, psr * 0.1 + nsr, rtol: 1e-4, atol: 1e-7));
        Assert.False(allclose(w, psr + nsr, rtol: 1e-4, atol: 1e-7));
    }
}
