using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rlvr.Evaluation;

/// <summary>The graded samples of one evaluation problem.</summary>
/// <param name="ProblemId">Names the problem in error messages.</param>
/// <param name="Type">MATH subject, e.g. "Algebra".</param>
/// <param name="Level">MATH level, e.g. "Level 3".</param>
/// <param name="Correct">One flag per sample: graded correct.</param>
/// <param name="NoAnswer">One flag per sample: no answer could be extracted.</param>
/// <param name="ResponseTokens">One count per sample: tokens generated.</param>
/// <param name="GreedyCorrect">Whether the greedy (temperature 0) answer was correct; null when not evaluated.</param>
public sealed record ProblemSamples(
    string ProblemId, string Type, string Level,
    IReadOnlyList<bool> Correct, IReadOnlyList<bool> NoAnswer, IReadOnlyList<int> ResponseTokens,
    bool? GreedyCorrect = null);

/// <summary>How an evaluation was run: copied into the summary as is.</summary>
public sealed record EvalSettings(string Model, string Data, int Step, double Temperature, double TopP, int MaxNewTokens);

/// <summary>pass@k of a subset of the problems (one subject or one level).</summary>
public sealed record GroupSummary
{
    [JsonPropertyName("n_problems")] public required int NProblems { get; init; }
    [JsonPropertyName("pass_at_k")] public required SortedDictionary<int, double> PassAtK { get; init; }
}

