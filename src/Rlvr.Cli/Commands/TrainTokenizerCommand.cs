using System.CommandLine;
using System.Diagnostics;
using Rlvr.Data;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr train-tokenizer</c>: learns a small byte-level BPE tokenizer (Qwen2 kind, ChatML special tokens and chat
/// template) from the problems and solutions of MATH-format data and plain-text files, and writes it as a
/// HuggingFace tokenizer folder.
/// </summary>
public static class TrainTokenizerCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data")
        {
            Description = "MATH-format data to learn from, comma-separated (JSONL, parquet, a MATH folder, bundled:train ...): the problem and solution of every row",
        };
        var text = new Option<string?>("--text") { Description = "Plain-text files to learn from too, comma-separated (each file is one text, e.g. a prompt template)" };
        var vocabSize = new Option<int>("--vocab-size")
        {
            Description = $"Number of token ids, the 3 special tokens included (= the embedding rows a model needs); at least {BpeTrainer.MinVocabSize}",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "Folder to write tokenizer.json, tokenizer_config.json, vocab.json and merges.txt into", Required = true };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Never merge a pair seen fewer times than this (training may stop below --vocab-size)", DefaultValueFactory = _ => 2 };
        var force = new Option<bool>("--force") { Description = "Overwrite a tokenizer already in --out" };
        var cmd = new Command("train-tokenizer",
            "Learn a byte-level BPE tokenizer (Qwen2's normalizer and split regex, <|endoftext|> <|im_start|> <|im_end|>, a ChatML chat template) and write it as a HuggingFace tokenizer folder.")
        {
            data, text, vocabSize, output, minFrequency, force,
        };
        cmd.SetAction(parse => Run(Split(parse.GetValue(data)), Split(parse.GetValue(text)), parse.GetValue(vocabSize),
            parse.GetValue(output)!, parse.GetValue(minFrequency), parse.GetValue(force)));
        return cmd;
    }

    static string[] Split(string? list) => list?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    static int Run(string[] dataSpecs, string[] textFiles, int vocabSize, string outDir, int minFrequency, bool force)
    {
        if (dataSpecs.Length == 0 && textFiles.Length == 0) throw new CliException("give the corpus with --data and/or --text");
        if (vocabSize < BpeTrainer.MinVocabSize)
            throw new CliException($"--vocab-size {vocabSize}: must be at least {BpeTrainer.MinVocabSize} (256 byte tokens + {BpeTrainer.SpecialTokens.Count} special tokens)");
        if (minFrequency < 1) throw new CliException($"--min-frequency {minFrequency}: must be at least 1");
        if (File.Exists(outDir)) throw new CliException($"--out {outDir}: is a file, expected a folder");
        if (File.Exists(Path.Combine(outDir, "config.json")))
            throw new CliException($"--out {outDir}: holds a model (config.json); write the tokenizer to a folder of its own and pass it to init-model --tokenizer");
        if (!force && File.Exists(Path.Combine(outDir, "tokenizer.json")))
            throw new CliException($"--out {outDir}: already holds a tokenizer (tokenizer.json); pass --force to overwrite it");
        foreach (var file in textFiles)
            if (!File.Exists(file)) throw new CliException($"--text {file}: file not found");

        // Every source is read before anything is written, so a bad file leaves --out untouched.
        var corpus = new List<string>();
        foreach (var spec in dataSpecs)
        {
            var loaded = MathDataset.Load(spec);
            foreach (var p in loaded.Problems.Concat(loaded.WithoutGold))
            {
                corpus.Add(p.Problem);
                if (p.Solution != null) corpus.Add(p.Solution);
            }
            Console.Error.WriteLine($"train-tokenizer: {loaded.Path}: {loaded.ProblemCount} problems");
        }
        foreach (var file in textFiles) corpus.Add(File.ReadAllText(file));

        var sw = Stopwatch.StartNew();
        var bpe = BpeTrainer.Train(corpus, vocabSize, minFrequency);
        var c = bpe.Corpus;
        Console.Error.WriteLine($"train-tokenizer: {c.Texts:N0} texts, {c.Chars:N0} chars, {c.Words:N0} words ({c.DistinctWords:N0} distinct); " +
                                $"{bpe.Merges.Count:N0} merges learned in {sw.Elapsed.TotalSeconds:F1} s");
        if (c.StoppedBecause != null)
            Console.Error.WriteLine($"warning: stopped at {bpe.VocabSize} ids instead of {vocabSize}: {c.StoppedBecause}");
        TokenizerFolderWriter.Write(bpe, outDir);
        Console.Error.WriteLine($"train-tokenizer: wrote {outDir} ({bpe.VocabSize} ids: {bpe.Tokens.Count} BPE tokens + {bpe.AddedTokens.Count} special tokens)");
        return 0;
    }
}
