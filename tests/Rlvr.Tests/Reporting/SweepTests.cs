using Rlvr.Reporting;
using Rlvr.Training;
using static Rlvr.Tests.Reporting.RunFixture;

namespace Rlvr.Tests.Reporting;

/// <summary>The grid logic of <c>rlvr sweep</c> without training: names, grid order, manifest, and what
/// <see cref="Sweep.Run"/> does with finished, partial, new and failing runs (a fake trainer writes the folders).</summary>
public class SweepTests
{
    [Fact]
    public void Run_folder_names_come_from_the_model_folder_or_the_hub_id()
    {
        var folder = Path.Combine(Fixtures.TempDir(), "Qwen2.5-0.5B-Instruct");
        Directory.CreateDirectory(folder);
        Assert.Equal("Qwen2.5-0.5B-Instruct", Sweep.ModelFolderName(folder));
        Assert.Equal("Qwen2.5-0.5B-Instruct", Sweep.ModelFolderName(folder + "/"));
        Assert.Equal("Qwen--Qwen2.5-1.5B-Instruct", Sweep.ModelFolderName("Qwen/Qwen2.5-1.5B-Instruct"));
        Assert.Equal("step_000080", Sweep.ModelFolderName("/nowhere/runs/a/checkpoints/step_000080"));
        Assert.Equal("my_model_v2_", Sweep.ModelFolderName("/m/my model+v2!"));
        Assert.Equal("Qwen--Qwen2.5-0.5B-Instruct__w-reinforce__seed3", new SweepRun("Qwen/Qwen2.5-0.5B-Instruct", "w-reinforce", 3).Name);
        Assert.Equal("tiny__psr__seed-1", new SweepRun("/m/tiny", "psr", -1).Name);
    }

    [Fact]
    public void The_grid_runs_model_then_objective_then_seed()
    {
        var grid = new SweepGrid(["/m/a", "/m/b"], ["nsr", "psr"], [2, 1]);
        Assert.Equal(
            ["a__nsr__seed2", "a__nsr__seed1", "a__psr__seed2", "a__psr__seed1", "b__nsr__seed2", "b__nsr__seed1", "b__psr__seed2", "b__psr__seed1"],
            grid.Runs().Select(r => r.Name));
        Assert.Equal(("/m/b", "psr", 1), (grid.Runs()[^1].Model, grid.Runs()[^1].Objective, grid.Runs()[^1].Seed));
    }

    [Fact]
    public void A_grid_with_repeats_or_clashing_run_names_is_refused()
    {
        Assert.Contains("/x/m and /y/m", Assert.Throws<ArgumentException>(() => new SweepGrid(["/x/m", "/y/m"], ["psr"], [1]).Runs()).Message);
        Assert.StartsWith("seeds: listed twice", Assert.Throws<ArgumentException>(() => new SweepGrid(["/x/m"], ["psr"], [1, 1]).Runs()).Message);
        Assert.StartsWith("objectives: listed twice", Assert.Throws<ArgumentException>(() => new SweepGrid(["/x/m"], ["psr", "psr"], [1]).Runs()).Message);
        Assert.Throws<ArgumentException>(() => new SweepGrid([], ["psr"], [1]).Runs());
    }

    [Fact]
    public void A_run_config_is_the_shared_options_with_the_runs_model_objective_seed_and_folder()
    {
        var shared = new TrainConfig { Steps = 3, Lr = 2e-6, ModelName = "ignored", Seed = 99, Objective = "grpo" };
        var c = Sweep.RunConfig(shared, new SweepRun("/models/Qwen2.5-1.5B-Instruct", "nsr", 5), "/s");
        Assert.Equal(("/models/Qwen2.5-1.5B-Instruct", "Qwen2.5-1.5B-Instruct", "nsr", 5), (c.Model, c.ModelName, c.Objective, c.Seed));
        Assert.Equal(Path.Combine("/s", "runs", "Qwen2.5-1.5B-Instruct__nsr__seed5"), c.Out);
        Assert.Equal((3, 2e-6), (c.Steps, c.Lr));
        Assert.Equal(("grpo", 99), (shared.Objective, shared.Seed));   // the shared config is not changed
        Assert.Equal("Qwen2.5-0.5B-Instruct", Sweep.RunConfig(shared, new SweepRun("Qwen/Qwen2.5-0.5B-Instruct", "psr", 1), "/s").ModelName);
    }

