using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlvr.Cli;

/// <summary>JSON Lines input and output for the commands: errors name the file and line.</summary>
public static class JsonLines
{
    /// <summary>Non-empty lines of <paramref name="path"/> ("-" is stdin) as JSON objects, with 1-based line numbers.</summary>
    public static IEnumerable<(int Line, JsonObject Obj)> Read(string path)
    {
        if (path != "-" && !File.Exists(path)) throw new CliException($"{path}: file not found");
        using var reader = path == "-" ? new StreamReader(Console.OpenStandardInput()) : new StreamReader(path);
        string? text;
        for (var line = 1; (text = reader.ReadLine()) != null; line++)
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(text); }
            catch (JsonException e) { throw new CliException($"{path}:{line}: malformed JSON: {e.Message}"); }
            if (node is not JsonObject obj) throw new CliException($"{path}:{line}: expected a JSON object");
            yield return (line, obj);
        }
    }

    /// <summary>Where results go: stdout when <paramref name="path"/> is null or "-", else a file written whole at the end (temporary name, then rename).</summary>
    public static OutputFile Create(string? path) => new(path);

    public sealed class OutputFile : IDisposable
    {
        readonly AtomicFile? file;
        public TextWriter Writer { get; }

        internal OutputFile(string? path)
        {
            if (path is null or "-") { Writer = Console.Out; return; }
            file = AtomicFile.Create(path);
            Writer = new StreamWriter(file.Stream, leaveOpen: true) { NewLine = "\n" };
        }

        public void Write(JsonNode node) => Writer.WriteLine(node.ToJsonString(JsonText.Options));

        /// <summary>Renames the temporary file into place; without it (an exception) the target is left untouched.</summary>
        public void Commit()
        {
            Writer.Flush();
            file?.Commit();
        }

        /// <summary>The writer leaves the file's stream open and holds only buffers: closing the file is enough.</summary>
        public void Dispose()
        {
            if (file == null) Writer.Flush();
            else file.Dispose();
        }
    }
}
