using System.CommandLine;
using Rlvr.Training;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr train</c>: one option per <see cref="TrainConfig"/> property (<see cref="ConfigOptions{TConfig}"/>),
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
        var options = new ConfigOptions<TrainConfig>(cmd, _ => true);

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
            options.Apply(parse, config);
            if (resumeDir is not null) config.Out = resumeDir;
            try { config.Validate(); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            Trainer.Run(config, resume: resumeDir is not null, Console.Out);
            return 0;
        });
        return cmd;
    }
}
