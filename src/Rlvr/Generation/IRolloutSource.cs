using Rlvr.Model;

namespace Rlvr.Generation;

/// <summary>
/// Where rollouts come from: the built-in <see cref="Sampler"/>, or inference servers (<c>Rollouts.RemoteRollouts</c>:
/// vLLM, SGLang, <c>rlvr serve</c>). Everything downstream (grading, advantages, the loss, samples files, metrics)
/// sees the same <see cref="Completion"/>s whichever source made them.
/// </summary>
public interface IRolloutSource
{
    /// <summary>n completions for every prompt, ordered by (prompt, sample); token ids exact, log-probs at temperature 1.</summary>
    IReadOnlyList<Completion> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams p,
        IProgress<GenerationProgress>? progress = null);

    /// <summary>
    /// The trainer's policy has new weights (<paramref name="version"/> = the step that made them). A source that samples
    /// from a copy of the policy brings the copy up to date here, and refuses to sample until it can show it is.
    /// </summary>
    void PolicyChanged(LoadedModel policy, int version);
}
