using Rlvr.Generation;

namespace Rlvr.Tests.Generation;

public class PromptSeedTests
{
    [Theory]
    [InlineData(0UL, 0)]
    [InlineData(42UL, 1)]
    [InlineData(42UL, 31)]
    [InlineData(0x9E3779B97F4A7C15UL, 7)]
    [InlineData(ulong.MaxValue, 1000)]
    public void A_prompts_seed_gives_prompt_0_the_streams_of_that_prompt(ulong seed, int prompt)
    {
        var asPromptZero = SequenceRandom.For(SequenceRandom.PromptSeed(seed, prompt), 0, 3);
        var inBatch = SequenceRandom.For(seed, prompt, 3);
        Assert.Equal(inBatch, asPromptZero);
        Assert.Equal(inBatch.Uniform(5), asPromptZero.Uniform(5));
    }

    [Fact]
    public void Prompt_0_keeps_its_seed_and_other_prompts_get_other_seeds()
    {
        Assert.Equal(42UL, SequenceRandom.PromptSeed(42, 0));
        Assert.Equal(64, Enumerable.Range(0, 64).Select(p => SequenceRandom.PromptSeed(42, p)).Distinct().Count());
    }
}
