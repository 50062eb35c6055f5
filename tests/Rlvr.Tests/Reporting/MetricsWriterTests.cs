using System.Text.Json.Nodes;
using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class MetricsWriterTests
{
    /// <summary>A metrics.jsonl path in a fresh folder (the file does not exist yet).</summary>
    static string NewPath() => Path.Combine(Directory.CreateDirectory(Path.Combine(Fixtures.TempDir(), "run")).FullName, "metrics.jsonl");

    static Dictionary<string, double> Loss(double v) => new() { ["loss"] = v };

    [Fact]
    public void EachAppendIsOneCompleteLineOnDiskBeforeDispose()
    {
        var path = NewPath();
        using var metrics = new MetricsWriter(path);
        metrics.Append("train", 1, new Dictionary<string, double> { ["reward"] = 0.25, ["completions/mean_length"] = 312 },
            new Dictionary<string, string> { ["skipped"] = "all rewards equal" });
        // Read while the writer is still open: the line must already be there, whole.
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var text = reader.ReadToEnd();
        Assert.Equal("{\"type\":\"train\",\"step\":1,\"reward\":0.25,\"completions/mean_length\":312,\"skipped\":\"all rewards equal\"}\n", text);
    }

    [Fact]
    public void NonFiniteNumbersRoundTripAsNamedStrings()
    {
        var path = NewPath();
        using (var metrics = new MetricsWriter(path))
            metrics.Append("train", 3, new Dictionary<string, double> { ["loss"] = double.NaN, ["grad_norm"] = double.PositiveInfinity, ["x"] = double.NegativeInfinity });
        var line = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal("NaN", (string)line["loss"]!);
        Assert.Equal("Infinity", (string)line["grad_norm"]!);
        var record = Assert.Single(MetricsReader.Read(path).Records);
        Assert.True(double.IsNaN(record.Scalars["loss"]));
        Assert.Equal(double.PositiveInfinity, record.Scalars["grad_norm"]);
        Assert.Equal(double.NegativeInfinity, record.Scalars["x"]);
    }

    [Fact]
    public void ReservedOrRepeatedKeysAreRejected()
    {
        using var metrics = new MetricsWriter(NewPath());
        Assert.Throws<ArgumentException>(() => metrics.Append("train", 1, new Dictionary<string, double> { ["step"] = 2 }));
        Assert.Throws<ArgumentException>(() => metrics.Append("train", 1, Loss(1), new Dictionary<string, string> { ["loss"] = "x" }));
    }

    [Fact]
    public void ReaderReportsATruncatedLastLineAndKeepsTheRest()
    {
        var path = NewPath();
        using (var metrics = new MetricsWriter(path))
            for (var step = 1; step <= 3; step++) metrics.Append("train", step, Loss(step));
        File.AppendAllText(path, "{\"type\":\"train\",\"step\":4,\"lo");
        var log = MetricsReader.Read(path);
        Assert.Equal([1, 2, 3], log.Records.Select(r => r.Step));
        var problem = Assert.Single(log.Problems);
        Assert.Contains($"{path}:4", problem);
        Assert.Contains("truncated", problem);
    }

    [Fact]
    public void ReaderSkipsAMalformedMiddleLineNamingIt()
    {
        var path = NewPath();
        File.WriteAllText(path, "{\"type\":\"train\",\"step\":1}\nnot json\n{\"step\":2}\n{\"type\":\"eval\",\"step\":2,\"pass@1\":0.5,\"summary\":\"eval/step_000002.json\"}\n");
        var log = MetricsReader.Read(path);
        Assert.Equal([("train", 1), ("eval", 2)], log.Records.Select(r => (r.Type, r.Step)));
        Assert.Equal("eval/step_000002.json", log.Records[1].Text["summary"]);
        Assert.Equal(2, log.Problems.Count);
        Assert.Contains($"{path}:2: malformed JSON", log.Problems[0]);
        Assert.Contains($"{path}:3: no \"type\"", log.Problems[1]);
    }

    [Fact]
    public void ReopeningAfterACrashCutsThePartialLineSoAppendsStayParseable()
    {
        var path = NewPath();
        using (var metrics = new MetricsWriter(path)) metrics.Append("train", 1, Loss(1));
        File.AppendAllText(path, "{\"type\":\"train\",\"st");
        using (var metrics = new MetricsWriter(path)) metrics.Append("train", 2, Loss(2));
        // A crash in the middle of a two-byte character ('é' is C3 A9): only C3 reached the file.
        using (var f = new FileStream(path, FileMode.Append)) f.Write([.. "{\"type\":\"train\",\"skipped\":\""u8, 0xC3]);
        using (var metrics = new MetricsWriter(path)) metrics.Append("train", 3, Loss(3));
        var log = MetricsReader.Read(path);
        Assert.Empty(log.Problems);
        Assert.Equal([1, 2, 3], log.Records.Select(r => r.Step));
    }

    [Fact]
    public void ReopeningKeepsACompleteLastLineThatOnlyMissesItsNewline()
    {
        var path = NewPath();
        File.WriteAllText(path, "{\"type\":\"train\",\"step\":1}");
        using (var metrics = new MetricsWriter(path)) metrics.Append("train", 2, Loss(2));
        Assert.Equal("{\"type\":\"train\",\"step\":1}\n{\"type\":\"train\",\"step\":2,\"loss\":2}\n", File.ReadAllText(path));
    }

    [Fact]
    public void TruncateAfterKeepsLinesUpToTheStepByteForByteAndDropsTheRest()
    {
        var path = NewPath();
        using var metrics = new MetricsWriter(path);
        metrics.Append("eval", 0, new Dictionary<string, double> { ["pass@1"] = 0.1 });
        for (var step = 1; step <= 5; step++) metrics.Append("train", step, Loss(step / 10.0));
        metrics.Append("eval", 5, new Dictionary<string, double> { ["pass@1"] = 0.2 });
        var before = File.ReadAllLines(path);

        Assert.Equal(3, metrics.TruncateAfter(3)); // train 4, train 5, eval 5
        Assert.Equal(before[..4], File.ReadAllLines(path)); // eval 0, train 1..3

        // The writer keeps appending after the truncation.
        metrics.Append("train", 4, Loss(9));
        Assert.Equal([0, 1, 2, 3, 4], MetricsReader.Read(path).Records.Select(r => r.Step));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void TruncateAfterDropsAPartialLastLineAndNamesABadMiddleLine()
    {
        var path = NewPath();
        File.WriteAllText(path, "{\"type\":\"train\",\"step\":1}\n{\"type\":\"train\",\"step\":2}\n{\"type\":\"tr");
        Assert.Equal(1, MetricsWriter.TruncateAfter(path, 5));
        Assert.Equal("{\"type\":\"train\",\"step\":1}\n{\"type\":\"train\",\"step\":2}\n", File.ReadAllText(path));

        File.WriteAllText(path, "{\"type\":\"train\",\"step\":1}\n{\"type\":\"train\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => MetricsWriter.TruncateAfter(path, 5));
        Assert.Contains($"{path}:2", e.Message);
        Assert.Equal("{\"type\":\"train\",\"step\":1}\n{\"type\":\"train\"}\n", File.ReadAllText(path)); // untouched
    }
}
