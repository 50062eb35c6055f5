namespace Rlvr.Tests;

public class SmokeTests
{
    [Fact]
    public void Torch_loads_in_the_cli_and_assets_are_found()
    {
        var r = CliRunner.Run("smoke");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("torch ok", r.Stdout);
    }

    [Fact]
    public void Unknown_command_fails()
    {
        var r = CliRunner.Run("no-such-command");
        Assert.NotEqual(0, r.ExitCode);
    }
}
