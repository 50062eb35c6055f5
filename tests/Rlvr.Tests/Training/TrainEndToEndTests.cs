using System.Text.Json.Nodes;

namespace Rlvr.Tests.Training;

/// <summary>A tiny random model with the real tokenizer, made once for the end-to-end training tests.</summary>
public sealed class TinyModelFixture
{
    public string ModelDir { get; }

    public TinyModelFixture()
    {
        ModelDir = Path.Combine(Fixtures.TempDir(), "tiny");
        var r = CliRunner.Run("init-model", "--config", "tiny", "--out", ModelDir, "--seed", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
    }
}

public class TrainEndToEndTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    string[] TrainArgs(string runDir, string objective, int steps) =>
    [
        "train", "--model", tiny.ModelDir, "--objective", objective, "--out", runDir,
        "--steps", steps.ToString(), "--rollout-batch-size", "4", "--rollouts-per-prompt", "2", "--max-new-tokens", "8",
        "--eval-every", "2", "--eval-limit", "4", "--eval-max-new-tokens", "8", "--save-every", "2", "--lr", "1e-3",
        "--grad-accum", "2", "--seed", "7",
    ];

    static List<JsonObject> Lines(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();

    [Fact]
    public void Train_writes_metrics_events_samples_and_a_loadable_checkpoint()
    {
        var run = Path.Combine(Fixtures.TempDir(), "run");
        // At temperature 0.7, with micro-batches of one rollout each (the prompts alone are longer than 64 tokens).
        var r = CliRunner.Run([.. TrainArgs(run, "nsr", 3), "--temperature", "0.7", "--micro-batch-tokens", "64"]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);

        var metrics = Lines(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal([1, 2, 3], metrics.Where(l => (string)l["type"]! == "train").Select(l => (int)l["step"]!));
        Assert.Equal([0, 2, 3], metrics.Where(l => (string)l["type"]! == "eval").Select(l => (int)l["step"]!));
        var first = metrics.First(l => (string)l["type"]! == "train");
        foreach (var key in new[] { "reward", "correct_ratio", "verifier_error_ratio", "completions/mean_length", "time/sampling", "time/forward", "time/step", "lr" })
            Assert.True(first.ContainsKey(key), $"missing {key}");
        // A random model is always wrong: NSR trains on every batch, none is skipped.
        foreach (var step in metrics.Where(l => (string)l["type"]! == "train"))
        {
            Assert.True((double)step["reward"]! < 1, "the batch should hold a wrong answer");
            Assert.True(step.ContainsKey("loss") && step.ContainsKey("grad_norm") && !step.ContainsKey("skipped"), step.ToJsonString());
            // The policy optimised is the one that sampled: its log-probs at the sampling temperature are the sampler's.
            Assert.True((double)step["sampler_mismatch"]! < 1e-4, step.ToJsonString());
        }

        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "events")));
        Assert.Equal(12, File.ReadAllLines(Path.Combine(run, "samples.jsonl")).Length);
        Assert.True(File.Exists(Path.Combine(run, "eval", "step_000003.json")));
        Assert.True(File.Exists(Path.Combine(run, "summary.json")));
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal(3, (int)config["steps"]!);

        var checkpoint = Path.Combine(run, "checkpoints", "step_000003");
        Assert.True(File.Exists(Path.Combine(checkpoint, "trainer_state.json")));
        var input = Path.Combine(run, "in.jsonl");
        File.WriteAllText(input, """{"id": 1, "input_ids": [151644, 872, 198, 9707]}""" + "\n");
        var scored = CliRunner.Run("logprobs", "--model", checkpoint, "--input", input);
        Assert.True(scored.ExitCode == 0, scored.Stderr);
        Assert.Equal(3, ((JsonArray)JsonNode.Parse(scored.Stdout.Trim())!["token_logprobs"]!).Count);
    }

    [Fact]
    public void A_run_killed_and_resumed_gives_the_same_metrics_as_an_uninterrupted_run()
    {
        const int steps = 6;
        var whole = Path.Combine(Fixtures.TempDir(), "whole");
        var r = CliRunner.Run(TrainArgs(whole, "nsr", steps));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);

        var killed = Path.Combine(Fixtures.TempDir(), "killed");
        Assert.True(CliRunner.RunUntilFileExists(Path.Combine(killed, "checkpoints", "step_000002", "trainer_state.json"), TrainArgs(killed, "nsr", steps)),
            "the run never wrote its step-2 checkpoint");
        var resumed = CliRunner.Run("train", "--resume", killed);
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);

        static IEnumerable<string> TrainLines(string run) => Lines(Path.Combine(run, "metrics.jsonl"))
            .Where(l => (string)l["type"]! == "train")
            .Select(l => { foreach (var k in l.Select(kv => kv.Key).Where(k => k.StartsWith("time/")).ToList()) l.Remove(k); return l.ToJsonString(); });
        var expected = TrainLines(whole).ToList();
        Assert.Equal(steps, expected.Count);
        Assert.Equal(expected, TrainLines(killed));
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "samples.jsonl")), File.ReadAllLines(Path.Combine(killed, "samples.jsonl")));
    }

    [Fact]
    public void A_resume_with_overrides_records_them_and_the_next_resume_keeps_them()
    {
        var run = Path.Combine(Fixtures.TempDir(), "run");
        // No evaluations: the same flags as TrainArgs with --eval-every 0 (a flag may be given once).
        var args = TrainArgs(run, "nsr", 2);
        args[Array.IndexOf(args, "--eval-every") + 1] = "0";
        var first = CliRunner.Run(args);
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        Assert.False(File.Exists(Path.Combine(run, "overrides.jsonl")));

        var r = CliRunner.Run("train", "--resume", run, "--steps", "3", "--lr", "2e-3");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal(3, (int)config["steps"]!);
        Assert.Equal(2e-3, (double)config["lr"]!);
        var overrides = Lines(Path.Combine(run, "overrides.jsonl"));
        var line = Assert.Single(overrides);
        Assert.Equal(2, (int)line["resumed_from_step"]!);
        Assert.True(DateTime.TryParse((string)line["time"]!, out _));
        var changed = (JsonObject)line["changed"]!;
        Assert.Equal(["lr", "steps"], changed.Select(kv => kv.Key).Order());
        Assert.Equal(2, (int)changed["steps"]!["from"]!);
        Assert.Equal(3, (int)changed["steps"]!["to"]!);
        var trained = Lines(Path.Combine(run, "metrics.jsonl")).Where(l => (string)l["type"]! == "train").ToList();
        Assert.Equal([1, 2, 3], trained.Select(l => (int)l["step"]!));
        Assert.Equal(2e-3, (double)trained[2]["lr"]!);

        // A plain resume keeps the overridden values and records nothing new.
        r = CliRunner.Run("train", "--resume", run);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(3, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!["steps"]!);
        Assert.Single(Lines(Path.Combine(run, "overrides.jsonl")));
    }

    [Fact]
    public void A_second_run_into_the_same_folder_is_refused_and_bad_options_are_named()
    {
        var run = Path.Combine(Fixtures.TempDir(), "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "metrics.jsonl"), "");
        var r = CliRunner.Run(TrainArgs(run, "psr", 1));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--resume", r.Stderr);

        r = CliRunner.Run(TrainArgs(Path.Combine(Fixtures.TempDir(), "x"), "ppo", 1));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("objective", r.Stderr);
    }
}
