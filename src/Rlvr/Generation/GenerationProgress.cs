using System.Globalization;

namespace Rlvr.Generation;

/// <summary>Where a <see cref="Sampler.Generate"/> call stands; reported after every prefill and decode step.</summary>
public sealed record GenerationProgress(long GeneratedTokens, long PrefilledTokens, int SequencesDone, int SequencesTotal, TimeSpan Elapsed)
{
    /// <summary>Generated tokens per second of wall time so far (prefill included in the time).</summary>
    public double TokensPerSecond => Elapsed.TotalSeconds > 0 ? GeneratedTokens / Elapsed.TotalSeconds : 0;

    /// <summary>One plain line: "generate: 12/64 sequences, 3456 tokens, 150.2 tokens/s, 23 s".</summary>
    public string Line(string label = "generate") => string.Create(CultureInfo.InvariantCulture,
        $"{label}: {SequencesDone}/{SequencesTotal} sequences, {GeneratedTokens} tokens, {TokensPerSecond:F1} tokens/s, {Elapsed.TotalSeconds:F0} s");
}

/// <summary>
/// Shows generation progress on stderr: a redrawn bar when stderr is a terminal, otherwise a plain
/// line every <see cref="Interval"/> (logs, CI, files). <see cref="Finish"/> (or Dispose) prints the final state.
/// </summary>
public sealed class ConsoleProgress : IProgress<GenerationProgress>, IDisposable
{
    readonly TextWriter writer;
    readonly bool terminal;
    readonly string label;
    DateTime lastShown = DateTime.MinValue;
    GenerationProgress? last;

    public TimeSpan Interval { get; }

    public ConsoleProgress(string label = "generate", TextWriter? writer = null, bool? terminal = null, TimeSpan? interval = null)
    {
        this.label = label;
        this.writer = writer ?? Console.Error;
        this.terminal = terminal ?? (writer is null && !Console.IsErrorRedirected);
        Interval = interval ?? (this.terminal ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(5));
    }

    public void Report(GenerationProgress value)
    {
        last = value;
        var now = DateTime.UtcNow;
        if (now - lastShown < Interval) return;
        lastShown = now;
        Show(value);
    }

    /// <summary>Shows the last reported state once more and ends the bar's line.</summary>
    public void Finish()
    {
        if (last is null) return;
        Show(last);
        if (terminal) writer.WriteLine();
    }

    /// <summary><see cref="Finish"/>: a caller that only knows <see cref="IProgress{T}"/> ends it by disposing it.</summary>
    public void Dispose() => Finish();

    void Show(GenerationProgress p)
    {
        if (terminal) writer.Write("\r" + Bar(p, 30) + " " + p.Line(label) + "   ");
        else writer.WriteLine(p.Line(label));
        writer.Flush();
    }

    /// <summary>[#########.....] for the fraction of sequences done.</summary>
    public static string Bar(GenerationProgress p, int width)
    {
        var filled = p.SequencesTotal == 0 ? width : (int)((long)width * p.SequencesDone / p.SequencesTotal);
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }
}
