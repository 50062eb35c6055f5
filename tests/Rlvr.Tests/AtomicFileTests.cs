namespace Rlvr.Tests;

public class AtomicFileTests
{
    [Fact]
    public void WritesWholeContentCreatesFoldersAndLeavesNoTemporaryFile()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "a", "b");
        var path = Path.Combine(dir, "summary.json");
        AtomicFile.WriteAllText(path, "old");
        var text = new string('x', 1 << 20) + "é";
        AtomicFile.WriteAllText(path, text);
        Assert.Equal(text, File.ReadAllText(path));
        Assert.Equal(["summary.json"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.False(File.ReadAllBytes(path).AsSpan().StartsWith(new byte[] { 0xEF, 0xBB, 0xBF })); // no BOM
    }

    [Fact]
    public void AFailedWriteLeavesTheOldContentAndNoTemporaryFile()
    {
        var dir = Fixtures.TempDir();
        // The target is a non-empty folder: the rename must fail after the temporary file was written.
        var target = Path.Combine(dir, "config.json");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep"), "old");
        Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllText(target, "new"));
        Assert.Equal("old", File.ReadAllText(Path.Combine(target, "keep")));
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void AStreamedFileAppearsOnlyOnCommit()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "out.jsonl");
        File.WriteAllText(path, "old");
        using (var file = AtomicFile.Create(path))
        {
            file.Stream.Write("{\"a\": 1}\n"u8);
            Assert.Equal("old", File.ReadAllText(path));      // written, not committed: readers see the old file
            file.Commit();
        }
        Assert.Equal("{\"a\": 1}\n", File.ReadAllText(path));

        using (var abandoned = AtomicFile.Create(path)) abandoned.Stream.Write("half"u8);   // disposed without a commit
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half"u8);
            throw new InvalidOperationException("the writer failed");
        }));
        Assert.Equal("{\"a\": 1}\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir));
    }
}
