using System.Text.Json.Nodes;
using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class MetricSinkTests
{
    [Fact]
    public void TrainAndEvalGoToMetricsJsonlAndTheConsoleAsDocumented()
    {
        var dir = Fixtures.TempDir();
        var console = new StringWriter { NewLine = "\n" };
        using (var sink = new MetricSink(dir, totalSteps: 80, console, tensorBoard: false))
        {
            sink.Eval(0, 0.25, 100, 4, "eval/step_000000.json");
            sink.Train(1, new Dictionary<string, double> { ["loss"] = 0.5, ["reward"] = 0.25, ["reward_std"] = 0.5 });
        }
        var lines = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal("eval", (string)lines[0]["type"]!);
        Assert.Equal(0, (int)lines[0]["step"]!);
        Assert.Equal(0.25, (double)lines[0]["pass@1"]!);
        Assert.Equal(100, (int)lines[0]["n_problems"]!);
        Assert.Equal(4, (int)lines[0]["n_samples"]!);
        Assert.Equal("eval/step_000000.json", (string)lines[0]["summary"]!);
        Assert.Equal("train", (string)lines[1]["type"]!);
        Assert.Equal(0.5, (double)lines[1]["loss"]!);
        Assert.Equal(
            "eval step 0 | pass@1 0.250 ± 0.043 | 100 problems x 4 samples\n" +
            "step 1/80 | loss 0.5 | reward 0.25±0.50\n", console.ToString());
        Assert.False(Directory.Exists(Path.Combine(dir, "events")));
    }
}
