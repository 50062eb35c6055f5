using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rlvr.Reporting;

/// <summary>The fields of an EvalSummary (docs/run-folder.md) that reports use.</summary>
public sealed record EvalSummaryData(int Step, int N, int Problems, IReadOnlyDictionary<int, double> PassAtK, double? MeanResponseTokens);

/// <summary>
/// Reads eval/step_NNNNNN.json. The only place the report touches the EvalSummary JSON, so it can be
/// swapped for the Evaluation stage's own type.
/// </summary>
public static partial class EvalSummaryFile
{
    /// <summary>Reads <paramref name="path"/>; <see cref="InvalidDataException"/> (naming the file and field) when it is not a summary.</summary>
    public static EvalSummaryData Read(string path)
    {
        JsonObject obj;
        try { obj = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object"); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: malformed JSON: {e.Message}"); }

        var step = Int(obj, "step") ?? StepFromName(path) ?? throw new InvalidDataException($"{path}: no \"step\"");
        var n = Int(obj, "n") ?? throw new InvalidDataException($"{path}: no \"n\" (samples per problem)");
        var problems = Int(obj, "n_problems") ?? throw new InvalidDataException($"{path}: no \"n_problems\"");
        if (obj["pass_at_k"] is not JsonObject passAtK) throw new InvalidDataException($"{path}: no \"pass_at_k\" object");
        var byK = new SortedDictionary<int, double>();
        foreach (var (key, value) in passAtK)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var k) || k < 1)
                throw new InvalidDataException($"{path}: pass_at_k key \"{key}\" is not a positive integer");
            byK[k] = Number(value) ?? throw new InvalidDataException($"{path}: pass_at_k[\"{key}\"] is not a number");
        }
        return new EvalSummaryData(step, n, problems, byK, Number(obj["mean_response_tokens"]));
    }

    static int? Int(JsonObject obj, string key) => Number(obj[key]) is double d && d == System.Math.Floor(d) ? (int)d : null;

    static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    static int? StepFromName(string path) =>
        StepName().Match(Path.GetFileName(path)) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"^step_(\d+)\.json$")]
    private static partial Regex StepName();
}
