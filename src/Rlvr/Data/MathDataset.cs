using System.Text.Json;
using System.Text.Json.Nodes;
using Rlvr.Math;

namespace Rlvr.Data;

/// <summary>Loads math problems from any supported file or folder, derives their gold answers, and names the
/// bundled datasets.</summary>
public static class MathDataset
{
    const string BundledPrefix = "bundled:";

    /// <summary>The bundled datasets, by the name that follows <c>bundled:</c> in a path.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Bundled = new Dictionary<string, string[]>
    {
        ["train"] = ["data", "math", "train.jsonl"],
        ["test"] = ["data", "math", "test.jsonl"],
        ["math-full-train"] = ["data", "math-full", "train.parquet"],
        ["math-full-test"] = ["data", "math-full", "test.parquet"],
        ["aime2025"] = ["data", "competition", "aime2025.parquet"],
        ["amc23"] = ["data", "competition", "amc23.parquet"],
    };

    /// <summary>The embedded default training set: the small reference's 25 % stratified MATH subset (1,872 problems).</summary>
    public static string BundledTrain => Assets.Path(Bundled["train"]);

    /// <summary>The embedded default test set: the small reference's 25 % stratified MATH test subset (1,246 problems).</summary>
    public static string BundledTest => Assets.Path(Bundled["test"]);

    /// <summary>The file or folder a path names: <c>bundled:NAME</c> becomes the bundled file, anything else is returned unchanged.</summary>
    public static string ResolvePath(string path)
    {
        if (!path.StartsWith(BundledPrefix, StringComparison.Ordinal)) return path;
        var name = path[BundledPrefix.Length..];
        return Bundled.TryGetValue(name, out var parts)
            ? Assets.Path(parts)
            : throw new FileNotFoundException($"{path}: no such bundled dataset (known: {string.Join(", ", Bundled.Keys.Select(k => BundledPrefix + k))})");
    }

    /// <summary>A short name for a dataset path, for output files: the bundled name, else the file name without
    /// extension (the folder name for a MATH folder).</summary>
    public static string NameOf(string path) =>
        path.StartsWith(BundledPrefix, StringComparison.Ordinal)
            ? path[BundledPrefix.Length..]
            : System.IO.Path.GetFileNameWithoutExtension(System.IO.Path.TrimEndingDirectorySeparator(path));

    /// <summary>Reads every problem in <paramref name="path"/> (a file, a MATH folder, or <c>bundled:NAME</c>).</summary>
    /// <param name="format">The record format; detected from the path and the fields when null.</param>
    /// <param name="skipInvalid">Skip malformed records and list them in <see cref="LoadResult.Invalid"/>
    /// instead of throwing at the first one.</param>
    /// <exception cref="InvalidDataException">A malformed record (message: <c>file:line: reason</c>), or a file
    /// whose format cannot be told.</exception>
    public static LoadResult Load(string path, DataFormat? format = null, bool skipInvalid = false)
    {
        var resolved = ResolvePath(path);
        IReadOnlyList<SourceRow> rows;
        string stem;
        if (Directory.Exists(resolved))
        {
            if (format is { } f && f != DataFormat.MathDir)
                throw new InvalidDataException($"{resolved}: is a folder; only the math-dir format reads folders");
            format = DataFormat.MathDir;
            rows = ReadMathDir(resolved);
            stem = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(resolved));
        }
        else if (File.Exists(resolved))
        {
            if (format == DataFormat.MathDir)
                throw new InvalidDataException($"{resolved}: is a file; the math-dir format reads a folder of <subject>/<n>.json files");
            var file = RowFile.Read(resolved);
            if (file.Rows.Count == 0) throw new InvalidDataException($"{resolved}: the file holds no rows (it is empty)");
            format ??= Detect(resolved, file.Columns);
            rows = file.Rows;
            stem = System.IO.Path.GetFileNameWithoutExtension(resolved);
        }
        else throw new FileNotFoundException($"{resolved}: file not found", resolved);

