using System.CommandLine;
using System.Diagnostics;
using Rlvr.Model;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr merge-adapter</c>: folds a LoRA adapter (PEFT layout, e.g. a checkpoint of a LoRA run) into its base model
/// and writes a full HuggingFace model folder: W' = W + (lora_alpha / r) B A for every adapted projection.
/// </summary>
public static class MergeAdapterCommand
{
    public static Command Create()
    {
        var adapter = new Option<string>("--adapter") { Description = "Adapter folder (adapter_config.json, adapter_model.safetensors)", Required = true };
        var model = new Option<string?>("--model") { Description = "Base model folder or Hub id (default: the adapter's base_model_name_or_path)" };
        var output = new Option<string>("--out") { Description = "Folder to write the merged model into", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype of the merged weights: float32, bfloat16 or float16 (the merge itself is fp32)", DefaultValueFactory = _ => "float32" };
        var force = new Option<bool>("--force") { Description = "Overwrite a folder that already holds a model" };
        var cmd = new Command("merge-adapter", "Merge a LoRA adapter into its base model and write a full HuggingFace model folder.")
        {
            adapter, model, output, dtype, force,
        };
        cmd.SetAction(parse =>
        {
            var (adapterDir, outDir) = (parse.GetValue(adapter)!, parse.GetValue(output)!);
            var storeAs = ModelFolder.ParseDtype(parse.GetValue(dtype)!);
            if (!LoraAdapter.IsAdapterFolder(adapterDir)) throw new CliException($"--adapter {adapterDir}: no {LoraAdapter.ConfigFile} there");
            if (!parse.GetValue(force) && File.Exists(Path.Combine(outDir, "config.json")))
                throw new CliException($"{outDir} already holds a model (config.json); pass --force to overwrite it");
            var sw = Stopwatch.StartNew();
            using var loaded = LoraAdapter.LoadWithBase(adapterDir, parse.GetValue(model));
            loaded.Model.MergeAdapters();
            ModelFolder.Save(loaded.Model, outDir, storeAs, loaded.Directory, loaded.Generation);
            var lora = loaded.Model.Lora!;
            Console.Error.WriteLine($"merge-adapter: r {lora.Rank}, alpha {lora.Alpha}, {string.Join(",", lora.Targets)} merged into {loaded.Directory}; wrote {outDir} ({ModelFolder.TorchDtypeName(storeAs)}) in {sw.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }
}
