namespace Rlvr.Tests;

public class JsonTextTests
{
    static string Write(string text)
    {
        var path = Path.Combine(Fixtures.TempDir(), "config.json");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadsAnObjectFile()
    {
        var obj = JsonText.ReadObject(Write("""{"hidden_size": 896, "tie_word_embeddings": true}"""));
        Assert.Equal(896, (int)obj["hidden_size"]!);
        Assert.True((bool)obj["tie_word_embeddings"]!);
    }

    [Theory]
    [InlineData("""{"hidden_size": 896,""", "malformed JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("null", "expected a JSON object")]
    public void AnythingElseNamesTheFile(string text, string problem)
    {
        var path = Write(text);
        var e = Assert.Throws<InvalidDataException>(() => JsonText.ReadObject(path));
        Assert.StartsWith($"{path}: {problem}", e.Message);
    }

    [Fact]
    public void WrittenTextKeepsLatexAndNonAsciiReadable()
    {
        var node = new System.Text.Json.Nodes.JsonObject { ["answer"] = "\\frac{1}{2} < π" };
        Assert.Equal("""{"answer":"\\frac{1}{2} < π"}""", node.ToJsonString(JsonText.Options));
    }
}
