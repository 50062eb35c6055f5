using System.CommandLine;
using System.Globalization;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr bench tokenize</c>: single-thread tokenizer throughput on MATH text (a subcommand of <c>rlvr bench</c>).</summary>
public static class BenchTokenize
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model or tokenizer folder; default: the bundled Qwen2.5 tokenizer" };
        var input = new Option<string?>("--input")
        {
            Description = "JSONL file whose \"problem\" and \"solution\" (or \"text\") fields are tokenized; default: the bundled data/math/train.jsonl",
        };
        var passes = new Option<int>("--passes") { Description = "Warm encoding passes over all texts (the fastest is reported)", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var cmd = new Command("tokenize", "Measure encode and decode speed of the tokenizer on one thread.") { model, input, passes };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(input) ?? Assets.Path("data", "math", "train.jsonl");
            var texts = new List<string>();
            foreach (var (_, obj) in JsonLines.Read(path))
                foreach (var field in new[] { "problem", "solution", "text" })
                    if (obj[field]?.GetValueKind() == System.Text.Json.JsonValueKind.String) texts.Add(obj[field]!.GetValue<string>());
            if (texts.Count == 0) throw new CliException($"{path}: no \"problem\", \"solution\" or \"text\" strings found");

            var dir = parse.GetValue(model) ?? Assets.QwenTokenizerDir;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var tokenizer = QwenTokenizer.Load(dir);
            var load = clock.Elapsed.TotalSeconds;
            var r = TokenizerBench.Run(tokenizer, texts, parse.GetValue(passes));
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"tokenizer {tokenizer.Source}: loaded in {load:F2} s"));
            Console.WriteLine(string.Create(c, $"{r.Texts} texts, {r.Chars} chars, {r.Tokens} tokens ({(double)r.Chars / r.Tokens:F2} chars/token) from {path}"));
            Console.WriteLine(string.Create(c, $"encode, cold (first half, JIT included): {r.ColdTokensPerSecond / 1e6:F2} M tokens/s"));
            Console.WriteLine(string.Create(c, $"encode, new text (second half):          {r.NewTextTokensPerSecond / 1e6:F2} M tokens/s"));
            Console.WriteLine(string.Create(c, $"encode, warm (all again, best pass):     {r.WarmTokensPerSecond / 1e6:F2} M tokens/s"));
            Console.WriteLine(string.Create(c, $"decode:                                  {r.DecodeTokensPerSecond / 1e6:F2} M tokens/s"));
            return 0;
        });
        return cmd;
    }
}
