using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Text;

namespace Rlvr.Rollouts;

/// <summary>
/// <c>rlvr serve</c>: the built-in sampler behind vLLM's <c>POST /v1/completions</c> (with vLLM's extensions) and SGLang's
/// <c>POST /generate</c>, plus <c>POST /update_weights_from_disk</c>, <c>GET /get_model_info</c>, <c>GET /v1/models</c> and
/// <c>GET /health</c> (HttpListener, loopback or any address the prefix names).
///
/// One worker runs the model. Requests that arrive together (queued while it works, or within <see cref="BatchWindow"/>)
/// are decoded in one <see cref="Sampler.Generate"/> call when their sampling settings agree; each keeps its own seed, so an
/// answer does not depend on what it was batched with. A weight update waits for the generations queued before it.
/// </summary>
public sealed class RolloutServer : IDisposable
{
    readonly LoadedModel model;
    readonly QwenTokenizer tokenizer;
    readonly Sampler sampler;
    readonly string modelName;
    readonly TextWriter log;
    readonly HttpListener listener = new();
    readonly BlockingCollection<Job> queue = new();
    string modelPath;

    public static TimeSpan BatchWindow { get; } = TimeSpan.FromMilliseconds(20);

    abstract record Job;
    sealed record GenerateJob(GenerationRequest Request, TaskCompletionSource<IReadOnlyList<Completion>> Done) : Job;
    sealed record LoadJob(string Folder, TaskCompletionSource<string> Done) : Job;

