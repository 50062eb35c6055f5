using System.CommandLine;
using Rlvr.Cli;
using Rlvr.Cli.Commands;

// Before any torch call: MKL and glibc read their settings once.
Rlvr.Model.NativeRuntime.Configure();

var root = new RootCommand("rlvr: reinforcement learning from verifiable rewards for small language models (Qwen2) on MATH.");
// One line per command; each command lives in Commands/.
root.Subcommands.Add(SmokeCommand.Create());
root.Subcommands.Add(DataCommand.Create());
root.Subcommands.Add(ReportCommand.Create());
root.Subcommands.Add(InitModelCommand.Create());
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

// Exceptions reach CliErrors (one clean line for user errors) instead of System.CommandLine's handler.
return CliErrors.Run(() => root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
