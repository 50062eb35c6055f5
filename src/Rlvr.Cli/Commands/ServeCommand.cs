using System.CommandLine;
using System.Runtime.InteropServices;
using Rlvr.Model;
using Rlvr.Rollouts;
using Rlvr.Text;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr serve</c>: the built-in sampler behind vLLM's and SGLang's HTTP shapes (<see cref="RolloutServer"/>).</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder or Hub id in the local HuggingFace cache", Required = true };
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1: this machine only; + or *: every interface, may need rights)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port", DefaultValueFactory = _ => 8000 };
        var name = new Option<string?>("--served-model-name") { Description = "Model name in /v1/models and responses (default: the model folder's name)" };
        var batch = new Option<int>("--batch-size") { Description = "Sequences decoded together", DefaultValueFactory = _ => 64 };
        var device = new Option<string>("--device") { Description = "cpu, or cuda[:N] where TorchSharp has CUDA", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "Torch threads (0 = torch's default)" };
        var cmd = new Command("serve", "Serve a model over HTTP: vLLM-style POST /v1/completions, SGLang-style POST /generate and /update_weights_from_disk, GET /v1/models, /get_model_info, /health (docs/scale-out.md).")
        { model, host, port, name, batch, device, threads };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(port) is < 1 or > 65535) throw new CliException($"--port {parse.GetValue(port)}: must be in 1..65535");
            if (parse.GetValue(batch) < 1) throw new CliException("--batch-size must be >= 1");
            if (parse.GetValue(threads) > 0) TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            using var loaded = ModelFolder.Load(parse.GetValue(model)!, ModelDevice.Parse(parse.GetValue(device)!));
            var tokenizer = QwenTokenizer.Load(loaded.Directory);
            var served = parse.GetValue(name) ?? Path.GetFileName(loaded.Directory.TrimEnd('/'));
            var prefix = $"http://{parse.GetValue(host)}:{parse.GetValue(port)}/";
            using var server = new RolloutServer(loaded, tokenizer, served, parse.GetValue(batch), prefix, Console.Error);
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            Console.WriteLine($"rlvr serve: listening on {prefix} (model {served})");
            server.Run(stop.Token);
            return 0;
        });
        return cmd;
    }
}
