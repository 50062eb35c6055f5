using Rlvr.Training;

namespace Rlvr.Tests.Training;

public class TrainConfigTests
{
    [Fact]
    public void Defaults_are_the_small_reference_settings()
    {
        var c = new TrainConfig();
        Assert.Equal((80, 64, 2, 512), (c.Steps, c.RolloutBatchSize, c.RolloutsPerPrompt, c.MaxNewTokens));
        Assert.Equal((1.0, 1.0), (c.Temperature, c.TopP));
        Assert.Equal((1e-6, 0.9, 0.95, 0.01), (c.Lr, c.Beta1, c.Beta2, c.WeightDecay));
        Assert.Equal((1.0, 2, 10, 42), (c.GradClip, c.GradAccum, c.EvalEvery, c.Seed));
        Assert.Equal(32, c.PromptsPerStep);
    }

    [Fact]
    public void Flags_and_keys_follow_the_option_names()
    {
        var flags = TrainConfig.Options.Select(TrainConfig.Flag).ToHashSet();
        foreach (var f in new[] { "--steps", "--rollout-batch-size", "--rollouts-per-prompt", "--max-new-tokens", "--temperature",
                     "--lr", "--grad-accum", "--eval-every", "--eval-data", "--train-data", "--seed", "--out", "--lambda", "--objective" })
            Assert.Contains(f, flags);
        Assert.Contains("rollout_batch_size", TrainConfig.Options.Select(TrainConfig.Key));
    }

    [Fact]
    public void Config_file_round_trips_and_rejects_unknown_keys()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "run.json");
        File.WriteAllText(path, """{"model": "m", "objective": "nsr", "steps": 3, "rollout-batch-size": 8, "lr": 2e-6}""");
        var c = TrainConfig.Load(path);
        Assert.Equal(("m", "nsr", 3, 8, 2e-6), (c.Model, c.Objective, c.Steps, c.RolloutBatchSize, c.Lr));
        var back = TrainConfig.FromJson(c.ToJson(), "test");
        Assert.Equal(c.ToJson(), back.ToJson());

        File.WriteAllText(path, """{"model": "m", "stepz": 3}""");
        var e = Assert.Throws<InvalidDataException>(() => TrainConfig.Load(path));
        Assert.Contains("stepz", e.Message);
        Assert.Contains(path, e.Message);

        File.WriteAllText(path, """{"steps": "many"}""");
        e = Assert.Throws<InvalidDataException>(() => TrainConfig.Load(path));
        Assert.Contains("'steps' expects an integer", e.Message);
    }

    [Theory]
    [InlineData("objective", "ppo")]
    [InlineData("rollout_batch_size", "63")]
    [InlineData("unused", "keep")]
    [InlineData("eval_k", "1,4")]
    public void Validation_names_the_bad_option(string key, string value)
    {
        var c = new TrainConfig { Model = "m" };
        var option = TrainConfig.Options.Single(o => TrainConfig.Key(o) == key);
        option.SetValue(c, option.PropertyType == typeof(int) ? int.Parse(value) : value);
        var e = Assert.Throws<ArgumentException>(c.Validate);
        Assert.StartsWith(key, e.Message);
    }
}
