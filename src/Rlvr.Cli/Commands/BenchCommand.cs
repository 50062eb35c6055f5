using System.CommandLine;

namespace Rlvr.Cli.Commands;

/// <summary><c>rlvr bench</c>: benchmarks, one subcommand per stage, each in its own Bench*.cs file.</summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks of rlvr's stages.")
    {
        BenchGrade.Create(),
        BenchTokenize.Create(),
        BenchGenerate.Create(),
        BenchTrain.Create(),
    };
}
