using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Rlvr.Generation;
using Rlvr.Model;
using TorchSharp;

namespace Rlvr.Rollouts;

/// <summary>Where the remote rollouts come from and how the weights go back.</summary>
/// <param name="Servers">Base URLs (http://host:port), one per server.</param>
/// <param name="InFlightPerServer">Requests (one prompt with its n samples each) sent to one server at once.</param>
/// <param name="WeightFolder">Where the trainer writes the weights after each update (a path every server can read).</param>
/// <param name="WeightDtype">Dtype of the written weights (fp32 keeps the trainer's exact values; bf16 halves the bytes).</param>
/// <param name="ProbeTolerance">Largest mean |log-prob difference| between a server and the trainer on the probe sequence.</param>
public sealed record RemoteRolloutOptions(IReadOnlyList<string> Servers, RolloutProtocol Protocol, IWeightLoader Weights,
    TimeSpan Timeout, int InFlightPerServer = 4, string WeightFolder = "weights",
    torch.ScalarType WeightDtype = torch.ScalarType.Float32, double ProbeTolerance = 0.1)
{
    /// <summary>"URL[,URL...]" as servers, without trailing slashes; <see cref="ArgumentException"/> for one that is not http(s).</summary>
    public static IReadOnlyList<string> ParseServers(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? u.TrimEnd('/')
            : throw new ArgumentException($"rollout_server: '{u}' is not an http:// or https:// URL")).ToArray();
}

/// <summary>
/// Rollouts from inference servers. Each prompt with its n samples is one request; requests are spread over the servers
/// (a few in flight per server), each with a timeout; a request that fails is retried on the other servers, a server
/// that fails is left out until the next weight sync, and the call fails naming every server's error when none answers.
/// Each request carries the prompt's own seed (<see cref="SequenceRandom.PromptSeed"/>), so <c>rlvr serve</c> draws the
/// same tokens as the built-in sampler whichever server runs which prompt.
///
/// After each update (<see cref="PolicyChanged"/>) the weights are written as an HF folder (atomically), every server is
/// told to load it, and each one must then show it serves them: the folder it reports, and the log-probs of a fixed
/// probe continuation against the trainer's own. A server that answers but fails the check stops the run (stale rollouts
/// are refused); one that cannot be reached is left out while the others carry on.
/// </summary>
public sealed class RemoteRollouts : IRolloutSource, IDisposable
{
    readonly RemoteRolloutOptions options;
    readonly IReadOnlyList<int> stopIds;
    readonly Func<IReadOnlyList<int>, string>? decode;
    readonly Action<string> log;
    readonly HttpClient http = new() { Timeout = Timeout.InfiniteTimeSpan };
    readonly HashSet<string> down = [];
    string? model;

    /// <summary>Fixed probe prompt (ids valid in any Qwen2 vocabulary) and its greedy continuation length.</summary>
    static readonly int[] ProbePrompt = [785, 4226, 315, 220, 16, 488, 220, 16, 374];
    const int ProbeTokens = 4;

    public RemoteRollouts(RemoteRolloutOptions options, IReadOnlyList<int> stopIds, Func<IReadOnlyList<int>, string>? decode, Action<string> log)
    {
        if (options.Servers.Count == 0) throw new ArgumentException("rollout_server: no server given");
        this.options = options;
        this.stopIds = stopIds;
        this.decode = decode;
        this.log = log;
    }

    /// <summary>Servers in use: those not left out after a failure.</summary>
    public IReadOnlyList<string> LiveServers => options.Servers.Where(s => !down.Contains(s)).ToArray();

