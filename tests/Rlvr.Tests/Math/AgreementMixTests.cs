using Rlvr.Math;

namespace Rlvr.Tests.Math;

/// <summary>
/// The labelled mix (agreement-mix.tsv): hand-labelled pairs in the forms of public graders' test suites,
/// by family. The figures here are the ones docs/verifier.md states; a change that loses agreement or adds
/// a false positive fails with the pairs that disagree.
/// </summary>
public class AgreementMixTests
{
    /// <summary>Pairs graded as labelled, at least (of 403); docs/verifier.md gives the figure.</summary>
    const int MinAgreeing = 403;

    /// <summary>Wrong answers graded correct, at most.</summary>
    const int MaxFalsePositives = 0;

    public sealed record LabelledPair(int Line, bool Expected, string Family, string Gold, string Prediction);

    public static List<LabelledPair> Load()
    {
        var path = Path.Combine(Fixtures.RepoRoot, "tests", "Rlvr.Tests", "Math", "agreement-mix.tsv");
        var pairs = new List<LabelledPair>();
        var lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0 || lines[i].StartsWith('#')) continue;
            var f = lines[i].Split('\t');
            Assert.True(f.Length == 4 && f[0] is "0" or "1", $"agreement-mix.tsv:{i + 1}: expected 4 tab-separated fields");
            pairs.Add(new(i + 1, f[0] == "1", f[1], f[2], f[3].Replace("⏎", "\n")));
        }
        return pairs;
    }

    [Fact]
    public void The_labelled_mix_agrees_with_the_verifier()
    {
        var pairs = Load();
        Assert.True(pairs.Count >= 300, $"only {pairs.Count} pairs");
        var disagreements = new List<string>();
        int falsePositives = 0;
        foreach (var p in pairs)
        {
            var r = MathVerifier.Grade(p.Gold, p.Prediction);
            if (r.Correct == p.Expected) continue;
            if (r.Correct) falsePositives++;
            disagreements.Add($"line {p.Line} [{p.Family}] expected {(p.Expected ? "correct" : "wrong")}: {p.Gold} | {p.Prediction.Replace("\n", "⏎")} -> {r.Reason}");
        }
        int agreeing = pairs.Count - disagreements.Count;
        var report = $"{agreeing}/{pairs.Count} agree, {falsePositives} false positives:\n" + string.Join("\n", disagreements);
        Assert.True(agreeing >= MinAgreeing && falsePositives <= MaxFalsePositives, report);
    }
}
