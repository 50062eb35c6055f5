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
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last complete checkpoint (its saved config is used; flags given here override it, and the override is recorded in the run folder's config.json and overrides.jsonl)" };
        cmd.Options.Add(configFile);
        cmd.Options.Add(resume);
        var options = new ConfigOptions<TrainConfig>(cmd, _ => true);

        cmd.SetAction(parse =>
        {
            var resumeDir = parse.GetValue(resume);
            var file = parse.GetValue(configFile);
            if (resumeDir is not null)
            {
                // A run continues in its own folder; forking it into another one would leave two runs sharing checkpoints.
                if (options.Given(parse).Any(p => p.Name == nameof(TrainConfig.Out)) && Path.GetFullPath(parse.GetValue<string?>("--out")!).TrimEnd('/') != Path.GetFullPath(resumeDir).TrimEnd('/'))
                    throw new CliException($"--out {parse.GetValue<string?>("--out")}: --resume continues the run in its own folder ({resumeDir}); drop --out, or copy the run folder and resume the copy");
                Training.RunOutput.CheckResumable(resumeDir);
            }
            var config = resumeDir is not null ? TrainConfig.Load(Path.Combine(resumeDir, Trainer.ConfigFile))
                : file is not null ? TrainConfig.Load(file) : new TrainConfig();
            options.Apply(parse, config);
            if (resumeDir is not null) config.Out = resumeDir;
            config.Validate();
            Trainer.Run(config, resume: resumeDir is not null, Console.Out, label => new Rlvr.Generation.ConsoleProgress(label));
            return 0;
        });
        return cmd;
    }
}