    public RolloutServer(LoadedModel model, QwenTokenizer tokenizer, string modelName, int maxBatch, string prefix, TextWriter log)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.modelName = modelName;
        this.log = log;
        modelPath = model.Directory;
        sampler = new Sampler(model, ids => tokenizer.Decode(ids, skipSpecialTokens: true), maxBatch);
        listener.Prefixes.Add(prefix);
    }

    /// <summary>Serves until <paramref name="stop"/> is cancelled.</summary>
    public void Run(CancellationToken stop)
    {
        listener.Start();
        var worker = new Thread(() => Work(stop)) { IsBackground = true, Name = "rlvr-serve-model" };
        worker.Start();
        using var registration = stop.Register(() => { listener.Stop(); queue.CompleteAdding(); });
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = listener.GetContext(); }
            catch (Exception) when (stop.IsCancellationRequested) { break; }
            catch (HttpListenerException) { break; }
            _ = Task.Run(() => Handle(context));
        }
        worker.Join();
    }

    async Task Handle(HttpListenerContext context)
    {
        var request = context.Request;
        try
        {
            var path = request.Url!.AbsolutePath.TrimEnd('/');
            switch (request.HttpMethod, path)
            {
                case ("GET", "/health"):
                    await Reply(context, 200, null);
                    break;
                case ("GET", "/v1/models"):
                    await Reply(context, 200, new JsonObject
                    {
                        ["object"] = "list",
                        ["data"] = new JsonArray(new JsonObject { ["id"] = modelName, ["object"] = "model", ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["owned_by"] = "rlvr", ["root"] = modelPath }),
                    });
                    break;
                case ("GET", "/get_model_info"):
                    await Reply(context, 200, new JsonObject { ["model_path"] = modelPath, ["tokenizer_path"] = model.Directory, ["is_generation"] = true });
                    break;
                case ("POST", "/v1/completions"):
                    await Generate(context, VllmProtocol.Instance);
                    break;
                case ("POST", "/generate"):
                    await Generate(context, SglangProtocol.Instance);
                    break;
                case ("POST", "/update_weights_from_disk"):
                    var folder = (await Body(context))["model_path"]?.GetValue<string>() ?? throw new ArgumentException("'model_path' is required");
                    var job = new LoadJob(folder, new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
                    queue.Add(job);
                    try { await Reply(context, 200, new JsonObject { ["success"] = true, ["message"] = await job.Done.Task }); }
                    catch (Exception e) when (e is not HttpListenerException) { await Reply(context, 200, new JsonObject { ["success"] = false, ["message"] = e.Message }); }
                    break;
                default:
                    await Error(context, 404, $"{request.HttpMethod} {path}: not found");
                    break;
            }
        }
        catch (ArgumentException e) { await Error(context, 400, e.Message); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        { await Error(context, 400, e.Message); }
        catch (Exception e) when (e is not HttpListenerException) { log.WriteLine($"serve: {e}"); await Error(context, 500, e.Message); }
    }

    async Task Generate(HttpListenerContext context, RolloutProtocol protocol)
    {
        var request = protocol.ParseRequest(await Body(context), text => [.. tokenizer.Encode(text)]);
        if (request.N < 1) throw new ArgumentException("'n' must be at least 1");
        request.Sampling.Validate();
        var job = new GenerateJob(request, new TaskCompletionSource<IReadOnlyList<Completion>>(TaskCreationOptions.RunContinuationsAsynchronously));
        queue.Add(job);
        var completions = await job.Done.Task;
        await Reply(context, 200, protocol.Response(request, completions, modelName, (ids, skip) => tokenizer.Decode(ids, skip)));
    }

    /// <summary>The model's thread: takes what is queued, runs weight loads in order, and generation requests in batches.</summary>
    void Work(CancellationToken stop)
    {
        try
        {
            foreach (var first in queue.GetConsumingEnumerable(stop))
            {
                var jobs = new List<Job> { first };
                if (first is GenerateJob) Thread.Sleep(BatchWindow);
                while (queue.TryTake(out var more)) jobs.Add(more);
                var pending = new List<GenerateJob>();
                foreach (var job in jobs)
                {
                    if (job is GenerateJob g) { pending.Add(g); continue; }
                    RunBatches(pending);
                    pending.Clear();
                    var load = (LoadJob)job;
                    try { load.Done.SetResult(Load(load.Folder)); }
                    catch (Exception e) { load.Done.SetException(e); }
                }
                RunBatches(pending);
            }
        }
        catch (OperationCanceledException) { }
    }

    string Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder");
        var config = Qwen2Config.Load(Path.Combine(folder, "config.json"));
        if (config.VocabSize != model.Config.VocabSize || config.HiddenSize != model.Config.HiddenSize || config.NumHiddenLayers != model.Config.NumHiddenLayers)
            throw new InvalidDataException($"{folder}: its config.json describes another architecture than the served model");
        ModelFolder.LoadWeights(model.Model, folder);
        modelPath = folder;
        log.WriteLine($"serve: loaded weights from {folder}");
        return $"loaded {folder}";
    }

    /// <summary>Requests with the same sampling settings (all but the seed) go through one Generate call.</summary>
    void RunBatches(List<GenerateJob> jobs)
    {
        foreach (var group in jobs.GroupBy(j => Key(j.Request)))
        {
            var members = group.ToList();
            var prompts = members.SelectMany(j => j.Request.Prompts).ToList();
            var seeds = members.SelectMany(j =>
            {
                var seed = j.Request.Seed ?? (ulong)Random.Shared.NextInt64();
                return j.Request.Prompts.Select((_, i) => SequenceRandom.PromptSeed(seed, i));
            }).ToArray();
            var first = members[0].Request;
            log.WriteLine($"serve: generating {prompts.Count} prompt(s) x {first.N} ({members.Count} request(s))");
            try
            {
                var all = sampler.Generate(prompts, first.N, first.Sampling with { PromptSeeds = seeds });
                int offset = 0;
                foreach (var j in members)
                {
                    int count = j.Request.Prompts.Count;
                    j.Done.SetResult(all.Where(c => c.PromptIndex >= offset && c.PromptIndex < offset + count)
                        .Select(c => c with { PromptIndex = c.PromptIndex - offset }).ToList());
                    offset += count;
                }
            }
            catch (Exception e) { foreach (var j in members) j.Done.TrySetException(e); }
        }
    }

    static string Key(GenerationRequest r) => string.Join("|", r.N, r.Sampling.Temperature, r.Sampling.TopP, r.Sampling.TopK,
        r.Sampling.MaxNewTokens, r.Sampling.MinNewTokens, r.Sampling.StopTokenIds is { } s ? string.Join(",", s) : "default");

    static async Task<JsonObject> Body(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        return JsonNode.Parse(await reader.ReadToEndAsync()) as JsonObject ?? throw new ArgumentException("the request body must be a JSON object");
    }

    static Task Error(HttpListenerContext context, int status, string message) => Reply(context, status, new JsonObject
    {
        ["object"] = "error", ["message"] = message, ["type"] = status == 404 ? "NotFoundError" : status == 400 ? "BadRequestError" : "InternalServerError", ["code"] = status,
    });

    static async Task Reply(HttpListenerContext context, int status, JsonNode? body)
    {
        try
        {
            context.Response.StatusCode = status;
            var bytes = body is null ? [] : Encoding.UTF8.GetBytes(body.ToJsonString(JsonText.Options));
            if (body is not null) context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException) { }
    }

    public void Dispose() => listener.Close();
}
