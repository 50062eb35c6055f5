using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Tests.Model;

namespace Rlvr.Tests.Generation;

public class GenerationBenchTests
{
    [Fact]
    public void The_bench_generates_every_token_and_counts_flops_from_the_shapes()
    {
        var c = TestModels.Odd;
        var r = GenerationBench.Run(GenerationTestModels.Odd, new GenerationBench.Options { Batch = 4, PromptTokens = 5, NewTokens = 6, GemmPasses = 1 });
        Assert.Equal(4 * 6, r.Stats.GeneratedTokens);
        Assert.Equal(4 * 4, r.Stats.PrefilledTokens);
        // Per layer q, k, v, o (hidden x 6*16, 2*16, 2*16, 6*16) and the MLP (3 x hidden x intermediate), plus the untied head.
        double layer = 48.0 * (96 + 32 + 32) + 96 * 48 + 3 * 48 * 96;
        double linear = 2 * layer + 48 * 320;
        double attention = 4.0 * 2 * 6 * 16;     // per key: layers x heads x head_dim x (QK^T + AV)
        Assert.Equal(2 * linear + attention * (5 + 2.5), r.DecodeFlopsPerToken, 6);
        Assert.Equal(2 * 2 * layer + attention * 2.5, r.PrefillFlopsPerToken, 6);
        Assert.True(r.DecodeTokensPerSecond > 0 && r.PrefillTokensPerSecond > 0 && r.DecodeEfficiency > 0 && r.PeakRssMb > 0);
    }
}

public class BenchGenerateCommandTests
{
    [Fact]
    public void Json_output_ends_with_the_documented_keys()
    {
        var r = CliRunner.Run("bench", "generate", "--config", "tiny", "--batch", "2", "--prompt-tokens", "3", "--new-tokens", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var last = System.Text.Json.Nodes.JsonNode.Parse(r.Stdout.TrimEnd().Split('\n')[^1])!;
        foreach (var key in new[] { "decode_tokens_per_s", "prefill_tokens_per_s", "efficiency", "peak_rss_mb" })
            Assert.True((double)last[key]! > 0, key);

        var both = CliRunner.Run("bench", "generate", "--config", "tiny", "--model", Fixtures.TinyQwen2);
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("exactly one of --model", both.Stderr);
    }
}
