using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Rlvr.Rollouts;

/// <summary>
/// How a server is told to serve the weights of an HF folder the trainer has just written. One class per mechanism, so
/// another one (LoRA adapters through vLLM's <c>/v1/load_lora_adapter</c>, a restart) is a new class, not a trainer change.
/// </summary>
public interface IWeightLoader
{
    string Name { get; }

    /// <summary>Makes <paramref name="server"/> serve the weights in <paramref name="folder"/>; returns when they are loaded.
    /// <see cref="HttpRequestException"/> when the server cannot be reached, <see cref="InvalidOperationException"/> when it refuses.</summary>
    Task LoadAsync(HttpClient http, string server, string folder, CancellationToken cancel);

    /// <summary>The folder the server reports it serves, or null when it reports none (then only the probe checks it).</summary>
    Task<string?> ServedFolderAsync(HttpClient http, string server, CancellationToken cancel);

    public static IWeightLoader Parse(string name) => name switch
    {
        "disk" => DiskReload.Instance,
        "none" => NoWeightSync.Instance,
        _ => throw new ArgumentException($"weight sync '{name}' is not disk or none"),
    };
}

/// <summary>SGLang's <c>POST /update_weights_from_disk {"model_path"}</c> (also served by <c>rlvr serve</c>); the served folder is
/// <c>model_path</c> of <c>GET /get_model_info</c>.</summary>
public sealed class DiskReload : IWeightLoader
{
    public static readonly DiskReload Instance = new();
    public string Name => "disk";

    public async Task LoadAsync(HttpClient http, string server, string folder, CancellationToken cancel)
    {
        using var response = await http.PostAsJsonAsync(server + "/update_weights_from_disk",
            new JsonObject { ["model_path"] = folder, ["load_format"] = null }, cancel);
        var text = await response.Content.ReadAsStringAsync(cancel);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new InvalidOperationException($"{server} has no /update_weights_from_disk (a vLLM server? see docs/scale-out.md, 'Weight sync')");
        JsonNode? body = null;
        try { body = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
        if (!response.IsSuccessStatusCode || body?["success"]?.GetValue<bool>() != true)
            throw new InvalidOperationException($"{server} did not load {folder}: HTTP {(int)response.StatusCode} {Shorten(text)}");
    }

    public async Task<string?> ServedFolderAsync(HttpClient http, string server, CancellationToken cancel)
    {
        using var response = await http.GetAsync(server + "/get_model_info", cancel);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancel))?["model_path"]?.GetValue<string>();
    }

    internal static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "...";
}

/// <summary>No weight sync: the servers keep what they were started with. Only for sampling a fixed model (evaluation);
/// in training the staleness probe refuses the rollouts as soon as the trainer's weights have moved.</summary>
public sealed class NoWeightSync : IWeightLoader
{
    public static readonly NoWeightSync Instance = new();
    public string Name => "none";
    public Task LoadAsync(HttpClient http, string server, string folder, CancellationToken cancel) => Task.CompletedTask;
    public Task<string?> ServedFolderAsync(HttpClient http, string server, CancellationToken cancel) => Task.FromResult<string?>(null);
}
