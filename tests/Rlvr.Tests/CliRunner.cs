using System.Diagnostics;

namespace Rlvr.Tests;

/// <summary>Runs the rlvr command line in a child process, as a user or a script would.</summary>
public static class CliRunner
{
    static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "Rlvr.Cli.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result RunWithInput(string? stdin, params string[] args) => RunWith(stdin, new Dictionary<string, string>(), args);

    /// <summary>Runs with these environment variables set (on top of this process's).</summary>
    public static Result RunWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args) => RunWith(null, environment, args);

    static Result RunWith(string? stdin, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin != null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>
    /// Starts the command and kills it (with its child processes) as soon as <paramref name="marker"/> exists,
    /// or lets it finish if it is faster; true when the marker appeared. For interrupted-run tests.
    /// </summary>
    public static bool RunUntilFileExists(string marker, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (!File.Exists(marker) && !p.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(20);
        if (!p.HasExited) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        return File.Exists(marker);
    }
}

/// <summary>Paths to the test fixtures copied into the repository.</summary>
public static class Fixtures
{
    /// <summary>The repository root (tests run from its bin folders).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string TinyQwen2 => Path.Combine(RepoRoot, "tests", "fixtures", "tiny-qwen2");

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rlvr.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root (Rlvr.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A fresh empty folder under the system temp folder.</summary>
    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "rlvr-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(d);
        return d;
    }
}