        return Assemble(resolved, format.Value, stem, rows, skipInvalid);
    }

    /// <summary>Which format a file's fields (parquet columns, or the first JSON record's keys) look like.</summary>
    internal static DataFormat Detect(string path, IReadOnlyList<string> columns)
    {
        bool Has(string name) => columns.Contains(name, StringComparer.OrdinalIgnoreCase);
        if (Has("reward_model")) return DataFormat.Verl;
        if (Has("solution")) return DataFormat.Problems;
        if (Has("answer") && (Has("problem") || Has("question"))) return DataFormat.AnswerOnly;
        if (Has("problem")) return DataFormat.Problems;
        throw new InvalidDataException(
            $"{path}: cannot tell the data format from its fields ({string.Join(", ", columns)}); name it (--format jsonl|hf|verl|qa)");
    }

    static LoadResult Assemble(string path, DataFormat format, string stem, IReadOnlyList<SourceRow> rows, bool skipInvalid)
    {
        var problems = new List<MathProblem>();
        var withoutGold = new List<MathProblem>();
        var invalid = new List<InvalidRow>();
        var disagreements = new List<AnswerDisagreement>();
        var firstSeen = new Dictionary<string, string>();
        var source = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(path));

        foreach (var row in rows)
        {
            try
            {
                if (row.Error != null) throw new MalformedRecordException(row.Error);
                var fields = format == DataFormat.Verl ? Records.FromVerlRow(row.Fields!) : Records.FromProblemRow(row.Fields!);
                var id = format == DataFormat.MathDir ? RelativeId(path, row.Location)
                    : fields.Id ?? $"{stem}-{fields.Index ?? row.Number}";
                if (!firstSeen.TryAdd(id, row.Location))
                    throw new MalformedRecordException($"duplicate id '{id}' (first at {firstSeen[id]})");

                var solution = Records.NonBlank(fields.Solution);
                var answerOnly = format == DataFormat.AnswerOnly || solution == null;
                var gold = Gold(answerOnly ? fields.Answer : BoxedAnswer.Last(solution!));
                var problem = new MathProblem(id, fields.Problem, solution, gold, Records.NonBlank(fields.Type),
                    Records.NonBlank(fields.Level), Records.NonBlank(fields.Source) ?? source, fields.Answer);
                (gold == null ? withoutGold : problems).Add(problem);
                if (!answerOnly && gold != null && fields.Answer != null && Disagree(fields.Answer, gold))
                    disagreements.Add(new AnswerDisagreement(id, fields.Answer, gold));
            }
            catch (MalformedRecordException e)
            {
                if (!skipInvalid) throw new InvalidDataException($"{row.Location}: {e.Message}");
                invalid.Add(new InvalidRow(row.Location, e.Message));
            }
        }
        return new LoadResult(path, format, problems, withoutGold, invalid, disagreements);
    }

    /// <summary>A gold answer is trimmed; an empty one (an empty box or answer field) is no gold answer.</summary>
    static string? Gold(string? answer) => Records.NonBlank(answer)?.Trim();

    /// <summary>Answers differ when they differ beyond whitespace (LaTeX ignores it); equivalence proper is the verifier's job.</summary>
    static bool Disagree(string given, string derived) => Squash(given) != Squash(derived);

    static string Squash(string s) => string.Concat(s.Where(c => !char.IsWhiteSpace(c)));

    /// <summary>The MATH release's files, <c>&lt;subject&gt;/&lt;n&gt;.json</c> at any depth, in subject then numeric order.</summary>
    static List<SourceRow> ReadMathDir(string dir)
    {
        var files = Directory.EnumerateFiles(dir, "*.json", SearchOption.AllDirectories)
            .Select(f => (File: f, Relative: RelativeId(dir, f)))
            .OrderBy(f => System.IO.Path.GetDirectoryName(f.Relative), StringComparer.Ordinal)
            .ThenBy(f => long.TryParse(System.IO.Path.GetFileName(f.Relative), out var n) ? n : long.MaxValue)
            .ThenBy(f => f.Relative, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0) throw new InvalidDataException($"{dir}: no <subject>/<n>.json files found (the math-dir format reads MATH/train or MATH/test)");
        var rows = new List<SourceRow>(files.Count);
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i].File;
            try
            {
                rows.Add(JsonNode.Parse(File.ReadAllText(file)) is JsonObject obj
                    ? new SourceRow(file, i + 1, obj, null)
                    : new SourceRow(file, i + 1, null, "expected a JSON object"));
            }
            catch (JsonException e) { rows.Add(new SourceRow(file, i + 1, null, $"malformed JSON: {e.Message}")); }
        }
        return rows;
    }

    /// <summary><c>algebra/12</c> for <c>DIR/algebra/12.json</c>.</summary>
    static string RelativeId(string dir, string file)
    {
        var relative = System.IO.Path.GetRelativePath(dir, file).Replace(System.IO.Path.DirectorySeparatorChar, '/');
        return relative.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? relative[..^5] : relative;
    }
}
