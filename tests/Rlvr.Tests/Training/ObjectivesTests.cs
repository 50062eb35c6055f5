using Rlvr.Training;

namespace Rlvr.Tests.Training;

public class ObjectivesTests
{
    static readonly ObjectiveOptions Defaults = new();

    // Two prompts: one with a correct and an incorrect sample, one with two incorrect samples.
    static readonly bool[][] Groups = [[true, false], [false, false]];

    static SampleAdvantage[] Flat(string objective, bool[][] groups, ObjectiveOptions? options = null) =>
        [.. Objectives.Get(objective)(groups, options ?? Defaults).SelectMany(g => g)];

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
        Assert.Equal(0.5f, Flat("w-reinforce", [[true]], new ObjectiveOptions(Lambda: 0.5f))[0].Advantage);
    }

    [Fact]
    public void Reinforce_uses_plus_and_minus_one() =>
        Assert.Equal([new(1f, true), new(-1f, true), new(-1f, true), new(-1f, true)], Flat("reinforce", Groups));

    [Fact]
    public void Grpo_normalizes_by_the_unbiased_group_std()
    {
        // rewards 1,0,0,0: mean 1/4, squared deviations 9/16 + 3 x 1/16 = 3/4, sample variance (3/4)/3 = 1/4, std 1/2.
        var a = Objectives.Get("grpo")([[true, false, false, false]], new ObjectiveOptions(GrpoEpsilon: 0f))[0];
        Assert.Equal(1.5f, a[0].Advantage, 6);
        Assert.All(a[1..], s => Assert.Equal(-0.5f, s.Advantage, 6));
        Assert.All(a, s => Assert.True(s.Used));
    }

    [Fact]
    public void Grpo_adds_epsilon_to_the_std()
    {
        // rewards 1,0: mean 1/2, sample std sqrt((1/4 + 1/4) / 1) = 0.70710678; eps 0.1 -> 0.5 / 0.80710678 = 0.61950235.
        var a = Objectives.Get("grpo")([[true, false]], new ObjectiveOptions(GrpoEpsilon: 0.1f))[0];
        Assert.Equal(0.61950235f, a[0].Advantage, 5);
        Assert.Equal(-0.61950235f, a[1].Advantage, 5);
    }

    [Fact]
    public void Dr_grpo_only_subtracts_the_group_mean()
    {
        var a = Objectives.Get("grpo")([[true, true, false, false, false]], new ObjectiveOptions(GrpoScaleByStd: false))[0];
        Assert.Equal([0.6f, 0.6f, -0.4f, -0.4f, -0.4f], a.Select(s => s.Advantage).ToArray());
    }

    [Theory]
    [InlineData(true, true, true)]
    [InlineData(false, false, false)]
    public void Grpo_gives_zero_variance_groups_nothing(bool a, bool b, bool c)
    {
        var result = Objectives.Get("grpo")([[a, b, c], [true]], Defaults);
        Assert.All(result.SelectMany(g => g), s => Assert.Equal(new SampleAdvantage(0f, false), s));
    }

    [Fact]
    public void Paper_formulation_with_rewards_one_and_zero_gives_the_same_advantages_on_used_samples()
    {
        // The paper's verl code: r in {1, 0}; PSR advantage r, NSR r - 1, W-REINFORCE lambda r for correct and r - 1 for incorrect.
        bool[][] groups = [[true, false, true], [false]];
        var paper = new Dictionary<string, Func<int, float>>
        {
            ["psr"] = r => r,
            ["nsr"] = r => r - 1,
            ["w-reinforce"] = r => r == 1 ? 0.1f * r : r - 1,
        };
        foreach (var (name, advantage) in paper)
        {
            var ours = Flat(name, groups);
            var rewards = groups.SelectMany(g => g).Select(c => c ? 1 : 0).ToArray();
            for (int i = 0; i < rewards.Length; i++)
                Assert.Equal(advantage(rewards[i]), ours[i].Used ? ours[i].Advantage : 0f);
        }
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
