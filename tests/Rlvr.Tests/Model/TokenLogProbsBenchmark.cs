using System.Diagnostics;
using Rlvr.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

/// <summary>
/// Fused chunked token log-probs vs the naive full-logits computation at Qwen2.5-0.5B's sizes (H 896, V 151,936),
/// and scoring without autograd (<see cref="TokenLogProbs.LogProbsOnly"/> under no_grad, as <c>rlvr logprobs</c> runs it).
/// RLVR_BENCH_ROWS sets the rows (default 1024), RLVR_BENCH_CHUNK the chunk rows (default TokenLogProbs.DefaultChunkRows);
/// RLVR_BENCH_NAIVE=0 skips the naive version (it needs about 3.5 GiB per 1024 rows).
/// Peak memory is the process's peak resident set (VmHWM, reset through /proc/self/clear_refs) above the resident set before.
/// </summary>
public class TokenLogProbsBenchmark(ITestOutputHelper output)
{
    const int Hidden = 896, Vocab = 151_936;

    [BenchmarkFact]
    public void Fused_vs_naive_time_and_peak_memory()
    {
        int rows = int.Parse(Environment.GetEnvironmentVariable("RLVR_BENCH_ROWS") ?? "1024");
        int chunk = int.Parse(Environment.GetEnvironmentVariable("RLVR_BENCH_CHUNK") ?? TokenLogProbs.DefaultChunkRows.ToString());
        using var scope = NewDisposeScope();
        var gen = manual_seed(1);
        var hidden = randn(rows, Hidden, generator: gen).requires_grad_();
        var weight = (randn(Vocab, Hidden, generator: gen) * 0.02).detach().requires_grad_();
        var targets = randint(0, Vocab, [rows], generator: gen);

        var (fusedLogProbs, fusedGradW) = Measure($"fused (chunk {chunk})", hidden, weight,
            () => TokenLogProbs.Compute(hidden, weight, targets, chunk).LogProbs);
        Assert.True(fusedLogProbs.le(0).all().item<bool>(), "a log-prob is positive or NaN");

        var clock = Stopwatch.StartNew();
        using (no_grad())
        {
            var scored = TokenLogProbs.LogProbsOnly(hidden, weight, targets, chunk);
            output.WriteLine($"scoring without autograd (chunk {chunk}): {rows} rows: {clock.Elapsed.TotalSeconds:F2} s");
            Assert.True((scored - fusedLogProbs).abs().max().item<float>() < 1e-4, "scored log-probs differ");
        }
        if (Environment.GetEnvironmentVariable("RLVR_BENCH_NAIVE") == "0") return;

        var (naiveLogProbs, naiveGradW) = Measure("naive", hidden, weight,
            () => TokenLogProbsTests.Naive(hidden, weight, targets, 1.0).LogProbs);
        Assert.True((fusedLogProbs - naiveLogProbs).abs().max().item<float>() < 1e-4, "log-probs differ");
        Assert.True((fusedGradW - naiveGradW).abs().max().item<float>() < 1e-4, "weight gradients differ");
    }

    (Tensor LogProbs, Tensor GradWeight) Measure(string name, Tensor hidden, Tensor weight, Func<Tensor> logProbs)
    {
        hidden.grad?.zero_();
        weight.grad?.zero_();
        GC.Collect();
        long before = ResidentKiB("VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5");   // resets VmHWM to the current resident set
        var clock = Stopwatch.StartNew();
        Tensor result;
        using (var step = NewDisposeScope())
        {
            result = logProbs();
            var forward = clock.Elapsed.TotalSeconds;
            result.sum().backward();
            result = result.detach().MoveToOuterDisposeScope();
            output.WriteLine($"{name}: {hidden.shape[0]} rows x {Hidden} x {Vocab}: forward {forward:F2} s, " +
                             $"forward+backward {clock.Elapsed.TotalSeconds:F2} s, peak memory above start {(ResidentKiB("VmHWM") - before) / 1024.0 / 1024:F2} GiB");
        }
        return (result, weight.grad!.clone());
    }

    static long ResidentKiB(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
