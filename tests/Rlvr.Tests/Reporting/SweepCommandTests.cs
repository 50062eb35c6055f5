using System.Globalization;
using System.Text.Json.Nodes;
using Rlvr.Tests.Training;
using Rlvr.Training;

namespace Rlvr.Tests.Reporting;

/// <summary><c>rlvr sweep</c> end to end: real short runs of a tiny random model, an interrupted sweep, and the report.</summary>
public class SweepCommandTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    /// <summary>The training options of every run here: 2 steps of 4 rollouts of 8 tokens, evaluated on 4 problems at steps 0 and 2, a checkpoint at every step (only the newest kept: 120 MB each).</summary>
    static readonly string[] Fast =
    [
        "--steps", "2", "--rollout-batch-size", "4", "--rollouts-per-prompt", "2", "--max-new-tokens", "8", "--eval-every", "2",
        "--eval-limit", "4", "--eval-max-new-tokens", "8", "--save-every", "1", "--keep-checkpoints", "1", "--lr", "1e-3",
    ];

    string[] SweepArgs(string dir) => ["sweep", "--models", tiny.ModelDir, "--objectives", "nsr,psr", "--seeds", "7", "--out", dir, "--smooth", "1", .. Fast];

    static List<JsonObject> Lines(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();

    static List<int> Steps(string run, string type) =>
        Lines(Path.Combine(run, "metrics.jsonl")).Where(l => (string)l["type"]! == type).Select(l => (int)l["step"]!).ToList();

    /// <summary>Train lines without the timings (which differ between runs).</summary>
    static List<string> TrainLines(string run) => Lines(Path.Combine(run, "metrics.jsonl"))
        .Where(l => (string)l["type"]! == "train")
        .Select(l => { foreach (var k in l.Select(kv => kv.Key).Where(k => k.StartsWith("time/")).ToList()) l.Remove(k); return l.ToJsonString(); })
        .ToList();

    /// <summary>"p ± SE" with SE = sqrt(p(1-p)/problems), from an evaluation summary the trainer wrote.</summary>
    static (double P, string Cell) EvalCell(string run, int step)
    {
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "eval", $"step_{step:D6}.json")))!;
        var p = (double)summary["pass_at_k"]!["1"]!;
        var n = (int)summary["n_problems"]!;
        Assert.Equal(4, n);
        return (p, string.Format(CultureInfo.InvariantCulture, "{0:F3} ± {1:F3}", p, System.Math.Sqrt(p * (1 - p) / n)));
    }

    [Fact]
    public void An_interrupted_sweep_continues_where_it_stopped_and_reports_every_run()
    {
        var dir = Fixtures.TempDir();
        var whole = Fixtures.TempDir();   // an uninterrupted run of the same options
        InterruptedSweep(dir, whole);
        // Only when it passed (a failure leaves the folders to look at): a checkpoint of even the tiny model takes 120 MB.
        Directory.Delete(dir, recursive: true);
        Directory.Delete(whole, recursive: true);
    }

    void InterruptedSweep(string dir, string whole)
    {
        var runs = Path.Combine(dir, "runs");
        var name = Path.GetFileName(tiny.ModelDir);
        var nsr = Path.Combine(runs, $"{name}__nsr__seed7");
        var psr = Path.Combine(runs, $"{name}__psr__seed7");

        // Killed in the first run (NSR, which updates the model even when every sample is wrong) after its step-1 checkpoint.
        Assert.True(CliRunner.RunUntilFileExists(Path.Combine(nsr, "checkpoints", "step_000001", "trainer_state.json"), SweepArgs(dir)),
            "the sweep never wrote the first run's step-1 checkpoint");
        Assert.False(File.Exists(Path.Combine(nsr, "summary.json")));
        Assert.True(File.Exists(Path.Combine(dir, "sweep.json")));
        // The second run as if it had been killed before its first checkpoint, with leftovers that must not survive.
        Directory.CreateDirectory(Path.Combine(psr, "eval"));
        File.WriteAllText(Path.Combine(psr, "config.json"), "{}");
        File.WriteAllText(Path.Combine(psr, "metrics.jsonl"), """{"type": "train", "step": 9, "reward": 0.5}""" + "\n");
        File.WriteAllText(Path.Combine(psr, "samples.jsonl"), """{"step": 9}""" + "\n");
        File.WriteAllText(Path.Combine(psr, "eval", "step_000009.json"), "{}");

        var r = CliRunner.Run(SweepArgs(dir));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains($"[1/2] {name}__nsr__seed7: continue", r.Stdout);
        Assert.Contains("resuming", r.Stdout);
        Assert.Contains($"[2/2] {name}__psr__seed7: continue", r.Stdout);
        Assert.Contains("no checkpoint yet: starting it over", r.Stdout);
        foreach (var run in new[] { nsr, psr })
        {
            Assert.True(File.Exists(Path.Combine(run, "summary.json")), run);
            Assert.Equal([1, 2], Steps(run, "train"));
            Assert.Equal([0, 2], Steps(run, "eval"));
            Assert.Equal(8, File.ReadAllLines(Path.Combine(run, "samples.jsonl")).Length);   // 2 steps x 4 rollouts
        }
        Assert.False(File.Exists(Path.Combine(psr, "eval", "step_000009.json")));
        Assert.Equal(name, (string)JsonNode.Parse(File.ReadAllText(Path.Combine(psr, "config.json")))!["model_name"]!);

        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "sweep.json")))!;
        Assert.Equal([$"{name}__nsr__seed7", $"{name}__psr__seed7"], manifest["runs"]!.AsArray().Select(x => (string)x!));
        Assert.Equal(2, (int)manifest["options"]!["steps"]!);

        // The report: a summary row per objective with the runs' own evaluation numbers, one pass@1 row per evaluation step.
        var md = File.ReadAllText(Path.Combine(dir, "report", "report.md"));
        foreach (var (objective, run) in new[] { ("psr", psr), ("nsr", nsr) })
        {
            var (p0, cell0) = EvalCell(run, 0);
            var (p2, cell2) = EvalCell(run, 2);
            var delta = (p2 - p0).ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture);
            Assert.Contains($"| {name} | {objective} | 1 | 2 | {cell0} | {cell2} | {delta} | – |", md);
        }
        foreach (var step in new[] { 0, 2 })
            Assert.Contains($"| {step} | {EvalCell(psr, step).Cell} | {EvalCell(nsr, step).Cell} |", md);   // columns in the paper's order: psr, nsr
        foreach (var png in new[] { "final_pass1.png", $"pass1_{name}.png", "train_reward.png", "train_entropy.png" })
            Assert.True(new FileInfo(Path.Combine(dir, "report", png)).Length > 1000, png);

        // Again: nothing to train, the report is written anew.
        File.Delete(Path.Combine(dir, "report", "report.md"));
        r = CliRunner.Run(SweepArgs(dir));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains($"[1/2] {name}__nsr__seed7: skip (finished)", r.Stdout);
        Assert.Contains($"[2/2] {name}__psr__seed7: skip (finished)", r.Stdout);
        Assert.DoesNotContain("step 1/2", r.Stdout);
        Assert.True(File.Exists(Path.Combine(dir, "report", "report.md")));

        // The killed and continued run computed what an uninterrupted 'rlvr train' with the same options computes.
        r = CliRunner.Run(["train", "--model", tiny.ModelDir, "--objective", "nsr", "--seed", "7", "--out", whole, .. Fast]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(TrainLines(whole), TrainLines(nsr));
        Assert.Contains("\"loss\"", TrainLines(nsr)[1]);   // step 2 (after the resume) made an update
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "samples.jsonl")), File.ReadAllLines(Path.Combine(nsr, "samples.jsonl")));
    }

    [Fact]
    public void Runs_trained_at_once_compute_what_they_compute_one_after_the_other()
    {
        var oneByOne = Fixtures.TempDir();
        var atOnce = Fixtures.TempDir();
        // One torch thread in both: the number of threads changes the order of float sums.
        var r = CliRunner.Run([.. SweepArgs(oneByOne), "--threads", "1"]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        r = CliRunner.Run([.. SweepArgs(atOnce), "--threads", "1", "--jobs", "2"]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var name = Path.GetFileName(tiny.ModelDir);
        foreach (var objective in new[] { "nsr", "psr" })
        {
            var run = $"{name}__{objective}__seed7";
            Assert.Contains($"{run}: step 2/2", r.Stdout);   // each run's lines carry its name
            string a = Path.Combine(oneByOne, "runs", run), b = Path.Combine(atOnce, "runs", run);
            Assert.Equal(2, TrainLines(a).Count);
            Assert.Equal(TrainLines(a), TrainLines(b));
            Assert.Equal(File.ReadAllLines(Path.Combine(a, "samples.jsonl")), File.ReadAllLines(Path.Combine(b, "samples.jsonl")));
            Assert.Equal(File.ReadAllText(Path.Combine(a, "eval", "step_000002.samples.jsonl")), File.ReadAllText(Path.Combine(b, "eval", "step_000002.samples.jsonl")));
        }
        Assert.True(File.Exists(Path.Combine(atOnce, "report", "report.md")));
        // 'rlvr report' given the sweep's folder reads the runs in its runs/ folder.
        r = CliRunner.Run("report", atOnce, "--out", Path.Combine(atOnce, "again"));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("from 2 run(s)", r.Stdout);
        Directory.Delete(oneByOne, recursive: true);   // the checkpoints: 120 MB each
        Directory.Delete(atOnce, recursive: true);

        r = CliRunner.Run([.. SweepArgs(Fixtures.TempDir()), "--jobs", "0"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--jobs", r.Stderr);
    }

    [Fact]
    public void Single_run_options_other_training_options_and_bad_lists_are_refused_before_training()
    {
        var dir = Fixtures.TempDir();
        string[] Args(params string[] extra) => ["sweep", "--models", tiny.ModelDir, "--objectives", "psr", "--out", dir, .. extra];

        var r = CliRunner.Run(Args("--seed", "3"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: --seed: a sweep sets it per run; use --seeds", r.Stderr);

        var file = Path.Combine(dir, "options.json");
        File.WriteAllText(file, """{"steps": 2, "objective": "nsr"}""");
        r = CliRunner.Run(Args("--config", file));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"error: {file}: 'objective' is set per run by a sweep; remove it from the file and use --objectives", r.Stderr);

        r = CliRunner.Run(Args("--seeds", "1,x"));
        Assert.Contains("error: --seeds: 'x' is not an integer", r.Stderr);

        r = CliRunner.Run(["sweep", "--models", $"{tiny.ModelDir},{Path.Combine(dir, "missing")}", "--objectives", "psr", "--out", dir]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: --models: ", r.Stderr);
        Assert.Contains("missing", r.Stderr);

        File.WriteAllText(Path.Combine(dir, "sweep.json"),
            SweepManifest.For(new SweepGrid([tiny.ModelDir], ["psr"], [42]), new TrainConfig { Steps = 2 }).ToJson());
        r = CliRunner.Run(Args("--steps", "3"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("other training options (steps: 2 there, 3 here)", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "runs")));
    }

    [Fact]
    public void Help_lists_every_shared_training_option_and_hides_the_single_run_ones()
    {
        var r = CliRunner.Run("sweep", "--help");
        Assert.Equal(0, r.ExitCode);
        var flags = r.Stdout.Split('\n').Select(l => l.TrimStart()).Where(l => l.StartsWith("--")).Select(l => l.Split(' ')[0]).ToHashSet();
        foreach (var option in TrainConfig.Options.Select(TrainConfig.Flag).Where(f => f is not ("--model" or "--model-name" or "--objective" or "--seed" or "--out")))
            Assert.Contains(option, flags);
        foreach (var option in new[] { "--models", "--objectives", "--seeds", "--out", "--config", "--jobs", "--smooth", "--smooth-train" }) Assert.Contains(option, flags);
        foreach (var option in new[] { "--model", "--model-name", "--objective", "--seed" }) Assert.DoesNotContain(option, flags);
    }
}
