using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace Rlvr.Training;

/// <summary>Describes one option of a run config (<see cref="TrainConfig"/>, <see cref="SftConfig"/>): its help text.
/// The option's name in config files is the property name in snake_case, and on the command line the same
/// with dashes (rollout_batch_size, --rollout-batch-size).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class TrainOptionAttribute(string description) : Attribute
{
    public string Description => description;
}

/// <summary>The options of a config class (its properties marked <see cref="TrainOptionAttribute"/>): names,
/// flags, help texts and the JSON config-file reader, shared by every command built on such a class.</summary>
public static class ConfigSchema
{
    static readonly ConcurrentDictionary<Type, IReadOnlyList<PropertyInfo>> OptionsByType = new();

    /// <summary>The options of <paramref name="configType"/>, in declaration order.</summary>
    public static IReadOnlyList<PropertyInfo> Options(Type configType) => OptionsByType.GetOrAdd(configType,
        t => t.GetProperties().Where(p => p.GetCustomAttribute<TrainOptionAttribute>() != null).ToArray());

    /// <summary>The option's key in config files (snake_case).</summary>
    public static string Key(PropertyInfo option) => JsonNamingPolicy.SnakeCaseLower.ConvertName(option.Name);

    /// <summary>The option's command-line flag (--kebab-case).</summary>
    public static string Flag(PropertyInfo option) => "--" + Key(option).Replace('_', '-');

    /// <summary>The option's help text, with the registered names of objectives, loss aggregations and unused modes filled in
    /// for the placeholders {objectives}, {loss_aggs} and {unused}.</summary>
    public static string Description(PropertyInfo option) => option.GetCustomAttribute<TrainOptionAttribute>()!.Description
        .Replace("{objectives}", string.Join(", ", Objectives.Names))
        .Replace("{loss_aggs}", string.Join(", ", PolicyLoss.AggregationNames))
        .Replace("{unused}", string.Join(", ", PolicyLoss.UnusedNames));

    /// <summary>Reads a JSON config file; keys are option names in snake_case (dashes also accepted). Unknown keys and wrong types are errors naming the file and key.</summary>
    public static T Load<T>(string path) where T : new()
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found");
        var obj = JsonText.ReadObject(path);
        var config = new T();
        var options = Options(typeof(T));
        foreach (var (key, value) in obj)
        {
            var option = options.FirstOrDefault(o => Key(o) == key.Replace('-', '_'))
                ?? throw new InvalidDataException($"{path}: unknown option '{key}' (known: {string.Join(", ", options.Select(Key))})");
            try { option.SetValue(config, value?.Deserialize(option.PropertyType)); }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                throw new InvalidDataException($"{path}: option '{key}' expects {TypeName(option.PropertyType)}, got {value?.ToJsonString() ?? "null"}");
            }
        }
        return config;
    }

    /// <summary>A comma-separated list of k (of pass@k): positive whole numbers; the message names the option's key.</summary>
    public static IReadOnlyList<int> Ks(string list, string key) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(k => int.TryParse(k, out var v) && v > 0 ? v : throw new ArgumentException($"{key}: '{k}' is not a positive whole number")).ToArray();

    static string TypeName(Type t) => (Nullable.GetUnderlyingType(t) ?? t) switch
    {
        var x when x == typeof(int) => "an integer",
        var x when x == typeof(double) => "a number",
        var x when x == typeof(bool) => "true or false",
        _ => "a string",
    };
}
