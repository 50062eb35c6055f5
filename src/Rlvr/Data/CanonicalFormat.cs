using System.Text.Json.Nodes;

namespace Rlvr.Data;

/// <summary>rlvr's own JSONL record, written by <c>rlvr data prepare</c>: <c>id, problem, solution, answer, level,
/// type, source</c>, where <c>answer</c> is the derived gold. It reads back with <see cref="MathDataset.Load"/> as
/// <see cref="DataFormat.Problems"/> to the same problems (the gold is derived again from the solution and agrees).</summary>
public static class CanonicalFormat
{
    public static JsonObject ToJson(MathProblem p) => new()
    {
        ["id"] = p.Id,
        ["problem"] = p.Problem,
        ["solution"] = p.Solution,
        ["answer"] = p.Gold,
        ["level"] = p.Level,
        ["type"] = p.Type,
        ["source"] = p.Source,
    };
}
