using System.CommandLine;
using Rlvr.Cli.Commands;

namespace Rlvr.Cli;

/// <summary>The rlvr command line: its commands, run through <see cref="CliErrors"/> (tests call it in-process).</summary>
public static class Cli
{
    public static RootCommand Create()
    {
        var root = new RootCommand("rlvr: reinforcement learning from verifiable rewards for small language models (Qwen2) on MATH.");
        // One line per command; each command lives in Commands/.
        root.Subcommands.Add(SmokeCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(InitModelCommand.Create());
        root.Subcommands.Add(MergeAdapterCommand.Create());
        root.Subcommands.Add(TrainTokenizerCommand.Create());
        root.Subcommands.Add(LogprobsCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(GradeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(SftCommand.Create());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        return root;
    }

    /// <summary>Runs the command line; returns the exit code (0, or 1 after one line on stderr).</summary>
    public static int Run(string[] args) => CliErrors.Run(Create(), args);
}
