using System.CommandLine;
using System.Reflection;
using Rlvr.Training;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr train</c>: one option per <see cref="TrainConfig"/> property (its help text and name come from there),
/// plus <c>--config FILE</c> (flags override the file) and <c>--resume RUN_DIR</c>.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "Train a model with PSR, NSR, W-REINFORCE, REINFORCE or GRPO on MATH (defaults: the small reference's settings).");
        var configFile = new Option<string?>("--config") { Description = "JSON config file with any of the options below (snake_case or dashed keys); flags given here override it" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last complete checkpoint (its saved config is used; flags given here override it)" };
        cmd.Options.Add(configFile);
        cmd.Options.Add(resume);
        var options = TrainConfig.Options.Select(p => (Property: p, Option: TypedOption(p))).ToList();
        foreach (var (_, option) in options) cmd.Options.Add(option);

        cmd.SetAction(parse =>
        {
            var resumeDir = parse.GetValue(resume);
            var file = parse.GetValue(configFile);
            TrainConfig config;
            try
            {
                config = resumeDir is not null ? TrainConfig.Load(Path.Combine(resumeDir, Trainer.ConfigFile))
                    : file is not null ? TrainConfig.Load(file) : new TrainConfig();
            }
            catch (InvalidDataException e) { throw new CliException(e.Message); }
            foreach (var (property, option) in options)
                if (parse.GetResult(option) is { Implicit: false } result)
                    property.SetValue(config, result.GetValueOrDefault<object?>());
            if (resumeDir is not null) config.Out = resumeDir;
            try { config.Validate(); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            Trainer.Run(config, resume: resumeDir is not null, Console.Out);
            return 0;
        });
        return cmd;
    }

    /// <summary>An option of the property's type (nullable, so an absent flag leaves the config's value).</summary>
    static Option TypedOption(PropertyInfo property)
    {
        var name = TrainConfig.Flag(property);
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        Option option = type == typeof(int) ? new Option<int?>(name)
            : type == typeof(double) ? new Option<double?>(name)
            : type == typeof(bool) ? new Option<bool?>(name)
            : new Option<string?>(name);
        option.Description = $"{TrainConfig.Description(property)} (default: {DefaultText(property)})";
        return option;
    }

    static string DefaultText(PropertyInfo property) => property.GetValue(new TrainConfig()) switch
    {
        null => "none",
        bool b => b ? "true" : "false",
        double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
        string s when s.Length == 0 => "required",
        var v => v.ToString()!,
    };
}
