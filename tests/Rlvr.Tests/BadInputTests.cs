using System.Security.Cryptography;
using System.Text;
using Rlvr.Model;
using static TorchSharp.torch;

namespace Rlvr.Tests;

/// <summary>Tests that swap Console.Out and Console.Error run alone, after the parallel ones.</summary>
[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>
/// A folder of inputs a hostile but fair user might give: a small model with the Qwen2.5 tokenizer, copies of it
/// with NaN weights, an integer tensor where a float belongs, and finite weights whose logits overflow; a run
/// folder; a folder that is not a run; broken data files. Made once for the bad-input matrix.
/// </summary>
public sealed class BadInputSandbox
{
    public string Root { get; } = Fixtures.TempDir();
    public string Model => Path.Combine(Root, "model");
    public string NanModel => Path.Combine(Root, "nan-model");
    public string IntModel => Path.Combine(Root, "i32-model");
    public string OverflowModel => Path.Combine(Root, "overflow-model");
    public string Run => Path.Combine(Root, "run");
    public string NotARun => Path.Combine(Root, "notes");
    public string EmptyFolder => Path.Combine(Root, "empty-folder");

    public BadInputSandbox()
    {
        CopyModel(Model);
        foreach (var f in ModelFolder.TokenizerFiles.Where(f => File.Exists(Path.Combine(Assets.QwenTokenizerDir, f))))
            File.Copy(Path.Combine(Assets.QwenTokenizerDir, f), Path.Combine(Model, f));
        CopyModel(NanModel);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(Model, f), Path.Combine(NanModel, f));
        Rewrite(NanModel, "model.norm.weight", t => t.fill_(float.NaN));
        CopyModel(OverflowModel);
        // Finite weights whose attention scores overflow: q and k of order 1e29, their product infinite, softmax NaN.
        Rewrite(OverflowModel, "model.layers.0.input_layernorm.weight", t => t.fill_(1e30f));
        CopyModel(IntModel);
        // Same bytes, other dtype: the header says I32 where the model needs F32.
        var weights = Path.Combine(IntModel, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        var header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        var at = header.IndexOf("\"F32\"", header.IndexOf("model.norm.weight", StringComparison.Ordinal), StringComparison.Ordinal);
        Encoding.UTF8.GetBytes("\"I32\"").CopyTo(bytes, 8 + Encoding.UTF8.GetByteCount(header[..at]));
        File.WriteAllBytes(weights, bytes);

        Directory.CreateDirectory(Run);
        File.WriteAllText(Path.Combine(Run, "config.json"), new Rlvr.Training.TrainConfig { Model = Model, Out = Run }.ToJson());
        File.WriteAllText(Path.Combine(Run, "metrics.jsonl"), "");
        Directory.CreateDirectory(NotARun);
        File.WriteAllText(Path.Combine(NotARun, "thesis.tex"), "my thesis");
        Directory.CreateDirectory(EmptyFolder);
        File.WriteAllText(Path.Combine(Root, "empty.jsonl"), "");
        File.WriteAllText(Path.Combine(Root, "text.parquet"), "{\"problem\": \"1+1\", \"solution\": \"\\\\boxed{2}\"}\n");
        File.WriteAllText(Path.Combine(Root, "no-solution.jsonl"), "{\"problem\": \"1+1\"}\n{\"problem\": \"2+2\", \"solution\": \"four\"}\n");
        File.WriteAllBytes(Path.Combine(Root, "latin1.jsonl"),
            [.. Encoding.UTF8.GetBytes("{\"problem\": \"a\", \"solution\": \"\\\\boxed{1}\"}\n{\"problem\": \"caf"), 0xE9, .. Encoding.UTF8.GetBytes("\", \"solution\": \"\\\\boxed{2}\"}\n")]);
        File.WriteAllText(Path.Combine(Root, "bad-key.json"), "{\"stepz\": 3}");
        File.WriteAllText(Path.Combine(Root, "ids.jsonl"), "{\"input_ids\": [1, 2, 3, 4]}\n");
    }

    static void CopyModel(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Fixtures.TinyQwen2)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
    }

    static void Rewrite(string dir, string tensor, Action<Tensor> change)
    {
        var path = Path.Combine(dir, "model.safetensors");
        List<(string, Tensor)> tensors;
        using (var file = SafeTensorsFile.Open(path))
            tensors = file.Tensors.Keys.Select(name => (name, file.Read(name))).ToList();
        change(tensors.Single(t => t.Item1 == tensor).Item2);
        SafeTensors.Write(path, tensors);
    }

    /// <summary>Every file under the sandbox with a hash of its content, and every folder.</summary>
    public SortedDictionary<string, string> Checksums() => new(
        Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(Root, f), f => Directory.Exists(f) ? "folder" : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);
}

