using Rlvr.Generation;

namespace Rlvr.Tests.Generation;

public class ProgressAndRandomTests
{
    [Fact]
    public void Uniforms_are_in_the_open_interval_and_streams_differ()
    {
        var a = SequenceRandom.For(1, 0, 0);
        var draws = Enumerable.Range(0, 20000).Select(a.Uniform).ToArray();
        Assert.All(draws, u => Assert.InRange(u, double.Epsilon, 1 - 1e-17));
        Assert.InRange(draws.Average(), 0.49, 0.51);                     // sd of the mean: 0.002
        Assert.InRange(draws.Count(u => u < 0.1), 1800, 2200);           // sd: 42
        Assert.Equal(draws[5], SequenceRandom.For(1, 0, 0).Uniform(5));  // a pure function of its inputs
        var others = new[] { SequenceRandom.For(2, 0, 0), SequenceRandom.For(1, 1, 0), SequenceRandom.For(1, 0, 1) };
        Assert.All(others, o => Assert.NotEqual(draws.Take(10), Enumerable.Range(0, 10).Select(o.Uniform)));
    }

    [Fact]
    public void Without_a_terminal_progress_is_a_plain_line_at_most_every_interval()
    {
        var writer = new StringWriter();
        var progress = new ConsoleProgress("gen", writer, terminal: false, interval: TimeSpan.FromHours(1));
        progress.Report(new GenerationProgress(10, 5, 0, 4, TimeSpan.FromSeconds(2)));
        progress.Report(new GenerationProgress(20, 5, 1, 4, TimeSpan.FromSeconds(4)));   // within the interval: not shown
        progress.Finish();
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["gen: 0/4 sequences, 10 tokens, 5.0 tokens/s, 2 s", "gen: 1/4 sequences, 20 tokens, 5.0 tokens/s, 4 s"], lines);
        Assert.Equal("[##........]", ConsoleProgress.Bar(new GenerationProgress(0, 0, 1, 4, TimeSpan.Zero), 10));
    }
}
