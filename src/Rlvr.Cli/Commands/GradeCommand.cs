using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlvr.Math;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr grade</c>: grades predictions against gold answers with the math verifier.</summary>
public static class GradeCommand
{
    public static Command Create()
    {
        var input = new Option<string?>("--input") { Description = "JSONL file (\"-\" for stdin) of {\"id\", \"gold\", \"prediction\"} lines" };
        var output = new Option<string?>("--output") { Description = "JSONL file for the results (default: stdout)" };
        var gold = new Option<string?>("--gold") { Description = "one gold answer (bare, $...$, or a solution with \\boxed{}); use with --prediction" };
        var prediction = new Option<string?>("--prediction") { Description = "one prediction (bare answer or whole response); use with --gold" };
        var requireBoxed = new Option<bool>("--require-boxed") { Description = "only a \\boxed{} answer counts; a response without one has no answer" };
        var noLastNumber = new Option<bool>("--no-last-number") { Description = "do not fall back to the last number of a response" };
        var verbose = new Option<bool>("--verbose") { Description = "add gold_answer, gold_parsed and prediction_parsed to each result" };
        var threads = new Option<int>("--threads") { Description = "grading threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount }.Range(1, 4096);

        var cmd = new Command("grade", "Grade predictions against gold answers: {\"id\", \"correct\", \"outcome\", \"extracted\", \"reason\"} per line.")
        {
            input, output, gold, prediction, requireBoxed, noLastNumber, verbose, threads,
        };
        cmd.SetAction(parse =>
        {
            var options = new VerifierOptions
            {
                Extraction = ExtractionOptions.Default with
                {
                    RequireBoxed = parse.GetValue(requireBoxed),
                    LastNumber = !parse.GetValue(noLastNumber),
                },
            };
            bool details = parse.GetValue(verbose);
            var g = parse.GetValue(gold);
            var p = parse.GetValue(prediction);
            var path = parse.GetValue(input);
            if (path is null)
            {
                if (g is null || p is null) throw new CliException("give --input FILE, or both --gold and --prediction");
                using var single = JsonLines.Create(parse.GetValue(output));
                single.Write(ToJson(null, MathVerifier.Grade(g, p, options), details));
                single.Commit();
                return 0;
            }
            if (g is not null || p is not null) throw new CliException("--gold/--prediction cannot be combined with --input");
            return GradeFile(path, parse.GetValue(output), options, details, System.Math.Max(1, parse.GetValue(threads)));
        });
        return cmd;
    }

    static int GradeFile(string path, string? outputPath, VerifierOptions options, bool details, int threads)
    {
        var rows = new List<(JsonNode? Id, string[] Golds, string Prediction)>();
        foreach (var (line, obj) in JsonLines.Read(path))
            rows.Add((obj["id"]?.DeepClone(), Golds(obj, path, line), Field(obj, "prediction", path, line)));

        var clock = Stopwatch.StartNew();
        var results = rows.AsParallel().AsOrdered().WithDegreeOfParallelism(threads)
            .Select(r => GradeAny(r.Golds, r.Prediction, options)).ToList();
        clock.Stop();

        using (var output = JsonLines.Create(outputPath))
        {
            for (int i = 0; i < rows.Count; i++) output.Write(ToJson(rows[i].Id, results[i], details));
            output.Commit();
        }
        int correct = results.Count(r => r.Outcome == GradeOutcome.Correct);
        int none = results.Count(r => r.Outcome == GradeOutcome.NoAnswer);
        Console.Error.WriteLine($"graded {rows.Count}: {correct} correct, {rows.Count - correct - none} wrong, {none} without an answer " +
                                $"({rows.Count / System.Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F0}/s on {threads} threads)");
        return 0;
    }

    /// <summary>"gold" is one answer, or an array of acceptable answers (the prediction must match one).</summary>
    static string[] Golds(JsonObject obj, string path, int line)
    {
        if (obj["gold"] is not JsonArray array) return [Field(obj, "gold", path, line)];
        if (array.Count == 0) throw new CliException($"{path}:{line}: \"gold\" is an empty array");
        return array.Select(g => g is JsonValue v && v.TryGetValue<string>(out var s) ? s : g?.ToJsonString() ?? "").ToArray();
    }

    static GradeResult GradeAny(string[] golds, string prediction, VerifierOptions options)
    {
        GradeResult? first = null;
        foreach (var gold in golds)
        {
            var r = MathVerifier.Grade(gold, prediction, options);
            if (r.Correct) return r;
            first ??= r;
        }
        return first!;
    }

    static string Field(JsonObject obj, string name, string path, int line)
    {
        if (!obj.ContainsKey(name)) throw new CliException($"{path}:{line}: missing \"{name}\"");
        var node = obj[name];
        // A null prediction is an empty response (no answer), not a malformed line.
        if (node is null) return "";
        if (node is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        // A number gold such as 42 is accepted as its text.
        if (node is JsonValue) return node.ToJsonString();
        throw new CliException($"{path}:{line}: \"{name}\" must be a string");
    }

    static JsonObject ToJson(JsonNode? id, GradeResult r, bool details)
    {
        var o = new JsonObject
        {
            ["id"] = id,
            ["correct"] = r.Correct,
            ["outcome"] = r.Outcome.JsonName(),
            ["extracted"] = r.Extracted,
            ["reason"] = r.Reason,
        };
        if (details)
        {
            o["gold_answer"] = r.GoldAnswer;
            o["gold_parsed"] = r.GoldParsed;
            o["prediction_parsed"] = r.PredictionParsed;
        }
        return o;
    }
}
