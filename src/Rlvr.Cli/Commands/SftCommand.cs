using System.CommandLine;
using Rlvr.Training;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr sft</c>: one option per <see cref="SftConfig"/> property, plus <c>--config FILE</c> (flags override
/// the file) and <c>--resume RUN_DIR</c>, like <c>rlvr train</c>.</summary>
public static class SftCommand
{
    public static Command Create()
    {
        var cmd = new Command("sft", "Supervised fine-tuning on (problem, worked solution) pairs: the loss on the response tokens only, AdamW with warmup and cosine decay, periodic pass@1 by sampling and the verifier.");
        var configFile = new Option<string?>("--config") { Description = "JSON config file with any of the options below (snake_case or dashed keys); flags given here override it" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint (its saved config is used; flags given here override it)" };
        cmd.Options.Add(configFile);
        cmd.Options.Add(resume);
        var options = new ConfigOptions<SftConfig>(cmd, _ => true);
        cmd.SetAction(parse =>
        {
            var resumeDir = parse.GetValue(resume);
            var file = parse.GetValue(configFile);
            SftConfig config;
            try
            {
                config = resumeDir is not null ? ConfigSchema.Load<SftConfig>(Path.Combine(resumeDir, Trainer.ConfigFile))
                    : file is not null ? ConfigSchema.Load<SftConfig>(file) : new SftConfig();
            }
            catch (InvalidDataException e) { throw new CliException(e.Message); }
            options.Apply(parse, config);
            if (resumeDir is not null) config.Out = resumeDir;
            try { config.Validate(); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            SftTrainer.Run(config, resume: resumeDir is not null, Console.Out);
            return 0;
        });
        return cmd;
    }
}
