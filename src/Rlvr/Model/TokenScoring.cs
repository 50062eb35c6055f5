using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>
/// Per-token log-probabilities (and, on request, entropies) from hidden states, computing the LM head
/// a chunk of rows at a time: [N, vocab] never exists whole (at N = 64 x 700 tokens it would be 27 GB).
///
/// With autograd on, a custom autograd function keeps only the hidden states and targets and
/// recomputes each chunk's logits in the backward pass, so training memory for the head is one
/// chunk, at the price of computing the head's logits twice. Gradients reach the hidden states and
/// the head weight (the embedding when tied).
/// </summary>
public static class TokenScoring
{
    /// <summary>151936 x 256 rows x 4 bytes = 156 MB of logits per chunk.</summary>
    public const long DefaultChunkRows = 256;

    /// <param name="ChunkRows">Rows of logits computed at once.</param>
    /// <param name="Temperature">Logits are divided by it before the softmax (the distribution a sampler at this temperature draws from).</param>
    /// <param name="Entropy">Also return each row's entropy (detached: a metric, not a loss term).</param>
    public sealed record Options(long ChunkRows = DefaultChunkRows, double Temperature = 1.0, bool Entropy = false);

    /// <summary>
    /// log p(targets[i]) under the model's head at hidden[i] ([N, hidden] → [N], fp32), and the entropy
    /// [N] when <see cref="Options.Entropy"/> (else null).
    /// </summary>
    public static (Tensor LogProbs, Tensor? Entropy) Score(Qwen2ForCausalLM model, Tensor hidden, Tensor targets, Options? options = null)
    {
        options ??= new Options();
        if (hidden.dim() != 2 || targets.dim() != 1 || hidden.shape[0] != targets.shape[0])
            throw new ArgumentException($"hidden {SafeTensors.ShapeText(hidden.shape)} must be [N, hidden] and targets {SafeTensors.ShapeText(targets.shape)} [N]");
        if (options.ChunkRows <= 0 || options.Temperature <= 0) throw new ArgumentException("chunk rows and temperature must be positive");
        if (!torch.is_grad_enabled() || !(hidden.requires_grad || model.LmHeadWeight.requires_grad))
            return ScoreAll(model, hidden, targets, options, graph: false);
        // Only the head needs gradients: an autograd function would not see it (it is not an input), so keep each chunk's graph.
        if (!hidden.requires_grad) return ScoreAll(model, hidden, targets, options, graph: true);
        var entropy = new EntropyOutput();
        var logProbs = RecomputingLogProbs.apply(model, hidden, targets, options, entropy);
        return (logProbs, entropy.Value);
    }

    /// <summary>Chunk by chunk, recording autograd graphs only when <paramref name="graph"/>.</summary>
    static (Tensor LogProbs, Tensor? Entropy) ScoreAll(Qwen2ForCausalLM model, Tensor hidden, Tensor targets, Options options, bool graph)
    {
        using var noGrad = graph ? null : torch.no_grad();
        var logProbs = new List<Tensor>();
        var entropies = new List<Tensor>();
        for (long r = 0; r < hidden.shape[0]; r += options.ChunkRows)
            using (torch.NewDisposeScope())
            {
                var n = System.Math.Min(options.ChunkRows, hidden.shape[0] - r);
                var (lp, h) = ScoreChunk(model, hidden.narrow(0, r, n), targets.narrow(0, r, n), options);
                logProbs.Add(lp.MoveToOuterDisposeScope());
                if (h is not null) entropies.Add(h.MoveToOuterDisposeScope());
            }
        return (Concat(logProbs, hidden.device), options.Entropy ? Concat(entropies, hidden.device) : null);
    }

    /// <summary>One chunk: differentiable log-probs when autograd is on; the entropy never is.</summary>
    static (Tensor LogProbs, Tensor? Entropy) ScoreChunk(Qwen2ForCausalLM model, Tensor hidden, Tensor targets, Options options)
    {
        var logits = model.Logits(hidden).to(ScalarType.Float32);
        if (options.Temperature != 1.0) logits = logits / options.Temperature;
        var logZ = logits.logsumexp(1);
        var logProbs = logits.gather(1, targets.unsqueeze(1)).squeeze(1) - logZ;
        if (!options.Entropy) return (logProbs, null);
        using var noGrad = torch.no_grad();
        // H = log Z - sum p * logit, with p = exp(logit - log Z).
        var detached = logits.detach();
        var p = (detached - logZ.detach().unsqueeze(1)).exp_();
        return (logProbs, logZ.detach() - p.mul_(detached).sum(1));
    }

    static Tensor Concat(List<Tensor> pieces, Device device)
    {
        if (pieces.Count == 0) return torch.empty(0, ScalarType.Float32, device);
        var all = torch.cat(pieces, 0);
        foreach (var p in pieces) p.Dispose();
        return all;
    }

    sealed class EntropyOutput
    {
        public Tensor? Value;
    }

    /// <summary>
    /// The autograd function: forward scores every chunk without a graph and keeps hidden and targets;
    /// backward recomputes one chunk at a time with autograd on and backpropagates the incoming
    /// gradient through it (the head weight's gradient accumulates as usual).
    /// </summary>
    sealed class RecomputingLogProbs : torch.autograd.SingleTensorFunction<RecomputingLogProbs>
    {
        public override string Name => "ChunkedTokenLogProbs";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var (model, hidden, targets, options, entropy) = ((Qwen2ForCausalLM)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Options)vars[3], (EntropyOutput)vars[4]);
            ctx.save_for_backward([hidden, targets]);
            ctx.save_data("model", model);
            ctx.save_data("options", options);
            var (logProbs, h) = ScoreAll(model, hidden, targets, options, graph: false);
            entropy.Value = h;
            return logProbs;
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (hidden, targets) = (saved[0], saved[1]);
            var model = (Qwen2ForCausalLM)ctx.get_data("model");
            var options = (Options)ctx.get_data("options") with { Entropy = false };
            var grads = new List<Tensor>();
            for (long r = 0; r < hidden.shape[0]; r += options.ChunkRows)
                using (torch.NewDisposeScope())
                using (torch.enable_grad())
                {
                    var n = System.Math.Min(options.ChunkRows, hidden.shape[0] - r);
                    var chunk = hidden.narrow(0, r, n).detach().requires_grad_();
                    var (logProbs, _) = ScoreChunk(model, chunk, targets.narrow(0, r, n), options);
                    torch.autograd.backward([logProbs], [gradOutput.narrow(0, r, n)]);
                    grads.Add(chunk.grad!.MoveToOuterDisposeScope());
                }
            // One entry per argument of apply(model, hidden, targets, options, entropy): only hidden gets a gradient.
            return [null!, Concat(grads, hidden.device), null!, null!, null!];
        }
    }
}
