using Rlvr.Model;
using Xunit;
using static Rlvr.Model.NativeRuntime;

namespace Rlvr.Tests.Model;

public class NativeRuntimeTests
{
    const long Qwen05B = 494_032_768, Qwen15B = 1_543_714_304;

    [Fact]
    public void Models_under_a_billion_parameters_keep_freed_memory_and_larger_ones_release_it()
    {
        Assert.Equal(FreedMemory.Keep, Choose(FreedMemory.Unchosen, Qwen05B));
        Assert.Equal(FreedMemory.Keep, Choose(FreedMemory.Unchosen, 800_000));   // the demo model
        Assert.Equal(FreedMemory.Release, Choose(FreedMemory.Unchosen, Qwen15B));
        Assert.Equal(FreedMemory.Release, Choose(FreedMemory.Unchosen, KeepFreedMemoryBelow));
    }

    [Fact]
    public void Once_a_large_model_released_memory_a_small_one_does_not_keep_it_again()
    {
        // A sweep may build a 0.5B and then a 1.5B model in one process, or the other way round.
        Assert.Equal(FreedMemory.Release, Choose(FreedMemory.Keep, Qwen15B));
        Assert.Equal(FreedMemory.Release, Choose(FreedMemory.Release, Qwen05B));
        Assert.Equal(FreedMemory.Keep, Choose(FreedMemory.Keep, Qwen05B));
    }
}
