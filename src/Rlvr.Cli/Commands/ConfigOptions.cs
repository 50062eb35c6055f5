using System.CommandLine;
using System.Reflection;
using Rlvr.Training;

namespace Rlvr.Cli.Commands;

/// <summary>
/// One command-line option per option property of a config class (<see cref="ConfigSchema"/>: name and help text
/// from there): <see cref="TrainConfig"/> for <c>rlvr train</c> and <c>rlvr sweep</c>, so both accept every training
/// option the same way, and <see cref="SftConfig"/> for <c>rlvr sft</c>.
/// </summary>
public sealed class ConfigOptions<TConfig> where TConfig : new()
{
    readonly List<(PropertyInfo Property, Option Option)> options;

    /// <summary>Adds an option to <paramref name="command"/> for each option property that <paramref name="include"/> accepts.</summary>
    public ConfigOptions(Command command, Func<PropertyInfo, bool> include)
    {
        options = ConfigSchema.Options(typeof(TConfig)).Where(include).Select(p => (p, TypedOption(p))).ToList();
        foreach (var (_, option) in options) command.Options.Add(option);
    }

    /// <summary>Hides the options of these properties from the help (a command that accepts them only to reject them with a clear message).</summary>
    public void Hide(IEnumerable<PropertyInfo> properties)
    {
        foreach (var (property, option) in options)
            if (properties.Contains(property)) option.Hidden = true;
    }

    /// <summary>The properties whose flag was given on the command line.</summary>
    public IEnumerable<PropertyInfo> Given(ParseResult parse) =>
        options.Where(o => parse.GetResult(o.Option) is { Implicit: false }).Select(o => o.Property);

    /// <summary>Sets the properties whose flag was given; the others keep the config's value (defaults or a config file).</summary>
    public void Apply(ParseResult parse, TConfig config)
    {
        foreach (var (property, option) in options)
            if (parse.GetResult(option) is { Implicit: false } result)
                property.SetValue(config, result.GetValueOrDefault<object?>());
    }

    /// <summary>An option of the property's type (nullable, so an absent flag leaves the config's value).</summary>
    static Option TypedOption(PropertyInfo property)
    {
        var name = ConfigSchema.Flag(property);
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        Option option = type == typeof(int) ? new Option<int?>(name)
            : type == typeof(double) ? new Option<double?>(name)
            : type == typeof(bool) ? new Option<bool?>(name)
            : new Option<string?>(name);
        // Options without a value by default say what stands in for it in their own text.
        var text = ConfigSchema.Description(property);
        option.Description = DefaultText(property) is { } d ? $"{text} (default: {d})" : text;
        return option;
    }

    static string? DefaultText(PropertyInfo property) => property.GetValue(new TConfig()) switch
    {
        null => null,
        bool b => b ? "true" : "false",
        double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
        string s when s.Length == 0 => "required",
        var v => v.ToString()!,
    };
}
