using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

public class TokenScoringTests
{
    static (Tensor Hidden, Tensor Targets) Batch(Qwen2ForCausalLM model)
    {
        var ids = torch.tensor(Enumerable.Range(0, 2 * 9).Select(i => (long)(i * 53 % model.Config.VocabSize)).ToArray()).view(2, 9);
        var hidden = model.Hidden(ids, torch.arange(9).unsqueeze(0).expand(2, 9));
        return (hidden.narrow(1, 0, 8).reshape(-1, model.Config.HiddenSize), ids.narrow(1, 1, 8).reshape(-1));
    }

    /// <summary>The straightforward computation: full [N, vocab] logits, log_softmax, gather.</summary>
    static Tensor FullLogProbs(Qwen2ForCausalLM model, Tensor hidden, Tensor targets, double temperature = 1.0) =>
        (model.Logits(hidden) / temperature).log_softmax(1).gather(1, targets.unsqueeze(1)).squeeze(1);

    [Fact]
    public void Recomputing_chunks_give_the_gradients_of_the_full_logits()
    {
        foreach (var config in new[] { TestModels.Odd, TestModels.Small })   // untied and tied head
        {
            using var model = TestModels.Random(config, seed: 21);
            Dictionary<string, float[]> Gradients(Func<Tensor, Tensor, Tensor> logProbs)
            {
                model.zero_grad();
                using var scope = torch.NewDisposeScope();
                var (hidden, targets) = Batch(model);
                // Unequal weights per token, as an RL loss has (advantages).
                var weights = torch.linspace(-1, 2, targets.shape[0]);
                (logProbs(hidden, targets) * weights).sum().backward();
                return model.NamedParameters().ToDictionary(p => p.Name, p => TestModels.Floats(p.Parameter.grad!));
            }
            var full = Gradients((h, t) => FullLogProbs(model, h, t));
            var chunked = Gradients((h, t) => TokenScoring.Score(model, h, t, new TokenScoring.Options(ChunkRows: 5)).LogProbs);
            foreach (var (name, grad) in full)
            {
                Assert.True(grad.Any(g => g != 0), $"{name} got no gradient");
                TestModels.AssertClose(grad.Select(g => (double)g).ToArray(), chunked[name], 1e-5, name);
            }
        }
    }

    [Fact]
    public void Log_probs_at_a_temperature_and_entropy_match_the_definitions()
    {
        using var model = TestModels.Random(TestModels.Odd, seed: 4);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (hidden, targets) = Batch(model);
        var (logProbs, entropy) = TokenScoring.Score(model, hidden, targets, new TokenScoring.Options(ChunkRows: 3, Temperature: 0.7, Entropy: true));

        TestModels.AssertClose(TestModels.Floats(FullLogProbs(model, hidden, targets, 0.7)).Select(x => (double)x).ToArray(), TestModels.Floats(logProbs), 1e-5, "log-probs");
        var logP = (model.Logits(hidden) / 0.7).log_softmax(1);
        var expectedEntropy = (logP.exp() * logP).sum(1).neg();   // H = -sum p log p
        TestModels.AssertClose(TestModels.Floats(expectedEntropy).Select(x => (double)x).ToArray(), TestModels.Floats(entropy!), 1e-4, "entropy");
        Assert.All(TestModels.Floats(entropy!), h => Assert.InRange(h, 0.0, System.Math.Log(TestModels.Odd.VocabSize) + 1e-4));
    }

    [Fact]
    public void Positions_of_a_left_padded_batch_start_at_zero_on_the_first_real_token()
    {
        using var mask = torch.tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 }).view(2, 5);
        using var positions = Qwen2ForCausalLM.PositionsFromMask(mask);
        Assert.Equal(new long[] { 0, 0, 0, 1, 2, 0, 1, 2, 3, 4 }, positions.data<long>().ToArray());
    }
}
