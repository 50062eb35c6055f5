using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Generation;

/// <summary>Models and oracles for the sampler tests: full recomputation without a KV cache, in plain C# math where it matters.</summary>
public static class GenerationTestModels
{
    static readonly Lazy<LoadedModel> fixture = new(() => ModelFolder.Load(Fixtures.TinyQwen2));
    static readonly Lazy<LoadedModel> odd = new(() => Wrap(TestModels.Random(TestModels.Odd, seed: 7)));

    /// <summary>tests/fixtures/tiny-qwen2 (shared by the tests; never modified).</summary>
    public static LoadedModel Fixture => fixture.Value;

    /// <summary>A random untied model with 3 query heads per KV head and a 320-token vocabulary whose logits spread over several nats.</summary>
    public static LoadedModel Odd => odd.Value;

    public static LoadedModel Wrap(Qwen2ForCausalLM model) =>
        new("(random)", model.Config, model, GenerationConfig.FromModelConfig(model.Config));

    /// <summary>Logits after <paramref name="ids"/>, by a full forward pass without a cache, in double.</summary>
    public static double[] NextLogits(LoadedModel m, IReadOnlyList<int> ids)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        var hidden = m.Model.Hidden(input, torch.arange(ids.Count).unsqueeze(0));
        var logits = m.Model.Logits(hidden[0, ids.Count - 1]);
        return TestModels.Floats(logits).Select(x => (double)x).ToArray();
    }

    /// <summary>Greedy continuation by recomputing the whole sequence for every token (no cache, no batching).</summary>
    public static int[] GreedyByRecomputation(LoadedModel m, IReadOnlyList<int> prompt, int tokens)
    {
        var ids = prompt.ToList();
        for (var t = 0; t < tokens; t++)
        {
            var logits = NextLogits(m, ids);
            ids.Add(Array.IndexOf(logits, logits.Max()));
        }
        return ids.Skip(prompt.Count).ToArray();
    }

    /// <summary>
    /// The sampling distribution written from its definition: softmax(logits / T), keep the top k
    /// (renormalise), then the most likely tokens while the mass before them is below top_p (renormalise).
    /// </summary>
    public static double[] SamplingDistribution(double[] logits, double temperature, int topK = 0, double topP = 1)
    {
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ToArray();
        var keep = new bool[logits.Length];
        var kept = topK > 0 ? order.Take(topK).ToArray() : order;
        foreach (var i in kept) keep[i] = true;
        var probs = Softmax(logits.Select((l, i) => keep[i] ? l / temperature : double.NegativeInfinity).ToArray());
        if (topP < 1)
        {
            double before = 0;
            foreach (var i in order)
            {
                if (before >= topP) probs[i] = 0;
                before += probs[i];
            }
            var total = probs.Sum();
            for (var i = 0; i < probs.Length; i++) probs[i] /= total;
        }
        return probs;
    }

    public static double[] Softmax(double[] x)
    {
        var max = x.Max();
        var e = x.Select(v => System.Math.Exp(v - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    public static int[][] Ids(IReadOnlyList<Completion> completions) => completions.Select(c => c.TokenIds).ToArray();
}