    public IReadOnlyList<Completion> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams p,
        IProgress<GenerationProgress>? progress = null)
    {
        if (n < 1) throw new ArgumentException($"n (samples per prompt) must be at least 1, got {n}");
        p.Validate();
        if (p.StopStrings is { Count: > 0 }) throw new ArgumentException("stop strings are not supported with rollout servers (use stop token ids)");
        if (p.PromptSeeds is { } given && given.Count != prompts.Count) throw new ArgumentException($"{given.Count} prompt seeds for {prompts.Count} prompts");
        var stops = p.StopTokenIds ?? stopIds;
        var clock = Stopwatch.StartNew();
        var results = new IReadOnlyList<ServerSample>[prompts.Count];
        long generated = 0;
        int done = 0;
        var gates = options.Servers.ToDictionary(s => s, _ => new SemaphoreSlim(options.InFlightPerServer));
        var modelName = ModelName();
        var tasks = Enumerable.Range(0, prompts.Count).Select(async i =>
        {
            var seed = p.PromptSeeds?[i] ?? SequenceRandom.PromptSeed(p.Seed, i);
            var body = options.Protocol.Request(modelName, prompts[i], n, p, seed, stops);
            results[i] = await SendAnywhere(body, n, i, gates);
            Interlocked.Add(ref generated, results[i].Sum(s => s.TokenIds.Length));
            progress?.Report(new GenerationProgress(Interlocked.Read(ref generated), 0, Interlocked.Add(ref done, n), prompts.Count * n, clock.Elapsed));
        }).ToArray();
        Task.WhenAll(tasks).GetAwaiter().GetResult();

        var completions = new List<Completion>(prompts.Count * n);
        for (int i = 0; i < prompts.Count; i++)
            for (int s = 0; s < n; s++)
            {
                var x = results[i][s];
                bool endsWithStop = x.FinishReason == FinishReason.Stop && x.TokenIds.Length > 0 && stops.Contains(x.TokenIds[^1]);
                var text = decode?.Invoke(endsWithStop ? x.TokenIds[..^1] : x.TokenIds) ?? "";
                // The servers report each token's log-prob under the model's own distribution (temperature 1): the trainer's
                // ratio compares with these, so remote rollouts are exactly on-policy at temperature 1 only (docs/scale-out.md).
                completions.Add(new Completion(i, s, x.TokenIds, x.LogProbs, [], text, x.FinishReason) { TemperedLogProbs = x.LogProbs });
            }
        return completions;
    }

    /// <summary>Sends one request, first to its turn's server (spreading prompts over servers), then to the others; servers
    /// that failed earlier come last. Throws naming each server's error when none answers.</summary>
    async Task<IReadOnlyList<ServerSample>> SendAnywhere(JsonObject body, int n, int index, Dictionary<string, SemaphoreSlim> gates)
    {
        var servers = options.Servers;
        var order = Enumerable.Range(0, servers.Count).Select(k => servers[(index + k) % servers.Count])
            .OrderBy(s => { lock (down) return down.Contains(s); }).ToList();
        var errors = new List<string>();
        foreach (var server in order)
        {
            await gates[server].WaitAsync();
            try
            {
                using var cancel = new CancellationTokenSource(options.Timeout);
                using var response = await http.PostAsJsonAsync(server + options.Protocol.GeneratePath, body, cancel.Token);
                var text = await response.Content.ReadAsStringAsync(cancel.Token);
                if (!response.IsSuccessStatusCode) throw new InvalidDataException($"HTTP {(int)response.StatusCode} {DiskReload.Shorten(text)}");
                return options.Protocol.Samples(JsonNode.Parse(text), n);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or InvalidDataException or System.Text.Json.JsonException)
            {
                var why = e is OperationCanceledException ? $"no answer within {options.Timeout.TotalSeconds:F0} s" : e.Message;
                errors.Add($"{server}: {why}");
                lock (down)
                    if (down.Add(server)) log($"rollout server {server} failed ({why}); its requests go to the other servers");
            }
            finally { gates[server].Release(); }
        }
        throw new InvalidOperationException($"no rollout server answered prompt {index}: {string.Join("; ", errors)}");
    }

    /// <summary>The model name requests carry: vLLM's first served model (GET /v1/models), asked once.</summary>
    string ModelName()
    {
        if (model is not null) return model;
        if (options.Protocol is not VllmProtocol) return model = "default";
        var errors = new List<string>();
        foreach (var server in LiveServers.Concat(down))
        {
            try
            {
                using var cancel = new CancellationTokenSource(options.Timeout);
                var body = JsonNode.Parse(http.GetStringAsync(server + "/v1/models", cancel.Token).GetAwaiter().GetResult());
                if (body?["data"] is JsonArray { Count: > 0 } data && data[0]?["id"]?.GetValue<string>() is { } id) return model = id;
                errors.Add($"{server}: /v1/models lists no model");
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException) { errors.Add($"{server}: {e.Message}"); }
        }
        throw new InvalidOperationException($"no rollout server answered GET /v1/models: {string.Join("; ", errors)}");
    }

    /// <summary>Writes the weights, makes every server load them and checks each one serves them (see the class summary).</summary>
    public void PolicyChanged(LoadedModel policy, int version)
    {
        var folder = Path.GetFullPath(Path.Combine(options.WeightFolder, $"step_{version:D6}"));
        if (options.Weights is not NoWeightSync) Publish(policy, folder);
        var prompt = ProbePrompt.Where(id => id < policy.Config.VocabSize).DefaultIfEmpty(0).ToArray();
        var stale = new List<string>();
        var probes = new Dictionary<string, ServerSample>();
        var tasks = options.Servers.Select(async server =>
        {
            try
            {
                using var cancel = new CancellationTokenSource(options.Timeout);
                await options.Weights.LoadAsync(http, server, folder, cancel.Token);
                var served = await options.Weights.ServedFolderAsync(http, server, cancel.Token);
                if (served is not null && Path.GetFullPath(served) != folder)
                    lock (stale) stale.Add($"{server} serves {served}, not {folder}");
                var probe = await ProbeAsync(server, prompt, cancel.Token);
                lock (probes) probes[server] = probe;
                lock (down) if (down.Remove(server)) log($"rollout server {server} serves version {version} again");
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                lock (down) if (down.Add(server)) log($"rollout server {server} cannot be reached ({e.Message}); left out");
            }
        }).ToArray();
        try { Task.WhenAll(tasks).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException)
        { throw new InvalidOperationException($"weight sync to version {version} failed: {e.Message}", e); }
        foreach (var (server, probe) in probes)
        {
            var diff = ProbeDifference(policy, prompt, probe);
            if (diff > options.ProbeTolerance)
                stale.Add($"{server}: its log-probs of the probe differ from the trainer's by {diff:G3} on average (tolerance {options.ProbeTolerance})");
        }
        if (stale.Count > 0)
            throw new IOException($"stale rollout servers after the weight sync to version {version} (refusing their rollouts): {string.Join("; ", stale)}");
        if (LiveServers.Count == 0) throw new InvalidOperationException($"no rollout server serves version {version}: none could be reached ({string.Join(", ", options.Servers)})");
        if (Directory.Exists(options.WeightFolder))
            foreach (var old in Directory.GetDirectories(options.WeightFolder, "step_*"))
                if (Path.GetFullPath(old) != folder) Directory.Delete(old, recursive: true);
    }

    /// <summary>An HF folder, complete or absent: written under a temporary name and renamed.</summary>
    void Publish(LoadedModel policy, string folder)
    {
        var temporary = folder + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        ModelFolder.Save(policy.Model, temporary, options.WeightDtype, policy.Directory, policy.Generation);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.Move(temporary, folder);
    }

    /// <summary>The server's greedy continuation of the probe prompt (a fixed length, no stop tokens) with its log-probs.</summary>
    async Task<ServerSample> ProbeAsync(string server, int[] prompt, CancellationToken cancel)
    {
        var greedy = new SamplingParams { Temperature = 0, MaxNewTokens = ProbeTokens, MinNewTokens = ProbeTokens };
        var body = options.Protocol.Request(ModelName(), prompt, 1, greedy, 0, []);
        using var response = await http.PostAsJsonAsync(server + options.Protocol.GeneratePath, body, cancel);
        var text = await response.Content.ReadAsStringAsync(cancel);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{server} answered the probe with HTTP {(int)response.StatusCode} {DiskReload.Shorten(text)}");
        return options.Protocol.Samples(JsonNode.Parse(text), 1)[0];
    }

    /// <summary>Mean |server log-prob - trainer log-prob| over the server's probe continuation (whatever it chose, the
    /// trainer scores the same ids, so bf16 ties that pick another token do not matter).</summary>
    static double ProbeDifference(LoadedModel policy, int[] prompt, ServerSample probe)
    {
        if (probe.TokenIds.Length == 0) return double.PositiveInfinity;
        if (probe.TokenIds.Any(id => id < 0 || id >= policy.Config.VocabSize)) return double.PositiveInfinity;
        var mine = SequenceLogProbs.Compute(policy.Model, [[.. prompt, .. probe.TokenIds]])[0][(prompt.Length - 1)..];
        return mine.Zip(probe.LogProbs, (a, b) => System.Math.Abs(a - (double)b)).Average();
    }

    public void Dispose() => http.Dispose();
}