/// <summary>
/// The bad-input matrix: the real command line (in-process) over inputs a user gets wrong. Each must end with
/// exit code 1, one line naming the culprit, no stack trace, and no file of the sandbox created or changed.
/// </summary>
[Collection("Console")]
public class BadInputTests(BadInputSandbox box) : IClassFixture<BadInputSandbox>
{
    public static TheoryData<string, string> Cases => new()
    {
        // Output folders that must never be written into, and resumes that cannot be.
        { "train --model {model} --out {model}", "is the model folder" },
        { "train --model {root}/other --out {model}", "holds a model" },
        { "train --model {model} --out {model}/config.json", "is a file" },
        { "train --model {model} --out {notes}", "not empty and not a run folder" },
        { "train --model {model} --out {run}", "already holds a run" },
        { "train --resume {model}", "is a model folder, not a run folder" },
        { "train --resume {notes}", "not a run folder" },
        { "train --resume {root}/missing", "folder not found" },
        { "train --resume {run} --out {root}/fork", "--resume continues the run in its own folder" },
        { "train --model {root}/missing --out {root}/new", "model folder not found" },
        // Every numeric option in range, before anything is written.
        { "train --model {model} --out {root}/new --steps 0", "steps (--steps): 0 is out of range" },
        { "train --model {model} --out {root}/new --steps 99999999999", "--steps: '99999999999' is not a whole number" },
        { "train --model {model} --out {root}/new --steps abc", "--steps: 'abc' is not a whole number" },
        { "train --model {model} --out {root}/new --lr Infinity", "lr (--lr): Infinity is out of range" },
        { "train --model {model} --out {root}/new --lr 1e30", "lr (--lr)" },
        { "train --model {model} --out {root}/new --lambda NaN", "lambda (--lambda): NaN" },
        { "train --model {model} --out {root}/new --top-k -1", "top_k (--top-k)" },
        { "train --model {model} --out {root}/new --beta1 1.5", "beta1 (--beta1)" },
        { "train --model {model} --out {root}/new --beta2 -1", "beta2 (--beta2)" },
        { "train --model {model} --out {root}/new --weight-decay 1e12", "weight_decay (--weight-decay)" },
        { "train --model {model} --out {root}/new --adam-eps -1", "adam_eps (--adam-eps)" },
        { "train --model {model} --out {root}/new --kl-coef -1", "kl_coef (--kl-coef)" },
        { "train --model {model} --out {root}/new --threads -1", "threads (--threads)" },
        { "train --model {model} --out {root}/new --keep-checkpoints -1", "keep_checkpoints (--keep-checkpoints)" },
        { "train --model {model} --out {root}/new --eval-limit -5", "eval_limit (--eval-limit)" },
        { "train --model {model} --out {root}/new --temperature 0", "temperature (--temperature)" },
        { "train --model {model} --out {root}/new --rollout-batch-size 3", "rollout_batch_size (3) must be a positive multiple" },
        { "train --model {model} --out {root}/new --objective ppo", "objective: 'ppo'" },
        { "train --model {model} --out {root}/new --device tpu", "device: 'tpu'" },
        { "train --model {model} --out {root}/new --max-new-tokens 5000", "max_position_embeddings (4096)" },
        { "train --config {root}/bad-key.json --out {root}/new", "unknown option 'stepz'" },
        { "train --config {root}/missing.json --out {root}/new", "missing.json" },
        { "train --model {model} --out {root}/new --stepz 3", "'--stepz'" },
        // Training data a run cannot use, named with the file (and line).
        { "train --model {model} --out {root}/new --train-data {root}/empty.jsonl", "empty.jsonl: the file holds no rows" },
        { "train --model {model} --out {root}/new --train-data {root}/text.parquet", "text.parquet: not a parquet file" },
        { "train --model {model} --out {root}/new --train-data {root}/no-solution.jsonl", "no-solution.jsonl: no training problem with a gold answer" },
        { "train --model {model} --out {root}/new --train-data {root}/latin1.jsonl", "latin1.jsonl:2: not valid UTF-8" },
        { "train --model {model} --out {root}/new --train-data bundled:nope", "bundled:nope: no such bundled dataset" },
        // Weights: dtype and non-finite values named with the tensor; logits that overflow stop the sampler clearly.
        { "train --model {nan} --out {root}/new", "model.norm.weight holds NaN or infinite values" },
        { "logprobs --model {nan} --input {root}/ids.jsonl", "model.norm.weight holds NaN or infinite values" },
        { "logprobs --model {i32} --input {root}/ids.jsonl", "tensor model.norm.weight is stored as I32 but must be a float type" },
        { "generate --model {overflow} --input {root}/ids.jsonl --max-new-tokens 2", "NaN or infinite logits" },
        // The other commands' options and output folders.
        { "generate --model {model} --input {root}/ids.jsonl --top-k -1", "--top-k: -1 is out of range" },
        { "generate --model {model} --input {root}/ids.jsonl --n 0", "--n: 0 is out of range" },
        { "generate --model {model} --input {root}/ids.jsonl --top-p 1.5", "--top-p: 1.5 is out of range" },
        { "eval --model {model} --n 0 --out {root}/new", "--n: 0 is out of range" },
        { "eval --model {model} --out {model}", "holds a model" },
        { "eval --model {model} --out {root}/new --data {root}/empty.jsonl", "empty.jsonl" },
        { "data prepare --input {root}/no-solution.jsonl --size 0 --out {root}/new", "--size: 0 is out of range" },
        { "data prepare --input {root}/no-solution.jsonl --size -3 --out {root}/new", "--size: -3 is out of range" },
        { "data prepare --input {root}/no-solution.jsonl --subset 1.5 --out {root}/new", "--subset: 1.5 is out of range" },
        { "data stats {root}/empty.jsonl", "empty.jsonl: the file holds no rows" },
        { "report {empty} --out {root}/new", "no run folder could be read" },
        { "grade --threads 0", "--threads: 0 is out of range" },
        { "sweep --models {model} --objectives nsr --smooth 0 --out {root}/new", "--smooth: 0 is out of range" },
        { "bench generate --batch 0", "--batch: 0 is out of range" },
        { "frobnicate", "'frobnicate'" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_exits_1_naming_the_culprit_and_changes_no_file(string command, string culprit)
    {
        var args = command.Replace("{model}", box.Model).Replace("{nan}", box.NanModel).Replace("{i32}", box.IntModel)
            .Replace("{overflow}", box.OverflowModel).Replace("{run}", box.Run).Replace("{notes}", box.NotARun)
            .Replace("{empty}", box.EmptyFolder).Replace("{root}", box.Root)
            .Split(' ');
        var before = box.Checksums();
        var (code, _, stderr) = InProcess.Run(args);
        Assert.True(code == 1, $"exit code {code}; stderr: {stderr}");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var error = Assert.Single(lines, l => l.StartsWith("error: "));
        Assert.Contains(culprit, error);
        Assert.DoesNotContain("   at ", stderr);          // no stack trace
        Assert.DoesNotContain("System.", stderr);         // no .NET type names
        Assert.Equal(before, box.Checksums());            // nothing created, changed or removed
    }

    [Fact]
    public void Help_pages_name_the_command_rlvr()
    {
        var (code, stdout, _) = InProcess.Run(["train", "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("rlvr train [options]", stdout);
        Assert.DoesNotContain("Rlvr.Cli", stdout);
    }
}

/// <summary>Runs the command line in this process with its console output captured.</summary>
public static class InProcess
{
    public static (int Code, string Stdout, string Stderr) Run(string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (Rlvr.Cli.Cli.Run(args), stdout.ToString(), stderr.ToString()); }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}
