using System.Diagnostics;
using Rlvr.Model;
using Rlvr.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>
/// One AdamW step over parameters of Qwen2.5-0.5B's shapes (494 M, fp32, random gradients; RLVR_BENCH=1 only; another
/// bundled config with RLVR_BENCH_CONFIG, e.g. qwen2.5-1.5b, whose embeddings are tied too): the
/// fused kernel (its check and update passes) against the torch ops, for the moment precisions in RLVR_BENCH_STATES
/// (default fp32,bf16,8bit). The kernel's step is timed three times (the fastest and the mean are printed), the torch
/// ops once (they take tens of seconds; RLVR_BENCH_TORCH=0 skips them).
/// </summary>
public class AdamWStepBenchmark(ITestOutputHelper output)
{
    [BenchmarkFact]
    public void Step_at_Qwen2_5_size()
    {
        var c = Qwen2Config.LoadNamedOrPath(Environment.GetEnvironmentVariable("RLVR_BENCH_CONFIG") ?? "qwen2.5-0.5b");
        Assert.True(c.TieWordEmbeddings, "the shapes below have no separate LM head");
        var shapes = new List<long[]> { new long[] { c.VocabSize, c.HiddenSize } };
        int kv = c.NumKeyValueHeads * c.HeadDim;
        for (int l = 0; l < c.NumHiddenLayers; l++)
            shapes.AddRange([[c.HiddenSize, c.HiddenSize], [c.HiddenSize], [kv, c.HiddenSize], [kv], [kv, c.HiddenSize], [kv], [c.HiddenSize, c.HiddenSize],
                [c.IntermediateSize, c.HiddenSize], [c.IntermediateSize, c.HiddenSize], [c.HiddenSize, c.IntermediateSize], [c.HiddenSize], [c.HiddenSize]]);
        shapes.Add([c.HiddenSize]);
        var gen = manual_seed(3);
        var ps = new List<(string, Tensor)>();
        foreach (var (shape, i) in shapes.Select((s, i) => (s, i)))
        {
            // Temporaries freed at once (1.5B's would otherwise wait for the finalizers, and exceed 24 GiB with them).
            using var scope = NewDisposeScope();
            var p = randn(shape, generator: gen).mul_(0.02f).requires_grad_();
            (p * randn(shape, generator: gen).mul_(1e-3f)).sum().backward();
            ps.Add(($"p{i}", p.DetachFromDisposeScope()));
        }
        double n = ps.Sum(p => p.Item2.numel());
        output.WriteLine($"{ps.Count} tensors, {n / 1e6:F1} M parameters, {get_num_threads()} threads, {Environment.ProcessorCount} processors");
        foreach (var name in (Environment.GetEnvironmentVariable("RLVR_BENCH_STATES") ?? "fp32,bf16,8bit").Split(','))
        {
            var precision = MomentPrecisions.Parse(name);
            var opt = new AdamW(ps, 0.9, 0.95, 1e-8, 0.01, precision);
            Assert.True(opt.Update(1e-6));   // the moments exist from here on, as in every step but the first
            var times = new List<(double Total, double Check, double Apply)>();
            for (int k = 0; k < 3; k++)
            {
                var clock = Stopwatch.StartNew();
                Assert.True(opt.Update(1e-6));
                times.Add((clock.Elapsed.TotalSeconds, opt.LastKernelSeconds.Check, opt.LastKernelSeconds.Apply));
            }
            var best = times.MinBy(t => t.Total);
            var normClock = Stopwatch.StartNew();
            double norm = opt.GradNorm();
            double normSeconds = normClock.Elapsed.TotalSeconds;
            normClock.Restart();
            opt.ClipGradients(norm, norm * 0.999);
            output.WriteLine($"{name}: gradient norm {normSeconds:F3} s, clipping {normClock.Elapsed.TotalSeconds:F3} s");
            output.WriteLine($"{name}: kernel step {best.Total:F3} s (check {best.Check:F3} + update {best.Apply:F3}), mean of 3 {times.Average(t => t.Total):F3} s; " +
                $"{n / best.Total / 1e9:F2} G parameters/s");
            if (Environment.GetEnvironmentVariable("RLVR_BENCH_TORCH") != "0")
            {
                opt.UseKernel = false;
                var clock = Stopwatch.StartNew();
                Assert.True(opt.Update(1e-6));
                output.WriteLine($"{name}: torch ops step {clock.Elapsed.TotalSeconds:F2} s");
            }
            foreach (var t in opt.StateTensors().Values) t.Dispose();
        }
    }
}