    [Fact]
    public void Run_state_follows_config_and_summary()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "run");
        Assert.Equal(RunState.New, Sweep.State(dir));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "metrics.jsonl"), "");
        Assert.Equal(RunState.New, Sweep.State(dir));
        File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
        Assert.Equal(RunState.Partial, Sweep.State(dir));
        File.WriteAllText(Path.Combine(dir, "summary.json"), "{}");
        Assert.Equal(RunState.Finished, Sweep.State(dir));
    }

    [Fact]
    public void The_manifest_extends_with_a_new_grid_and_refuses_other_training_options()
    {
        var first = SweepManifest.For(new SweepGrid(["/m/a"], ["psr", "nsr"], [1]), new TrainConfig { Steps = 3 });
        var more = SweepManifest.For(new SweepGrid(["/m/a", "/m/b"], ["nsr"], [1, 2]), new TrainConfig { Steps = 3, Threads = 4, Device = "cuda" });
        var both = first.Extend(more, "sweep.json");
        Assert.Equal(["/m/a", "/m/b"], both.Models);
        Assert.Equal(["psr", "nsr"], both.Objectives);
        Assert.Equal([1, 2], both.Seeds);
        Assert.Equal(["a__psr__seed1", "a__nsr__seed1", "a__nsr__seed2", "b__nsr__seed1", "b__nsr__seed2"], both.Runs);
        Assert.Equal(4, both.Options.Threads);   // execution options follow the latest invocation

        var other = SweepManifest.For(new SweepGrid(["/m/a"], ["psr"], [1]), new TrainConfig { Steps = 4, Lr = 1e-5 });
        var e = Assert.Throws<InvalidDataException>(() => first.Extend(other, "DIR/sweep.json"));
        Assert.StartsWith("DIR/sweep.json: this sweep folder was made with other training options (steps: 3 there, 4 here; lr: 1E-06 there, 1E-05 here)", e.Message);

        var path = Path.Combine(Fixtures.TempDir(), "sweep.json");
        File.WriteAllText(path, both.ToJson());
        var back = SweepManifest.Load(path);
        Assert.Equal(both.Runs, back.Runs);
        Assert.Equal(both.Seeds, back.Seeds);
        Assert.Equal(3, back.Options.Steps);
        var text = File.ReadAllText(path);
        foreach (var key in new[] { "\"model\"", "\"objective\"", "\"seed\"", "\"out\"", "\"model_name\"" }) Assert.DoesNotContain(key, text);

        File.WriteAllText(path, """{"models": "a", "options": {}}""");
        Assert.Contains("\"models\" is not a list", Assert.Throws<InvalidDataException>(() => SweepManifest.Load(path)).Message);
    }

    /// <summary>Writes a complete run folder the way the trainer would: config.json, evaluations at 0 and Steps, summary.json.</summary>
    static void FakeTrain(TrainConfig config, double passAt1)
    {
        Directory.CreateDirectory(config.Out);
        AtomicFile.WriteAllText(Path.Combine(config.Out, "config.json"), config.ToJson());
        using (var metrics = new MetricsWriter(Path.Combine(config.Out, MetricsWriter.FileName)))
        {
            WriteEval(config.Out, metrics, new SyntheticEval(0, 1, 100, (1, 0.25)));
            WriteTrainSteps(metrics, 1, config.Steps, 0.25);
            WriteEval(config.Out, metrics, new SyntheticEval(config.Steps, 1, 100, (1, passAt1)));
        }
        AtomicFile.WriteAllText(Path.Combine(config.Out, "summary.json"), "{}");
    }

    [Fact]
    public void A_sweep_skips_finished_runs_continues_partial_ones_goes_on_after_a_failure_and_reports_all()
    {
        var dir = Fixtures.TempDir();
        var grid = new SweepGrid(["/m/tiny"], ["psr", "nsr", "grpo", "reinforce"], [1]);
        var shared = new TrainConfig { Steps = 4 };
        var runs = Path.Combine(dir, "runs");
        FakeTrain(Sweep.RunConfig(shared, new SweepRun("/m/tiny", "psr", 1), dir), 0.5);        // finished
        Directory.CreateDirectory(Path.Combine(runs, "tiny__nsr__seed1"));
        File.WriteAllText(Path.Combine(runs, "tiny__nsr__seed1", "config.json"), "{}");           // partial

        var calls = new List<(string Run, bool Resume)>();
        var console = new StringWriter();
        var result = Sweep.Run(grid, shared, dir, new ReportOptions(Smooth: 1), console, (config, resume, _) =>
        {
            calls.Add((Path.GetFileName(config.Out), resume));
            if (config.Objective == "grpo") throw new InvalidOperationException("out of memory");
            FakeTrain(config, config.Objective == "nsr" ? 0.35 : 0.45);
        });

        Assert.Equal([("tiny__nsr__seed1", true), ("tiny__grpo__seed1", false), ("tiny__reinforce__seed1", false)], calls);
        Assert.Equal([new SweepFailure("tiny__grpo__seed1", "out of memory")], result.Failures);
        var log = console.ToString();
        Assert.Contains("[1/4] tiny__psr__seed1: skip (finished)", log);
        Assert.Contains("[2/4] tiny__nsr__seed1: continue (from its last checkpoint)", log);
        Assert.Contains("[3/4] tiny__grpo__seed1: failed: InvalidOperationException: out of memory", log);
        Assert.Contains("[4/4] tiny__reinforce__seed1: start", log);

        Assert.Equal(3, result.Report.RunsRead);
        Assert.Equal(Path.Combine(dir, "report", "report.md"), result.Report.ReportPath);
        var md = File.ReadAllText(result.Report.ReportPath);
        // SE = sqrt(p(1-p)/100): 0.25 -> 0.043, 0.5 -> 0.050, 0.35 -> 0.048, 0.45 -> 0.050.
        Assert.Contains("| tiny | psr | 1 | 4 | 0.250 ± 0.043 | 0.500 ± 0.050 | +0.250 | – |", md);
        Assert.Contains("| tiny | nsr | 1 | 4 | 0.250 ± 0.043 | 0.350 ± 0.048 | +0.100 | – |", md);
        Assert.Contains("| tiny | reinforce | 1 | 4 | 0.250 ± 0.043 | 0.450 ± 0.050 | +0.200 | – |", md);
        Assert.DoesNotContain("grpo", md);
        Assert.True(File.Exists(Path.Combine(dir, "sweep.json")));
    }

    [Fact]
    public void Bad_options_stop_a_sweep_before_any_run_starts()
    {
        var dir = Fixtures.TempDir();
        var calls = 0;
        var e = Assert.Throws<ArgumentException>(() => Sweep.Run(new SweepGrid(["/m/tiny"], ["psr", "ppo"], [1]), new TrainConfig(), dir,
            new ReportOptions(), TextWriter.Null, (_, _, _) => calls++));
        Assert.StartsWith("objective: 'ppo'", e.Message);
        Assert.Equal(0, calls);
        Assert.False(File.Exists(Path.Combine(dir, "sweep.json")));

        File.WriteAllText(Path.Combine(dir, "sweep.json"), SweepManifest.For(new SweepGrid(["/m/tiny"], ["psr"], [1]), new TrainConfig { Steps = 2 }).ToJson());
        Assert.Throws<InvalidDataException>(() => Sweep.Run(new SweepGrid(["/m/tiny"], ["nsr"], [1]), new TrainConfig { Steps = 3 }, dir,
            new ReportOptions(), TextWriter.Null, (_, _, _) => calls++));
        Assert.Equal(0, calls);
    }
}
