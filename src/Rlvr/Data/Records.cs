using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlvr.Data;

/// <summary>A record's fields before its id and gold answer are settled.</summary>
/// <param name="Id">The record's own string id, used as is.</param>
/// <param name="Index">The record's numeric id or index; the id becomes <c>&lt;file-stem&gt;-&lt;index&gt;</c>.</param>
/// <param name="Answer">The dataset's answer field (verl's <c>target</c>), or null.</param>
internal sealed record RecordFields(
    string? Id, long? Index, string Problem, string? Solution, string? Answer, string? Type, string? Level, string? Source);

/// <summary>Why one record is malformed; the loader adds the file and line.</summary>
internal sealed class MalformedRecordException(string reason) : Exception(reason);

/// <summary>Reads each format's fields from a JSON object. Field names match case-insensitively, since exports
/// differ (MATH's <c>problem</c>, some AIME sets' <c>Problem</c>/<c>Answer</c>).</summary>
internal static class Records
{
    /// <summary>The instruction verl's MATH preprocessing appends to the problem in the user message.</summary>
    internal const string VerlInstruction = " Let's think step by step and output the final answer within \\boxed{}.";

    /// <summary>Problems and answer-only rows: <c>problem</c>|<c>question</c>, <c>solution</c>, <c>answer</c>,
    /// <c>type</c>|<c>subject</c>, <c>level</c>, <c>source</c>|<c>data_source</c>, <c>id</c>|<c>unique_id</c>.</summary>
    public static RecordFields FromProblemRow(JsonObject row)
    {
        var (id, index) = IdOf(row, "id", "unique_id");
        return new RecordFields(
            id, index,
            Problem: RequiredText(row, "problem", "question"),
            Solution: Text(row, "solution"),
            Answer: Text(row, "answer"),
            Type: Text(row, "type", "subject"),
            Level: LevelOf(row),
            Source: Text(row, "source", "data_source"));
    }

    /// <summary>verl rows: the question, solution and target from <c>reward_model.ground_truth</c> when it is a
    /// struct; when it is a plain answer (verl's own MATH preprocessing), the problem is the last user message
    /// of <c>prompt</c>, without the instruction verl appended to it.</summary>
    public static RecordFields FromVerlRow(JsonObject row)
    {
        if (Get(row, "reward_model") is not JsonObject rewardModel)
            throw new MalformedRecordException("no 'reward_model' struct");
        string? question = null, solution = null, answer;
        var groundTruth = Get(rewardModel, "ground_truth");
        if (groundTruth is JsonObject gt)
        {
            question = Text(gt, "question");
            solution = Text(gt, "solution");
            answer = Text(gt, "target", "answer");
        }
        else answer = TextOf(groundTruth, "reward_model.ground_truth");

        var problem = NonBlank(question) ?? UserMessage(row)
            ?? throw new MalformedRecordException("no problem: neither reward_model.ground_truth.question nor a user message in 'prompt'");
        var (id, index) = IdOf(row, "id");
        if (Get(row, "extra_info") is JsonObject extra && IdOf(extra, "index") is (_, { } extraIndex)) index = extraIndex;
        return new RecordFields(id, index, problem, solution, answer,
            Type: Text(row, "type"), Level: LevelOf(row), Source: Text(row, "data_source"));
    }

    static string? UserMessage(JsonObject row)
    {
        if (Get(row, "prompt") is not JsonArray messages) return null;
        var content = messages.OfType<JsonObject>().LastOrDefault(m => Text(m, "role") == "user") is { } user ? NonBlank(Text(user, "content")) : null;
        return content != null && content.EndsWith(VerlInstruction, StringComparison.Ordinal) ? content[..^VerlInstruction.Length] : content;
    }

    /// <summary>MATH levels are "Level 1".."Level 5" (and "Level ?" for a few); some exports store the number alone.</summary>
    static string? LevelOf(JsonObject row) =>
        Get(row, "level") is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? $"Level {v.ToJsonString()}" : Text(row, "level");

    static (string? Id, long? Index) IdOf(JsonObject row, params string[] names)
    {
        foreach (var name in names)
        {
            switch (Get(row, name))
            {
                case null: continue;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String && NonBlank(v.GetValue<string>()) is { } s: return (s, null);
                case JsonValue v when v.TryGetValue<long>(out var n): return (null, n);
                default: throw new MalformedRecordException($"'{name}' must be a non-empty string or an integer");
            }
        }
        return (null, null);
    }

    static string RequiredText(JsonObject row, params string[] names) =>
        NonBlank(Text(row, names))
        ?? throw new MalformedRecordException($"no {string.Join(" or ", names.Select(n => $"'{n}'"))} text (fields present: {string.Join(", ", row.Select(kv => kv.Key))})");

    /// <summary>The first of <paramref name="names"/> present and not null, as text; numbers keep their JSON spelling.</summary>
    static string? Text(JsonObject row, params string[] names)
    {
        foreach (var name in names)
            if (Get(row, name) is { } node) return TextOf(node, name);
        return null;
    }

    static string? TextOf(JsonNode? node, string name) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        _ => throw new MalformedRecordException($"'{name}' must be text, not {Describe(node)}"),
    };

    static string Describe(JsonNode node) => node switch
    {
        JsonObject => "an object",
        JsonArray => "an array",
        _ => node.GetValueKind().ToString().ToLowerInvariant(),
    };

    static JsonNode? Get(JsonObject row, string name)
    {
        if (row.TryGetPropertyValue(name, out var exact)) return exact;
        foreach (var (key, value) in row)
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase)) return value;
        return null;
    }

    internal static string? NonBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
