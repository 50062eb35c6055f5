using System.CommandLine;
using Rlvr.Cli;
using Rlvr.Cli.Commands;

var root = new RootCommand("rlvr: reinforcement learning from verifiable rewards for small language models (Qwen2) on MATH.");
// One line per command; each command lives in Commands/.
root.Subcommands.Add(SmokeCommand.Create());
root.Subcommands.Add(GradeCommand.Create());
root.Subcommands.Add(BenchCommand.Create());

return CliErrors.Run(() => root.Parse(args).Invoke());
