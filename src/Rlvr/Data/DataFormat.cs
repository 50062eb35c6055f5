namespace Rlvr.Data;

/// <summary>The shape of the records in a dataset. The container (JSON Lines, JSON array, parquet, folder)
/// follows from the path; the format says which fields hold the problem and its answer.</summary>
public enum DataFormat
{
    /// <summary>Rows with <c>problem</c>, <c>solution</c>, <c>level</c>, <c>type</c> and optionally <c>answer</c>,
    /// <c>id</c>, <c>source</c>: the small reference's JSONL, HuggingFace exports (JSONL, JSON or parquet) and
    /// rlvr's own canonical output. Gold = last box of the solution (the answer field when a row has no solution).</summary>
    Problems,

    /// <summary>verl's RL format: <c>prompt</c> (chat messages), <c>reward_model.ground_truth</c> (a struct with
    /// <c>question</c>, <c>solution</c>, <c>target</c>, or a plain answer string), <c>level</c>, <c>type</c>,
    /// <c>data_source</c>, <c>extra_info.index</c>.</summary>
    Verl,

    /// <summary>The original MATH release: a folder of <c>&lt;subject&gt;/&lt;n&gt;.json</c> files
    /// (problem, level, type, solution).</summary>
    MathDir,

    /// <summary>Question and answer only (AIME/AMC-style): <c>question</c> or <c>problem</c>, and <c>answer</c>.
    /// Gold = the answer field, even where a solution is present.</summary>
    AnswerOnly,
}

public static class DataFormats
{
    /// <summary>The names the command line accepts; <c>jsonl</c> and <c>hf</c> both name <see cref="DataFormat.Problems"/>.</summary>
    public static readonly IReadOnlyDictionary<string, DataFormat> Names = new Dictionary<string, DataFormat>
    {
        ["jsonl"] = DataFormat.Problems,
        ["hf"] = DataFormat.Problems,
        ["verl"] = DataFormat.Verl,
        ["math-dir"] = DataFormat.MathDir,
        ["qa"] = DataFormat.AnswerOnly,
    };

    public static DataFormat Parse(string name) =>
        Names.TryGetValue(name.Trim().ToLowerInvariant(), out var f)
            ? f
            : throw new FormatException($"unknown data format '{name}' (expected one of {string.Join(", ", Names.Keys)})");

    public static string Name(this DataFormat format) => format switch
    {
        DataFormat.Problems => "problems (jsonl/hf)",
        DataFormat.Verl => "verl",
        DataFormat.MathDir => "math-dir",
        DataFormat.AnswerOnly => "qa",
        _ => format.ToString(),
    };
}
