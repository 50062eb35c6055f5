using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Rlvr.Cli;

/// <summary>An error in what the user gave (file, line, option); printed without a stack trace.</summary>
public sealed class CliException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The one error path of the command line. Every failure a user can cause (a bad option, file, line or
/// tensor) ends with exit code 1 and one line <c>error: ...</c> on stderr naming the culprit; anything
/// else is a bug in rlvr: exit code 1, one line that says so, and the stack trace in a log file.
/// </summary>
public static partial class CliErrors
{
    /// <summary>Parses and runs <paramref name="args"/> against <paramref name="root"/>: parse errors (unknown options,
    /// values of the wrong type, values outside an option's range) are reported before the command runs, so before
    /// any file is written.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        ParseResult parse;
        try { parse = root.Parse(args); }
        catch (Exception e) { return Report(e); }
        if (parse.Errors.Count > 0)
        {
            // "Required command was not provided" comes with the more telling "Unrecognized command 'x'": name the culprit first.
            var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized")) ?? parse.Errors[0];
            var command = string.Join(' ', new[] { "rlvr" }.Concat(CommandPath(parse.CommandResult.Command).Skip(1)));
            Console.Error.WriteLine($"error: {Friendly(first.Message)} (see '{command} --help')");
            return 1;
        }
        // Help and version pages name the command the user types (rlvr), not the assembly (Rlvr.Cli).
        if (parse.Action is HelpAction || args.Contains("--version"))
        {
            var page = new StringWriter();
            int code = parse.Invoke(new InvocationConfiguration { Output = page });
            Console.Out.Write(Regex.Replace(page.ToString(), $@"(?m)^(\s+){Regex.Escape(root.Name)}(?=\s|$)", "$1rlvr"));
            return code;
        }
        return Run(() => parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }

    /// <summary>Runs <paramref name="main"/>; exceptions become one line on stderr and exit code 1.</summary>
    public static int Run(Func<int> main)
    {
        try { return main(); }
        catch (Exception e) { return Report(e); }
    }

    static IEnumerable<string> CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault()) names.Add(c.Name);
        names.Reverse();
        return names;
    }

    static int Report(Exception e)
    {
        Console.Out.Flush();
        if (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {UserMessage(e)}");
            return 1;
        }
        var log = WriteCrashLog(e);
        Console.Error.WriteLine($"internal error (a bug in rlvr, not in what you gave it): {e.GetType().Name}: {FirstLine(e.Message)}");
        Console.Error.WriteLine(log is null ? "(the stack trace could not be written to a log file)" : $"the stack trace is in {log}; please attach it to a bug report");
        return 1;
    }

    /// <summary>Errors a user can cause and fix: what they gave (options, files, data) or the machine (disk, permissions, memory).</summary>
    static bool IsUserError(Exception e) => e is CliException or IOException or InvalidDataException or FormatException
        or UnauthorizedAccessException or ArgumentException or OutOfMemoryException or NotSupportedException;

    static string UserMessage(Exception e) => e switch
    {
        UnauthorizedAccessException => $"permission denied: {e.Message}",
        OutOfMemoryException => "out of memory: use a smaller model, batch (--sampler-batch-size, --batch-size) or --micro-batch-tokens",
        IOException io when (io.HResult & 0xFFFF) == 28 => $"the disk is full: {e.Message}",   // ENOSPC
        _ => FirstLine(e.Message),
    };

    static string FirstLine(string message) => message.Split('\n')[0].TrimEnd();

    /// <summary>Writes the exception with its stack trace to a log file in the temp folder; null when that fails too.</summary>
    static string? WriteCrashLog(Exception e)
    {
        try
        {
            var path = Path.Combine(Path.GetTempPath(),
                $"rlvr-crash-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{Environment.ProcessId}.log");
            File.WriteAllText(path, $"rlvr {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}\n{DateTime.UtcNow:o}\n\n{e}\n");
            return path;
        }
        catch (Exception) { return null; }
    }

    /// <summary>System.CommandLine's messages with .NET type names replaced by what a user reads.</summary>
    internal static string Friendly(string message)
    {
        var m = CannotParse().Match(message);
        if (!m.Success) return message;
        var type = m.Groups["type"].Value;
        string expected = type.Contains("Int32") ? $"a whole number from {int.MinValue} to {int.MaxValue}"
            : type.Contains("Int64") ? "a whole number"
            : type.Contains("Double") || type.Contains("Single") ? "a number"
            : type.Contains("Boolean") ? "true or false"
            : "a valid value";
        return $"{m.Groups["option"].Value}: '{m.Groups["value"].Value}' is not {expected}";
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']*)' as expected type '(?<type>[^']*)'")]
    private static partial Regex CannotParse();
}
