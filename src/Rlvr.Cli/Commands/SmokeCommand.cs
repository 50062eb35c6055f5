using System.CommandLine;
using TorchSharp;

namespace Rlvr.Cli.Commands;

/// <summary>Checks that the native torch library loads (the GLIBCXX fix) and the bundled assets are found.</summary>
public static class SmokeCommand
{
    public static Command Create()
    {
        var cmd = new Command("smoke", "Check that torch loads and the bundled assets are found.");
        cmd.SetAction(parse =>
        {
            using var a = torch.randn(64, 64);
            using var b = a.matmul(a);
            Console.WriteLine($"torch ok ({torch.get_num_threads()} threads), assets at {Assets.Root}");
            return 0;
        });
        return cmd;
    }
}
