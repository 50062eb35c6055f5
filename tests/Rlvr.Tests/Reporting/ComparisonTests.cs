using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class ComparisonTests
{
    static Run RunOf(string model, string objective, int seed = 1) =>
        new($"/runs/{model}-{objective}", $"{model}-{objective}", model, objective, seed, 80, true, [], []);

    [Fact]
    public void ModelsAreOrderedBySizeAndObjectivesAsInThePaper()
    {
        var c = new Comparison([
            RunOf("Qwen2.5-3B-Instruct", "grpo"), RunOf("Qwen2.5-0.5B-Instruct", "nsr"), RunOf("my-model", "psr"),
            RunOf("Qwen2.5-1.5B-Instruct", "psr"), RunOf("Qwen2.5-0.5B-Instruct", RunFolder.UnknownObjective),
            RunOf("Qwen2.5-0.5B-Instruct", "psr"), RunOf("Qwen2.5-0.5B-Instruct", "zeta"),
        ]);
        Assert.Equal(["Qwen2.5-0.5B-Instruct", "Qwen2.5-1.5B-Instruct", "Qwen2.5-3B-Instruct", "my-model"], c.Models);
        Assert.Equal(["psr", "nsr", "zeta", "unknown"], c.GroupsOf("Qwen2.5-0.5B-Instruct").Select(g => g.Objective));
    }

    [Fact]
    public void ShortModelNamesDropSharedLeadingAndTrailingWords()
    {
        Assert.Equal(new Dictionary<string, string> { ["Qwen2.5-0.5B-Instruct"] = "0.5B", ["Qwen2.5-1.5B-Instruct"] = "1.5B" },
            Comparison.ShortModelNames(["Qwen2.5-0.5B-Instruct", "Qwen2.5-1.5B-Instruct"]));
        Assert.Equal(new Dictionary<string, string> { ["base_sft"] = "base_sft", ["other"] = "other" },
            Comparison.ShortModelNames(["base_sft", "other"]));
        Assert.Equal(new Dictionary<string, string> { ["a-b"] = "b", ["a-b-c"] = "b-c" }, Comparison.ShortModelNames(["a-b", "a-b-c"]));
        Assert.Equal(new Dictionary<string, string> { ["x-a"] = "x-a", ["x_a"] = "x_a" }, Comparison.ShortModelNames(["x-a", "x_a"]));
        Assert.Equal("", Comparison.ShortModelNames(["Qwen2.5-0.5B-Instruct"])["Qwen2.5-0.5B-Instruct"]);
        var c = new Comparison([RunOf("Qwen2.5-0.5B-Instruct", "psr", 3), RunOf("Qwen2.5-1.5B-Instruct", "psr")]);
        Assert.Equal("0.5B psr seed 3", c.ShortLabel(c.Runs.First()));
    }

    [Fact]
    public void ObjectivesKeepTheirColourWhateverElseIsInTheReport()
    {
        var a = new ObjectiveStyle(["psr", "nsr"]);
        var b = new ObjectiveStyle(["grpo", "psr", "my-objective", "other-objective", RunFolder.UnknownObjective]);
        Assert.Equal(a.Hex("psr"), b.Hex("psr"));
        string[] known = [ObjectiveStyle.Base, "psr", "nsr", "w-reinforce", "reinforce", "grpo"];
        var colours = known.Select(b.Hex).Concat([b.Hex("my-objective"), b.Hex("other-objective"), b.Hex(RunFolder.UnknownObjective)]).ToList();
        Assert.Equal(colours.Count, colours.Distinct().Count());
        Assert.Equal("#1f77b4", b.Hex("psr")); // blue
        Assert.Equal("#d62728", b.Hex("nsr")); // red
    }
}
