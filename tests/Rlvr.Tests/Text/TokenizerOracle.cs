using System.Text.Json;
using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary>
/// The tokenizers under test, loaded once: rlvr's <see cref="QwenTokenizer"/> and the oracle, HuggingFace's own
/// Rust tokenizers (through Tokenizers.DotNet) reading the same tokenizer.json.
/// </summary>
public static class TokenizerOracle
{
    static readonly Lazy<QwenTokenizer> qwen = new(() => QwenTokenizer.Load(Rlvr.Assets.QwenTokenizerDir));
    static readonly Lazy<Tokenizers.DotNet.Tokenizer> hf = new(() =>
        new Tokenizers.DotNet.Tokenizer(vocabPath: Path.Combine(Rlvr.Assets.QwenTokenizerDir, "tokenizer.json")));
    static readonly object hfLock = new();

    public static QwenTokenizer Qwen => qwen.Value;

    /// <summary>HF's ids for <paramref name="text"/>.</summary>
    public static int[] HfEncode(string text)
    {
        lock (hfLock) return hf.Value.Encode(text).Select(i => (int)i).ToArray();
    }

    /// <summary>HF's decoding (it always leaves special tokens out).</summary>
    public static string HfDecode(IEnumerable<int> ids)
    {
        lock (hfLock) return hf.Value.Decode(ids.Select(i => (uint)i).ToArray());
    }

    /// <summary>Problems and solutions of the bundled MATH training subset.</summary>
    public static IEnumerable<string> MathTexts()
    {
        foreach (var line in File.ReadLines(Rlvr.Assets.Path("data", "math", "train.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            yield return doc.RootElement.GetProperty("problem").GetString()!;
            yield return doc.RootElement.GetProperty("solution").GetString()!;
        }
    }

    /// <summary>The first position where two id lists differ, for readable failures.</summary>
    public static string Diff(string text, IReadOnlyList<int> expected, IReadOnlyList<int> actual)
    {
        var i = 0;
        while (i < expected.Count && i < actual.Count && expected[i] == actual[i]) i++;
        return $"text {JsonSerializer.Serialize(text)}: first difference at token {i}: " +
               $"hf [{string.Join(",", expected.Skip(i).Take(8))}] rlvr [{string.Join(",", actual.Skip(i).Take(8))}]";
    }
}
