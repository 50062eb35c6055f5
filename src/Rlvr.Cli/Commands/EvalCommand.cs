using System.CommandLine;
using Rlvr.Data;
using Rlvr.Evaluation;
using Rlvr.Generation;
using Rlvr.Math;
using Rlvr.Model;
using Rlvr.Rollouts;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr eval</c>: n samples per problem, graded; pass@k with breakdowns (the trainer's evaluations use the same code).</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder or Hub id in the local HuggingFace cache", Required = true };
        var data = new Option<string>("--data") { Description = "Problems: a file (JSONL, parquet, MATH folder) or bundled:test, bundled:aime2025, ...", DefaultValueFactory = _ => "bundled:test" };
        var n = new Option<int>("--n") { Description = "Samples per problem", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var k = new Option<string>("--k") { Description = "Comma-separated k of pass@k (each <= n; larger ones are left out)", DefaultValueFactory = _ => "1,2,4,8,16" };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 0.6 }.Range(0.0, 100.0);
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold", DefaultValueFactory = _ => 0.95 }.Above(0.0, 1.0);
        var topK = new Option<int>("--top-k") { Description = "Top-k sampling (0 = off)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most new tokens per sample", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var greedy = new Option<bool>("--greedy") { Description = "Also decode greedily once per problem and report greedy accuracy" };
        var limit = new Option<int>("--limit") { Description = "Evaluate a fixed stratified (by type) subset of this many problems (0 = all)" }.AtLeast(0);
        var prompt = new Option<string>("--prompt") { Description = "Prompt template: reference, paper, or a file with a {problem} placeholder", DefaultValueFactory = _ => "reference" };
        var system = new Option<string?>("--system-prompt") { Description = "System prompt replacing the template's" };
        var requireBoxed = new Option<bool>("--require-boxed") { Description = "Count only answers in \\boxed{} (false: also 'answer is X' forms and the last number)", DefaultValueFactory = _ => true };
        var batch = new Option<int>("--batch-size") { Description = "Sequences decoded together", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Sampling seed", DefaultValueFactory = _ => 0 };
        var device = new Option<string>("--device") { Description = "cpu, or cuda[:N] where TorchSharp has CUDA", DefaultValueFactory = _ => "cpu" };
        var servers = new Option<string?>("--rollout-server") { Description = "Sample on these inference servers, URL[,URL...], instead of the built-in sampler (they serve the model; --model still gives the tokenizer; docs/scale-out.md)" };
        var protocol = new Option<string>("--rollout-protocol") { Description = "Protocol of the servers: vllm (POST /v1/completions) or sglang (POST /generate)", DefaultValueFactory = _ => "vllm" };
        var output = new Option<string>("--out") { Description = "Folder for summary.json and samples.jsonl", DefaultValueFactory = _ => "eval-out" };

        var cmd = new Command("eval", "Evaluate a model on math problems: pass@1, unbiased pass@k, greedy accuracy, per-type and per-level breakdowns.")
        { model, data, n, k, temperature, topP, topK, maxNew, greedy, limit, prompt, system, requireBoxed, batch, seed, device, servers, protocol, output };
        cmd.SetAction(parse =>
        {
            int samples = parse.GetValue(n);
            Training.RunOutput.CheckOutputFolder("--out", parse.GetValue(output)!);
            var deviceValue = ModelDevice.Parse(parse.GetValue(device)!);
            var ks = parse.GetValue(k)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => int.TryParse(x, out var v) && v > 0 ? v : throw new CliException($"--k: '{x}' is not a positive integer"))
                .Where(x => x <= samples).DefaultIfEmpty(1).ToArray();
            var problems = MathDataset.Load(parse.GetValue(data)!).Problems;
            int subset = parse.GetValue(limit);
            if (subset > 0 && subset < problems.Count) problems = StratifiedSubset.OfSize(problems, subset, Strata.Type, parse.GetValue(seed)).Problems;
            if (problems.Count == 0) throw new CliException($"{parse.GetValue(data)}: no problems with a gold answer");

            // A LoRA adapter folder is evaluated with its base model's config and tokenizer, the adapter applied.
            var (modelDir, weights) = ModelReference.ResolveWithAdapter(parse.GetValue(model)!);
            using var loaded = parse.GetValue(servers) is null ? ModelFolder.Load(weights, deviceValue) : null;
            var encoder = PromptEncoder.ForModel(modelDir, parse.GetValue(prompt)!, parse.GetValue(system));
            Func<IReadOnlyList<int>, string> decode = ids => encoder.Tokenizer.Decode(ids, skipSpecialTokens: true);
            using var remote = parse.GetValue(servers) is { } urls ? RemoteEvaluation(urls, parse.GetValue(protocol)!, modelDir, decode) : null;
            IRolloutSource sampler = remote is not null ? remote : new Sampler(loaded!, decode, parse.GetValue(batch));
            var sampling = new SamplingParams
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK),
                MaxNewTokens = parse.GetValue(maxNew), Seed = (ulong)parse.GetValue(seed),
            };
            var verifier = VerifierOptions.Default with { Extraction = parse.GetValue(requireBoxed) ? ExtractionOptions.BoxedOnly : ExtractionOptions.Default };
            var settings = new EvalSettings(Path.GetFileName(weights.TrimEnd('/')), parse.GetValue(data)!, 0,
                sampling.Temperature, sampling.TopP, sampling.MaxNewTokens);
            var progress = new ConsoleProgress("eval");
            var result = Evaluator.Run(sampler, encoder, problems, new EvalRequest(samples, ks, sampling, parse.GetValue(greedy), verifier),
                settings, progress);
            progress.Finish();

            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            Evaluator.WriteSamples(Path.Combine(outDir, "samples.jsonl"), result.Samples);
            result.Summary.Save(Path.Combine(outDir, "summary.json"));
            var s = result.Summary;
            Console.WriteLine($"{s.NProblems} problems x {s.N} samples: " + string.Join(", ", s.PassAtK.Select(kv => $"pass@{kv.Key} {kv.Value:F4}"))
                + (s.GreedyAccuracy is { } g ? $", greedy {g:F4}" : "") + $", no answer {s.NoAnswerRatio:P1}, mean length {s.MeanResponseTokens:F0} tokens");
            Console.WriteLine($"wrote {Path.Combine(outDir, "summary.json")} and samples.jsonl");
            return 0;
        });
        return cmd;
    }

    /// <summary>Servers that sample a fixed model: no weight sync; the stop ids are the model folder's eos ids.</summary>
    static RemoteRollouts RemoteEvaluation(string urls, string protocol, string modelDir, Func<IReadOnlyList<int>, string> decode)
    {
        try
        {
            var options = new RemoteRolloutOptions(RemoteRolloutOptions.ParseServers(urls), RolloutProtocol.Parse(protocol), NoWeightSync.Instance, TimeSpan.FromSeconds(600));
            var eos = GenerationConfig.Load(modelDir, Qwen2Config.Load(Path.Combine(modelDir, "config.json"))).EosTokenIds;
            return new RemoteRollouts(options, eos, decode, Console.Error.WriteLine);
        }
        catch (ArgumentException e) { throw new CliException(e.Message); }
    }
}
