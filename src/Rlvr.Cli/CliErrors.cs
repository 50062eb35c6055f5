namespace Rlvr.Cli;

/// <summary>An error in what the user gave (file, line, option); printed without a stack trace.</summary>
public sealed class CliException(string message, Exception? inner = null) : Exception(message, inner);

public static class CliErrors
{
    /// <summary>Runs the command line; user errors become one line on stderr and exit code 1.</summary>
    public static int Run(Func<int> main)
    {
        try { return main(); }
        catch (Exception e) when (e is CliException or IOException or InvalidDataException or FormatException)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
