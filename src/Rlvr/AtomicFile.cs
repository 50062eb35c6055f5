using System.Text;

namespace Rlvr;

/// <summary>
/// A file written so that a reader or a crash never sees half of it: the content goes to a temporary
/// file in the same folder (same file system, so the rename is atomic), is flushed to disk, then
/// renamed over the target by <see cref="Commit"/>. Disposed without a commit, the temporary file is
/// deleted and the target left as it was.
/// </summary>
/// <remarks>
/// Small whole files (configs, summaries, reports, plots) use <see cref="WriteAllText"/> /
/// <see cref="WriteAllBytes"/>; streamed ones (safetensors, JSONL output) <see cref="Write"/> or an
/// instance from <see cref="Create"/> when the writing spans several calls.
/// </remarks>
public sealed class AtomicFile : IDisposable
{
    static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    readonly string target;
    readonly string temporary;
    bool committed;

    /// <summary>The temporary file's stream: write the content here, then <see cref="Commit"/>.</summary>
    public FileStream Stream { get; }

    AtomicFile(string path)
    {
        target = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        // Hidden, unique name: two writers of the same target never share a temporary file.
        temporary = Path.Combine(dir, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try { Stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw NamingTarget(e); }
    }

    /// <summary>The error with the target's name where .NET names the temporary file, which the user never gave.</summary>
    Exception NamingTarget(Exception e) => e is UnauthorizedAccessException
        ? new UnauthorizedAccessException($"cannot write {target}: {e.Message.Replace(temporary, target)}", e)
        : new IOException($"cannot write {target}: {e.Message.Replace(temporary, target)}", e) { HResult = e.HResult };

    /// <summary>Starts writing <paramref name="path"/> (its folder is created if missing).</summary>
    public static AtomicFile Create(string path) => new(path);

    /// <summary>Flushes the content to disk and renames it over the target.</summary>
    public void Commit()
    {
        Stream.Flush(flushToDisk: true);
        Stream.Dispose();
        File.Move(temporary, target, overwrite: true);
        committed = true;
    }

    public void Dispose()
    {
        Stream.Dispose();
        if (!committed && File.Exists(temporary)) File.Delete(temporary);
    }

    /// <summary>Writes <paramref name="path"/> with what <paramref name="write"/> puts in the stream; on an exception the target is untouched.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var file = Create(path);
        try
        {
            write(file.Stream);
            file.Commit();
        }
        catch (IOException e) { throw file.NamingTarget(e); }   // a full disk, a file system that refuses the rename
    }

    /// <summary>UTF-8 without a byte order mark.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Utf8NoBom.GetBytes(text));

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));
}
