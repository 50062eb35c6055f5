using System.CommandLine;
using System.Text.Json.Nodes;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr tokenize</c>: text to token ids (or back, with --decode) for a JSONL file, with a model's tokenizer.
/// Each input line <c>{"id": ..., "text": "..."}</c> gives <c>{"id": ..., "ids": [...]}</c>, in input order.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model")
        {
            Description = "Model or tokenizer folder (tokenizer.json, or vocab.json + merges.txt); default: the bundled Qwen2.5 tokenizer",
        };
        var input = new Option<string>("--input")
        {
            Description = "JSONL file ('-' for stdin): {\"id\": ..., \"text\": \"...\"} per line, or {\"id\": ..., \"ids\": [...]} with --decode",
            Required = true,
        };
        var output = new Option<string?>("--output") { Description = "JSONL file to write (written whole at the end); stdout when omitted" };
        var decode = new Option<bool>("--decode") { Description = "Turn ids into text: each line's \"ids\" becomes \"text\"" };
        var skipSpecial = new Option<bool>("--skip-special-tokens") { Description = "With --decode: leave special tokens (<|im_end|>, <|endoftext|>, ...) out of the text" };

        var cmd = new Command("tokenize", "Encode texts to token ids (or decode ids to text) exactly as HuggingFace's tokenizer does.")
        {
            model, input, output, decode, skipSpecial,
        };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(input)!;
            var isDecode = parse.GetValue(decode);
            var skip = parse.GetValue(skipSpecial);
            if (skip && !isDecode) throw new CliException("--skip-special-tokens applies to --decode only");
            var tokenizer = QwenTokenizer.Load(parse.GetValue(model) ?? Assets.QwenTokenizerDir);

            using var sink = JsonLines.Create(parse.GetValue(output));
            foreach (var (line, obj) in JsonLines.Read(path))
            {
                var result = new JsonObject();
                if (obj.TryGetPropertyValue("id", out var id)) result["id"] = id?.DeepClone();
                if (isDecode) result["text"] = tokenizer.Decode(ReadIds(obj, path, line), skip);
                else result["ids"] = new JsonArray(tokenizer.Encode(ReadText(obj, path, line)).Select(i => (JsonNode?)i).ToArray());
                sink.Write(result);
            }
            sink.Commit();
            return 0;
        });
        return cmd;
    }

    static string ReadText(JsonObject obj, string path, int line)
    {
        if (obj["text"] is not JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.String)
            throw new CliException($"{path}:{line}: expected \"text\" to be a string");
        try { return v.GetValue<string>(); }
        catch (InvalidOperationException e)
        {
            // A "\ud800" escape with no partner: such text has no UTF-8 form, so no tokenizer can read it (HF's fails too).
            throw new CliException($"{path}:{line}: \"text\" is not valid Unicode: {e.Message}");
        }
    }

    static List<int> ReadIds(JsonObject obj, string path, int line)
    {
        if (obj["ids"] is not JsonArray array) throw new CliException($"{path}:{line}: expected \"ids\" to be an array of token ids");
        var ids = new List<int>(array.Count);
        foreach (var node in array)
        {
            if (node is not JsonValue v || !v.TryGetValue<int>(out var id) || id < 0)
                throw new CliException($"{path}:{line}: \"ids\" must hold non-negative integers, found {node?.ToJsonString() ?? "null"}");
            ids.Add(id);
        }
        return ids;
    }
}
