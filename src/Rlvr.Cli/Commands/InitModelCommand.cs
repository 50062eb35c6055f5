using System.CommandLine;
using System.Diagnostics;
using Rlvr.Model;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr init-model</c>: a randomly initialised Qwen2 model folder (HuggingFace format, with the real
/// Qwen2.5 tokenizer files), for tests and benchmarks where no trained weights exist.
/// </summary>
public static class InitModelCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config")
        {
            Description = $"A bundled config ({string.Join(", ", Qwen2Config.NamedConfigs)}) or the path of a Qwen2 config.json",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "Folder to write the model into", Required = true };
        var seed = new Option<long>("--seed") { Description = "Random seed for the weights (same seed, same weights)", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype: float32, bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        var force = new Option<bool>("--force") { Description = "Overwrite a folder that already holds a model" };
        var cmd = new Command("init-model", "Write a randomly initialised Qwen2 model folder (normal(0, initializer_range) weights, unit norms, zero biases).")
        {
            config, output, seed, dtype, force,
        };
        cmd.SetAction(parse => Run(parse.GetValue(config)!, parse.GetValue(output)!, parse.GetValue(seed), parse.GetValue(dtype)!, parse.GetValue(force)));
        return cmd;
    }

    static int Run(string configName, string outDir, long seed, string dtypeName, bool force)
    {
        var dtype = ModelFolder.ParseDtype(dtypeName);
        var isNamed = Qwen2Config.NamedConfigs.Contains(configName);
        if (!isNamed && !File.Exists(configName))
            throw new CliException($"--config {configName}: neither a bundled config ({string.Join(", ", Qwen2Config.NamedConfigs)}) nor an existing config.json");
        if (!force && File.Exists(Path.Combine(outDir, "config.json")))
            throw new CliException($"{outDir} already holds a model (config.json); pass --force to overwrite it");
        var config = Qwen2Config.LoadNamedOrPath(configName);
        if (config.VocabSize < 151665)
            Console.Error.WriteLine($"warning: vocab_size {config.VocabSize} is smaller than the bundled Qwen2.5 tokenizer's (151665 ids)");

        var sw = Stopwatch.StartNew();
        using var model = new Qwen2ForCausalLM(config);
        model.InitializeWeights(seed);
        var parameters = model.parameters().Sum(p => p.numel());
        Console.Error.WriteLine($"init-model: {parameters:N0} parameters initialised in {sw.Elapsed.TotalSeconds:F1} s (seed {seed})");

        sw.Restart();
        ModelFolder.Save(model, outDir, dtype, Assets.QwenTokenizerDir, GenerationConfigFor(configName, isNamed));
        Console.Error.WriteLine($"init-model: saved {outDir} ({ModelFolder.TorchDtypeName(dtype)}) in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>The generation_config.json next to the config when there is one; else Qwen2.5-Instruct's (the tokenizer written is Qwen2.5's).</summary>
    static GenerationConfig GenerationConfigFor(string configName, bool isNamed)
    {
        var configPath = isNamed ? Qwen2Config.NamedConfigPath(configName) : configName;
        var dir = configPath is null ? null : Path.GetDirectoryName(Path.GetFullPath(configPath));
        return dir != null && File.Exists(Path.Combine(dir, GenerationConfig.FileName))
            ? GenerationConfig.Load(dir, Qwen2Config.LoadNamedOrPath(configName))
            : GenerationConfig.Qwen25Instruct;
    }
}
