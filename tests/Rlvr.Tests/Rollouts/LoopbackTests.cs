using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Rlvr.Tests.Training;

namespace Rlvr.Tests.Rollouts;

/// <summary>An <c>rlvr serve</c> process on a free 127.0.0.1 port; killed on Dispose. Its stderr lines are kept.</summary>
sealed class ServeProcess : IDisposable
{
    readonly Process process;
    readonly ConcurrentQueue<string> lines = new();
    public string Url { get; }

    ServeProcess(Process process, string url) { this.process = process; Url = url; }

    public static ServeProcess Start(string modelDir)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "Rlvr.Cli.dll"), "serve", "--model", modelDir, "--port", port.ToString(), "--threads", "1" })
            psi.ArgumentList.Add(a);
        var server = new ServeProcess(Process.Start(psi)!, $"http://127.0.0.1:{port}");
        server.process.ErrorDataReceived += (_, e) => { if (e.Data is not null) server.lines.Enqueue(e.Data); };
        server.process.OutputDataReceived += (_, e) => { if (e.Data is not null) server.lines.Enqueue(e.Data); };
        server.process.BeginErrorReadLine();
        server.process.BeginOutputReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddMinutes(5);   // bounded; a loaded 2-core machine starts dotnet and torch slowly
        while (DateTime.UtcNow < deadline && !server.process.HasExited)
        {
            try { if (http.GetAsync(server.Url + "/health").Result.IsSuccessStatusCode) return server; }
            catch (AggregateException) { }
            Thread.Sleep(200);
        }
        var exited = server.process.HasExited ? $"exited with code {server.process.ExitCode}" : "still starting after 5 minutes";
        server.Dispose();
        throw new InvalidOperationException($"rlvr serve on port {port} did not come up ({exited}): {server.Log}");
    }

    public string Log => string.Join("\n", lines);

    /// <summary>Waits (bounded) until a stderr line contains <paramref name="text"/>.</summary>
    public bool WaitForLine(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            if (lines.Any(l => l.Contains(text))) return true;
            Thread.Sleep(10);
        }
        return lines.Any(l => l.Contains(text));
    }

    public void Kill()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
    }
}

/// <summary>
/// The remote rollout path for real: <c>rlvr serve</c> processes on loopback, a training run whose rollouts come from them
/// with a weight sync after every step, against the built-in sampler with the same seeds.
/// </summary>
public class LoopbackTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    string[] TrainArgs(string runDir, string lr = "1e-3") =>
    [
        "train", "--model", tiny.ModelDir, "--objective", "nsr", "--out", runDir, "--steps", "2",
        "--rollout-batch-size", "4", "--rollouts-per-prompt", "2", "--max-new-tokens", "8", "--eval-every", "0",
        "--save-every", "0", "--lr", lr, "--seed", "7",
    ];

    static List<JsonObject> TrainLines(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
        .Select(l => (JsonObject)JsonNode.Parse(l)!).Where(l => (string)l["type"]! == "train").ToList();

    [Fact]
    public void Training_on_two_servers_matches_the_built_in_sampler_and_survives_one_killed_mid_step()
    {
        var local = Path.Combine(Fixtures.TempDir(), "local");
        var builtIn = CliRunner.Run(TrainArgs(local));
        Assert.True(builtIn.ExitCode == 0, builtIn.Stdout + builtIn.Stderr);

        using var a = ServeProcess.Start(tiny.ModelDir);
        using var b = ServeProcess.Start(tiny.ModelDir);
        var remote = Path.Combine(Fixtures.TempDir(), "remote");
        var training = Task.Run(() => CliRunner.Run([.. TrainArgs(remote), "--rollout-server", $"{a.Url},{b.Url}", "--rollout-protocol", "vllm"]));
        // Server a gets the first prompt of step 1 (2 samples per prompt); kill it while it generates them.
        Assert.True(a.WaitForLine("x 2 (", TimeSpan.FromMinutes(5)), "server a never got a rollout request: " + a.Log);
        a.Kill();
        Assert.True(training.Wait(TimeSpan.FromMinutes(8)), "the remote run did not finish in time");
        var r = training.Result;
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr + "\nserver b:\n" + b.Log);
        // Killed while its request runs: the request fails over to b; or, when the tiny model answered before the kill
        // landed (a race on a busy machine), the next weight sync finds it gone. Either way the run went on without it.
        Assert.True(r.Stdout.Contains($"rollout server {a.Url} failed") || r.Stdout.Contains($"rollout server {a.Url} cannot be reached"),
            "the run never noticed server a was gone:\n" + r.Stdout);
        Assert.Contains("loaded weights from", b.Log);   // the weight sync reached the server that stayed

        // Same rollouts token for token (seeds travel with each prompt), so the same rewards and samples.
        Assert.Equal(File.ReadAllLines(Path.Combine(local, "samples.jsonl")), File.ReadAllLines(Path.Combine(remote, "samples.jsonl")));
        var (expected, actual) = (TrainLines(local), TrainLines(remote));
        Assert.Equal(2, actual.Count);
        for (int i = 0; i < 2; i++)
        {
            foreach (var key in new[] { "reward", "reward_std", "correct_ratio", "no_answer_ratio", "completions/mean_length", "completions/clipped_ratio", "samples_kept" })
                Assert.Equal((double)expected[i][key]!, (double)actual[i][key]!);
            // Log-probs from the server's KV-cache decode vs the trainer's batch: equal up to float rounding.
            Assert.Equal((double)expected[i]["loss"]!, (double)actual[i]["loss"]!, 4);
            Assert.True((double)actual[i]["offpolicy/logprob_abs_diff"]! < 1e-4, actual[i].ToJsonString());
            Assert.True(actual[i].ContainsKey("time/weight_sync"));
        }
        Assert.True(Directory.GetDirectories(Path.Combine(remote, "weights")).Single().EndsWith("step_000002"));

        // And it answers an ordinary OpenAI completions request (a text prompt, no extensions).
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        var models = JsonNode.Parse(http.GetStringAsync(b.Url + "/v1/models").Result)!;
        var name = (string)models["data"]![0]!["id"]!;
        var content = new StringContent($$"""{"model": "{{name}}", "prompt": "Hello", "max_tokens": 3, "temperature": 0}""", Encoding.UTF8, "application/json");
        var response = http.PostAsync(b.Url + "/v1/completions", content).Result;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var choice = JsonNode.Parse(response.Content.ReadAsStringAsync().Result)!["choices"]![0]!;
        Assert.Equal(JsonValueKind(choice["text"]), "String");
        Assert.Contains((string)choice["finish_reason"]!, new[] { "stop", "length" });
    }

    static string JsonValueKind(JsonNode? node) => node!.GetValueKind().ToString();

    [Fact]
    public void Rollouts_from_a_server_that_did_not_get_the_new_weights_are_refused()
    {
        using var server = ServeProcess.Start(tiny.ModelDir);
        var run = Path.Combine(Fixtures.TempDir(), "stale");
        var r = CliRunner.Run([.. TrainArgs(run, lr: "1e-2"), "--rollout-server", server.Url, "--rollout-protocol", "sglang",
            "--weight-sync", "none", "--sync-tolerance", "1e-4"]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("stale rollout servers after the weight sync to version 1", r.Stderr);
        Assert.Single(TrainLines(run));   // step 1 trained on fresh rollouts; step 2 never sampled
    }
}
