using System.Text.Json.Serialization;
using Parquet.Serialization;

namespace Rlvr.Tests.Data;

/// <summary>Small data files the data tests write: JSONL lines, and parquet files in verl and HuggingFace layouts.</summary>
internal static class TestFiles
{
    public static string Write(string dir, string name, params string[] lines)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    public static string WriteParquet<T>(string dir, string name, IEnumerable<T> rows)
    {
        var path = Path.Combine(dir, name);
        ParquetSerializer.SerializeAsync(rows, path).GetAwaiter().GetResult();
        return path;
    }

    /// <summary>A row of the paper's verl parquet (the bundled data/math-full files have this schema).</summary>
    public sealed class VerlRow
    {
        [JsonPropertyName("level")] public string? Level { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("data_source")] public string? DataSource { get; set; }
        [JsonPropertyName("prompt")] public List<Message>? Prompt { get; set; }
        [JsonPropertyName("reward_model")] public RewardModel? RewardModel { get; set; }
        [JsonPropertyName("extra_info")] public ExtraInfo? ExtraInfo { get; set; }
    }

    public sealed class Message
    {
        [JsonPropertyName("content")] public string? Content { get; set; }
        [JsonPropertyName("role")] public string? Role { get; set; }
    }

    public sealed class RewardModel
    {
        [JsonPropertyName("ground_truth")] public GroundTruth? GroundTruth { get; set; }
        [JsonPropertyName("style")] public string? Style { get; set; }
    }

    public sealed class GroundTruth
    {
        [JsonPropertyName("question")] public string? Question { get; set; }
        [JsonPropertyName("solution")] public string? Solution { get; set; }
        [JsonPropertyName("target")] public string? Target { get; set; }
    }

    public sealed class ExtraInfo
    {
        [JsonPropertyName("index")] public long? Index { get; set; }
        [JsonPropertyName("split")] public string? Split { get; set; }
    }

    /// <summary>verl's own MATH preprocessing: the ground truth is the answer string, the problem only in the prompt.</summary>
    public sealed class PlainVerlRow
    {
        [JsonPropertyName("data_source")] public string? DataSource { get; set; }
        [JsonPropertyName("prompt")] public List<Message>? Prompt { get; set; }
        [JsonPropertyName("reward_model")] public PlainRewardModel? RewardModel { get; set; }
        [JsonPropertyName("extra_info")] public ExtraInfo? ExtraInfo { get; set; }
    }

    public sealed class PlainRewardModel
    {
        [JsonPropertyName("ground_truth")] public string? GroundTruth { get; set; }
        [JsonPropertyName("style")] public string? Style { get; set; }
    }

    /// <summary>A HuggingFace export of MATH (hendrycks/competition_math and its copies).</summary>
    public sealed class HfRow
    {
        [JsonPropertyName("problem")] public string? Problem { get; set; }
        [JsonPropertyName("solution")] public string? Solution { get; set; }
        [JsonPropertyName("level")] public string? Level { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("answer")] public string? Answer { get; set; }
    }
}