/// <summary>
/// An evaluation summary, in the JSON shape of docs/run-folder.md (eval/step_NNNNNN.json and <c>rlvr eval</c>'s
/// summary.json): unbiased pass@k averaged over problems for every requested k &lt;= n, overall and by subject
/// and level, plus response length, no-answer ratio and greedy accuracy.
/// </summary>
public sealed record EvalSummary
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("data")] public required string Data { get; init; }
    [JsonPropertyName("step")] public required int Step { get; init; }
    /// <summary>Samples per problem.</summary>
    [JsonPropertyName("n")] public required int N { get; init; }
    [JsonPropertyName("temperature")] public required double Temperature { get; init; }
    [JsonPropertyName("top_p")] public required double TopP { get; init; }
    [JsonPropertyName("max_new_tokens")] public required int MaxNewTokens { get; init; }
    [JsonPropertyName("n_problems")] public required int NProblems { get; init; }
    /// <summary>k -> mean over problems of the unbiased pass@k; pass@1 is the accuracy over all samples.</summary>
    [JsonPropertyName("pass_at_k")] public required SortedDictionary<int, double> PassAtK { get; init; }
    /// <summary>Fraction of problems whose greedy answer was correct; null when greedy decoding was not evaluated.</summary>
    [JsonPropertyName("greedy_accuracy")] public required double? GreedyAccuracy { get; init; }
    /// <summary>Mean generated tokens over all samples.</summary>
    [JsonPropertyName("mean_response_tokens")] public required double MeanResponseTokens { get; init; }
    /// <summary>Fraction of all samples with no extractable answer.</summary>
    [JsonPropertyName("no_answer_ratio")] public required double NoAnswerRatio { get; init; }
    [JsonPropertyName("by_type")] public required SortedDictionary<string, GroupSummary> ByType { get; init; }
    [JsonPropertyName("by_level")] public required SortedDictionary<string, GroupSummary> ByLevel { get; init; }

    // Nullable annotations respected: "pass_at_k": null is an error here, not a crash in a reader later.
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, RespectNullableAnnotations = true };

    /// <summary>
    /// Summarizes graded problems. Every problem must have the same number n of samples; k values above n are
    /// left out. Greedy accuracy needs a greedy result for every problem or for none.
    /// </summary>
    public static EvalSummary Build(EvalSettings settings, IReadOnlyList<ProblemSamples> problems, IReadOnlyList<int> ks)
    {
        if (problems.Count == 0) throw new ArgumentException("no problems to summarize", nameof(problems));
        if (ks.Count == 0 || ks.Any(k => k < 1))
            throw new ArgumentException($"k list [{string.Join(", ", ks)}] must be non-empty and every k at least 1", nameof(ks));
        int n = problems[0].Correct.Count;
        foreach (var p in problems) Validate(p, n);
        int[] kept = [.. ks.Where(k => k <= n).Distinct().Order()];
        if (kept.Length == 0)
            throw new ArgumentException($"every k in [{string.Join(", ", ks)}] exceeds the {n} samples per problem", nameof(ks));

        int withGreedy = problems.Count(p => p.GreedyCorrect is not null);
        if (withGreedy != 0 && withGreedy != problems.Count)
            throw new ArgumentException(
                $"{withGreedy} of {problems.Count} problems have a greedy result (e.g. '{problems.First(p => p.GreedyCorrect is null).ProblemId}' has none); need all or none");

        return new EvalSummary
        {
            Model = settings.Model, Data = settings.Data, Step = settings.Step, N = n,
            Temperature = settings.Temperature, TopP = settings.TopP, MaxNewTokens = settings.MaxNewTokens,
            NProblems = problems.Count,
            PassAtK = MeanPassAtK(problems, kept),
            GreedyAccuracy = withGreedy == 0 ? null : problems.Average(p => p.GreedyCorrect == true ? 1.0 : 0.0),
            MeanResponseTokens = problems.SelectMany(p => p.ResponseTokens).Average(),
            NoAnswerRatio = problems.SelectMany(p => p.NoAnswer).Average(b => b ? 1.0 : 0.0),
            ByType = Breakdown(problems, p => p.Type, kept),
            ByLevel = Breakdown(problems, p => p.Level, kept),
        };
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a summary; <paramref name="source"/> (a file name) prefixes error messages.</summary>
    public static EvalSummary FromJson(string json, string source)
    {
        EvalSummary summary;
        try
        {
            summary = JsonSerializer.Deserialize<EvalSummary>(json, Json)
                      ?? throw new InvalidDataException($"{source}: expected an evaluation summary object, found null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: line {e.LineNumber + 1}: not an evaluation summary: {e.Message}", e);
        }
        if (summary.PassAtK.Keys.Any(k => k < 1))
            throw new InvalidDataException($"{source}: pass_at_k has k = {summary.PassAtK.Keys.First()}; every k must be at least 1");
        return summary;
    }

    /// <summary>Writes the summary atomically (temporary file, then rename) so readers never see half a file.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    public static EvalSummary Load(string path) => FromJson(File.ReadAllText(path), path);

    static void Validate(ProblemSamples p, int n)
    {
        if (p.Correct.Count != n)
            throw new ArgumentException($"problem '{p.ProblemId}' has {p.Correct.Count} samples; the first problem has {n}; every problem needs the same n");
        if (n == 0) throw new ArgumentException($"problem '{p.ProblemId}' has no samples");
        if (p.NoAnswer.Count != n || p.ResponseTokens.Count != n)
            throw new ArgumentException(
                $"problem '{p.ProblemId}' has {n} correct flags but {p.NoAnswer.Count} no-answer flags and {p.ResponseTokens.Count} response lengths");
    }

    static SortedDictionary<int, double> MeanPassAtK(IEnumerable<ProblemSamples> problems, int[] ks)
    {
        var list = problems.ToList();
        return new(ks.ToDictionary(k => k, k => list.Average(p => Rlvr.Evaluation.PassAtK.Estimate(p.Correct.Count, p.Correct.Count(c => c), k))));
    }

    static SortedDictionary<string, GroupSummary> Breakdown(IEnumerable<ProblemSamples> problems, Func<ProblemSamples, string> key, int[] ks) =>
        new(problems.GroupBy(key).ToDictionary(
                g => g.Key,
                g => new GroupSummary { NProblems = g.Count(), PassAtK = MeanPassAtK(g, ks) }),
            StringComparer.Ordinal);
}
