using Rlvr.Training;

namespace Rlvr.Tests.Training;

public class ObjectivesTests
{
    static readonly ObjectiveOptions Defaults = new();

    // Two prompts: one with a correct and an incorrect sample, one with two incorrect samples (verifier rewards 1/0).
    static readonly double[][] Groups = [[1, 0], [0, 0]];

    static SampleAdvantage[] Flat(string objective, double[][] groups, ObjectiveOptions? options = null) =>
        [.. Objectives.Get(objective).Apply(groups, options ?? Defaults).SelectMany(g => g)];

    [Fact]
    public void Psr_reinforces_correct_samples_only() =>
        Assert.Equal([new(1f, true), new(0f, false), new(0f, false), new(0f, false)], Flat("psr", Groups));

    [Fact]
    public void Nsr_penalizes_incorrect_samples_only() =>
        Assert.Equal([new(0f, false), new(-1f, true), new(-1f, true), new(-1f, true)], Flat("nsr", Groups));

    [Fact]
    public void W_reinforce_weights_correct_samples_by_lambda()
    {
        Assert.Equal([new(0.1f, true), new(-1f, true), new(-1f, true), new(-1f, true)], Flat("w-reinforce", Groups));
        Assert.Equal(0.5f, Flat("w-reinforce", [[1]], new ObjectiveOptions(Lambda: 0.5f))[0].Advantage);
    }

    [Fact]
    public void Reinforce_uses_plus_and_minus_one() =>
        Assert.Equal([new(1f, true), new(-1f, true), new(-1f, true), new(-1f, true)], Flat("reinforce", Groups));

    [Fact]
    public void Grpo_normalizes_by_the_unbiased_group_std()
    {
        // rewards 1,0,0,0: mean 1/4, squared deviations 9/16 + 3 x 1/16 = 3/4, sample variance (3/4)/3 = 1/4, std 1/2.
        var a = Objectives.Get("grpo")([1, 0, 0, 0], new ObjectiveOptions(GrpoEpsilon: 0f));
        Assert.Equal(1.5f, a[0].Advantage, 6);
        Assert.All(a[1..], s => Assert.Equal(-0.5f, s.Advantage, 6));
        Assert.All(a, s => Assert.True(s.Used));
    }

    [Fact]
    public void Grpo_adds_epsilon_to_the_std()
    {
        // rewards 1,0: mean 1/2, sample std sqrt((1/4 + 1/4) / 1) = 0.70710678; eps 0.1 -> 0.5 / 0.80710678 = 0.61950235.
        var a = Objectives.Get("grpo")([1, 0], new ObjectiveOptions(GrpoEpsilon: 0.1f));
        Assert.Equal(0.61950235f, a[0].Advantage, 5);
        Assert.Equal(-0.61950235f, a[1].Advantage, 5);
    }

    [Fact]
    public void Dr_grpo_only_subtracts_the_group_mean()
    {
        var a = Objectives.Get("grpo")([1, 1, 0, 0, 0], new ObjectiveOptions(GrpoScaleByStd: false));
        Assert.Equal([0.6f, 0.6f, -0.4f, -0.4f, -0.4f], a.Select(s => s.Advantage).ToArray());
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(0, 0, 0)]
    [InlineData(-0.5, -0.5, -0.5)]
    public void Grpo_gives_zero_variance_groups_nothing(double a, double b, double c)
    {
        var result = Objectives.Get("grpo").Apply([[a, b, c], [1]], Defaults);
        Assert.All(result.SelectMany(g => g), s => Assert.Equal(new SampleAdvantage(0f, false), s));
    }

    [Fact]
    public void Paper_formulation_with_rewards_one_and_zero_gives_the_same_advantages_on_used_samples()
    {
        // The paper's verl code: r in {1, 0}; PSR advantage r, NSR r - 1, W-REINFORCE lambda r for correct and r - 1 for incorrect.
        double[][] groups = [[1, 0, 1], [0]];
        var paper = new Dictionary<string, Func<double, float>>
        {
            ["psr"] = r => (float)r,
            ["nsr"] = r => (float)(r - 1),
            ["w-reinforce"] = r => r == 1 ? (float)(0.1 * r) : (float)(r - 1),
        };
        foreach (var (name, advantage) in paper)
        {
            var ours = Flat(name, groups);
            var rewards = groups.SelectMany(g => g).ToArray();
            for (int i = 0; i < rewards.Length; i++)
                Assert.Equal(advantage(rewards[i]), ours[i].Used ? ours[i].Advantage : 0f);
        }
    }

    [Fact]
    public void Numeric_rewards_reach_the_advantages()
    {
        // A format penalty of 0.2 makes a no-answer sample's reward -0.2 (hand-computed advantages below).
        double[][] groups = [[1, 0, -0.2]];
        Assert.Equal([new(1f, true), new(0f, false), new(0f, false)], Flat("psr", groups));
        Assert.Equal([new(0f, false), new(-1f, true), new(-1.2f, true)], Flat("nsr", groups));
        // lambda PSR + NSR with lambda 0.1: 0.1, -1, -1.2.
        Assert.Equal([new(0.1f, true), new(-1f, true), new(-1.2f, true)], Flat("w-reinforce", groups));
        // rewards 1, 0, -0.2: mean 0.8/3, deviations 2.2/3, -0.8/3, -1.4/3; sum of squares (4.84 + 0.64 + 1.96)/9 = 7.44/9;
        // sample std sqrt(7.44/18) = 0.642910; advantages 1.140647, -0.414781, -0.725866.
        var grpo = Flat("grpo", groups, new ObjectiveOptions(GrpoEpsilon: 0f));
        Assert.Equal(1.140647f, grpo[0].Advantage, 5);
        Assert.Equal(-0.414781f, grpo[1].Advantage, 5);
        Assert.Equal(-0.725866f, grpo[2].Advantage, 5);
    }

    [Fact]
    public void Every_documented_name_is_registered() =>
        Assert.Equal(["psr", "nsr", "w-reinforce", "reinforce", "grpo"], Objectives.Names);

    [Fact]
    public void Unknown_name_fails_listing_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => Objectives.Get("ppo"));
        Assert.Contains("'ppo'", e.Message);
        Assert.Contains("w-reinforce", e.Message);
    }
}
