using System.Buffers.Binary;
using Rlvr.Reporting;

namespace Rlvr.Tests.Reporting;

public class TensorBoardLogTests
{
    /// <summary>CRC-32C (Castagnoli), bitwise: an oracle independent of the writer's implementation.</summary>
    static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>TFRecord's masked CRC (tensorflow/core/lib/hash/crc32c.h).</summary>
    static uint Masked(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    /// <summary>The events of a TensorBoard event file, checking the TFRecord framing and both CRCs of every record.</summary>
    internal static List<Tensorboard.Event> ReadEvents(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<Tensorboard.Event>();
        var pos = 0;
        while (pos < bytes.Length)
        {
            var header = bytes.AsSpan(pos, 8);
            var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(header);
            Assert.Equal(Masked(Crc32C(header)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8, 4)));
            var data = bytes.AsSpan(pos + 12, length);
            Assert.Equal(Masked(Crc32C(data)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 12 + length, 4)));
            events.Add(Tensorboard.Event.Parser.ParseFrom(data.ToArray()));
            pos += 12 + length + 4;
        }
        return events;
    }

    internal static List<(string Tag, long Step, float Value)> Scalars(string eventsDir) =>
        Directory.GetFiles(eventsDir, "events.out.tfevents.*").SelectMany(ReadEvents)
            .Where(e => e.Summary != null)
            .SelectMany(e => e.Summary.Value.Where(v => v.ValueCase == Tensorboard.Summary.Types.Value.ValueOneofCase.SimpleValue)
                .Select(v => (v.Tag, e.Step, v.SimpleValue)))
            .ToList();

    [Fact]
    public void Crc32cOracleMatchesTheStandardCheckValue() =>
        Assert.Equal(0xE3069283u, Crc32C("123456789"u8));

    [Fact]
    public void SinkWritesScalarsWithTrainAndEvalPrefixesAndSampleTexts()
    {
        var dir = Fixtures.TempDir();
        using (var sink = new MetricSink(dir, totalSteps: 2, console: null))
        {
            sink.Eval(0, 0.25, 100, 4, "eval/step_000000.json", [new EvalSampleText("What is 1+1?", "It is \\boxed{2}.", 1)]);
            sink.Train(1, new Dictionary<string, double> { ["reward"] = 0.5, ["completions/mean_length"] = 312 });
        }
        var scalars = Scalars(Path.Combine(dir, "events"));
        Assert.Contains(("train/reward", 1L, 0.5f), scalars);
        Assert.Contains(("train/completions/mean_length", 1L, 312f), scalars);
        Assert.Contains(("eval/pass@1", 0L, 0.25f), scalars);
        Assert.Contains(("eval/n_problems", 0L, 100f), scalars);

        var texts = Directory.GetFiles(Path.Combine(dir, "events"), "events.out.tfevents.*").SelectMany(ReadEvents)
            .Where(e => e.Summary != null).SelectMany(e => e.Summary.Value).Where(v => v.Tag.StartsWith("eval/samples")).ToList();
        var text = Assert.Single(texts);
        Assert.Equal("text", text.Metadata.PluginData.PluginName);
        var body = text.Tensor.StringVal.Single().ToStringUtf8();
        Assert.Contains("    It is \\boxed{2}.", body);
        Assert.Contains("reward 1", body);
    }

    [Fact]
    public void ResumeDropsLaterPointsFromMetricsAndEvents()
    {
        var dir = Fixtures.TempDir();
        using (var sink = new MetricSink(dir, totalSteps: 5, console: null))
            for (var step = 1; step <= 5; step++) sink.Train(step, new Dictionary<string, double> { ["loss"] = step });
        using (var sink = new MetricSink(dir, totalSteps: 5, console: null))
        {
            sink.ResumeAt(3);
            sink.Train(4, new Dictionary<string, double> { ["loss"] = 40 });
        }
        var losses = Scalars(Path.Combine(dir, "events")).Where(s => s.Tag == "train/loss").OrderBy(s => s.Step).Select(s => (s.Step, s.Value)).ToList();
        Assert.Equal([(1L, 1f), (2L, 2f), (3L, 3f), (4L, 40f)], losses);
        var records = MetricsReader.Read(Path.Combine(dir, "metrics.jsonl")).Records;
        Assert.Equal([1, 2, 3, 4], records.Select(r => r.Step));
        Assert.Equal(40, records[^1].Scalars["loss"]);
    }
}
