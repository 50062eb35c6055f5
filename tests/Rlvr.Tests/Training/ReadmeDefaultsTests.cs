using System.Globalization;
using System.Text.RegularExpressions;
using Rlvr.Training;

namespace Rlvr.Tests.Training;

/// <summary>Every training default README.md states is the code's default.</summary>
public class ReadmeDefaultsTests
{
    static readonly string Readme = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "README.md"));

    static object? Default(string flag) =>
        TrainConfig.Options.Single(o => TrainConfig.Flag(o) == flag).GetValue(new TrainConfig());

    static void AssertSame(string flag, string stated)
    {
        var value = Default(flag);
        var ok = value switch
        {
            double d => double.Parse(stated, CultureInfo.InvariantCulture) == d,
            int i => int.Parse(stated, CultureInfo.InvariantCulture) == i,
            _ => string.Equals(value?.ToString(), stated, StringComparison.OrdinalIgnoreCase),
        };
        Assert.True(ok, $"README.md states {flag} {stated}; the default is {value}");
    }

    [Fact]
    public void The_flags_in_the_readmes_comment_lines_have_their_default_values()
    {
        // Comment lines of the code blocks state defaults as "--flag value".
        var flags = TrainConfig.Options.Select(TrainConfig.Flag).ToHashSet();
        var stated = Readme.Split('\n').Where(l => l.StartsWith("# "))
            .SelectMany(l => Regex.Matches(l, @"(--[a-z0-9-]+) ([0-9][^\s,()]*)").Select(m => (Flag: m.Groups[1].Value, Value: m.Groups[2].Value.TrimEnd('.'))))
            .Where(x => flags.Contains(x.Flag)).ToList();
        Assert.True(stated.Count >= 15, $"only {stated.Count} defaults found: {string.Join(" ", stated)}");
        Assert.Contains(stated, x => x.Flag == "--grad-clip");
        Assert.Contains(stated, x => x.Flag == "--clip");
        Assert.Contains(stated, x => x.Flag == "--micro-batch-tokens");
        foreach (var (flag, value) in stated) AssertSame(flag, value);
    }

    [Fact]
    public void The_defaults_named_in_the_readmes_text_are_the_codes()
    {
        AssertSame("--lambda", Regex.Match(Readme, @"lambda \(default ([0-9.]+)\)").Groups[1].Value);
        AssertSame("--micro-batch-tokens", Regex.Match(Readme, @"micro-batch budget ([0-9]+)").Groups[1].Value);
    }
}
