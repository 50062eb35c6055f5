using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Rlvr.Text;

/// <summary>
/// Qwen2/Qwen2.5's byte-level BPE tokenizer, giving the same ids as HuggingFace's tokenizers. Encoding follows
/// HF's pipeline: added tokens ("&lt;|im_end|&gt;", "&lt;tool_call&gt;", ...) are cut out of the raw text first; each
/// remaining piece is NFC-normalized, split by the pre-tokenizer regex, written in the byte-level alphabet
/// and merged by BPE. The BPE step is Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>; the added-token
/// split, the normalization and the decoder are here. Safe to use from several threads.
/// </summary>
public sealed class QwenTokenizer
{
    readonly BpeTokenizer bpe;
    readonly bool nfc;
    readonly AddedTokenMatcher rawTokens;        // matched before normalization
    readonly AddedTokenMatcher normalizedTokens; // matched in the normalized pieces
    readonly Dictionary<string, int> addedIds;
    readonly IReadOnlyDictionary<string, int> vocab;
    readonly byte[]?[] tokenBytes;   // id -> bytes it decodes to; null for ids with no token
    readonly bool[] isSpecial;

    /// <summary>Number of ids with a token: BPE vocabulary plus added tokens (Qwen2.5: 151,665; the model's embedding is padded to 151,936).</summary>
    public int VocabSize => tokenBytes.Length;

    /// <summary>Added tokens by id (Qwen2.5: 22, of which 14 are special).</summary>
    public IReadOnlyDictionary<int, AddedToken> AddedTokens { get; }

    /// <summary>Special tokens by id: the ones <c>Decode(..., skipSpecialTokens: true)</c> leaves out.</summary>
    public IReadOnlyDictionary<int, string> SpecialTokens { get; }

    /// <summary>Where the tokenizer was read from.</summary>
    public string Source { get; }

    QwenTokenizer(TokenizerDefinition def)
    {
        Source = def.Source;
        nfc = def.Nfc;
        vocab = def.Vocab;
        bpe = BpeTokenizer.Create(new BpeOptions(def.Vocab)
        {
            Merges = def.Merges,
            ByteLevel = true,
            PreTokenizer = def.SplitPattern == TokenizerFiles.Qwen2Pattern
                ? Qwen2PreTokenizer.Instance
                // Other patterns run on .NET's Regex, which classifies UTF-16 units: letters and digits outside the BMP can split differently from HF.
                : new RegexPreTokenizer(new Regex(def.SplitPattern, RegexOptions.Compiled), null),
        });
        rawTokens = new AddedTokenMatcher(def.AddedTokens.Where(t => !t.Normalized));
        normalizedTokens = new AddedTokenMatcher(def.AddedTokens.Where(t => t.Normalized));
        addedIds = def.AddedTokens.ToDictionary(t => t.Content, t => t.Id);
        AddedTokens = def.AddedTokens.ToDictionary(t => t.Id);
        SpecialTokens = def.AddedTokens.Where(t => t.Special).ToDictionary(t => t.Id, t => t.Content);

        var size = System.Math.Max(def.Vocab.Values.DefaultIfEmpty(-1).Max(), def.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max()) + 1;
        tokenBytes = new byte[size][];
        isSpecial = new bool[size];
        foreach (var (token, id) in def.Vocab) tokenBytes[id] = ByteLevel.BytesOf(token);
        foreach (var t in def.AddedTokens)
        {
            tokenBytes[t.Id] = ByteLevel.BytesOf(t.Content);
            isSpecial[t.Id] = t.Special;
        }
    }

    /// <summary>
    /// Reads the tokenizer of a model folder: <c>tokenizer.json</c>, or else <c>vocab.json</c> + <c>merges.txt</c>
    /// with added tokens from <c>tokenizer_config.json</c> / <c>added_tokens.json</c>.
    /// </summary>
    public static QwenTokenizer Load(string modelDir) => new(TokenizerFiles.Read(modelDir));

    /// <summary>The ids HuggingFace gives for <paramref name="text"/> (no BOS/EOS is added: Qwen adds none).</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        // .NET strings may hold lone surrogates, which UTF-8 (and HF, which takes UTF-8) cannot: they become U+FFFD.
        text = ReplaceLoneSurrogates(text);
        if (rawTokens.IsEmpty) { EncodeRawPiece(text, ids); return ids; }
        foreach (var (token, piece) in rawTokens.Split(text))
        {
            if (token != null) ids.Add(token.Id);
            else EncodeRawPiece(piece, ids);
        }
        return ids;
    }

    void EncodeRawPiece(string piece, List<int> ids)
    {
        if (nfc) piece = HfNfc.Normalize(piece);
        if (normalizedTokens.IsEmpty) { ids.AddRange(bpe.EncodeToIds(piece)); return; }
        foreach (var (token, sub) in normalizedTokens.Split(piece))
        {
            if (token != null) ids.Add(token.Id);
            else ids.AddRange(bpe.EncodeToIds(sub));
        }
    }

    /// <summary>
    /// The text of <paramref name="ids"/>, as HuggingFace decodes it: the bytes of all tokens joined and read as
    /// UTF-8, where an incomplete or invalid sequence (a partial completion cut inside a character) becomes
    /// U+FFFD. Ids with no token are dropped, as HF does.
    /// </summary>
    /// <param name="skipSpecialTokens">Leave out special tokens (&lt;|im_end|&gt;, &lt;|endoftext|&gt;, ...); non-special added tokens such as &lt;tool_call&gt; stay.</param>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if (id < 0) throw new ArgumentOutOfRangeException(nameof(ids), id, "token ids are never negative");
            if (id >= tokenBytes.Length || tokenBytes[id] is not { } b || skipSpecialTokens && isSpecial[id]) continue;
            bytes.AddRange(b);
        }
        // .NET's UTF-8 decoder replaces each maximal invalid subsequence by one U+FFFD, as Rust's from_utf8_lossy does.
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>The id of an added token ("&lt;|im_end|&gt;") or of a BPE vocabulary entry in byte-level form ("Ġthe"); null when there is none.</summary>
    public int? TokenId(string token) =>
        addedIds.TryGetValue(token, out var id) ? id : vocab.TryGetValue(token, out id) ? id : null;

    /// <summary>Whether <paramref name="id"/> is a special added token.</summary>
    public bool IsSpecial(int id) => id >= 0 && id < isSpecial.Length && isSpecial[id];

    internal static string ReplaceLoneSurrogates(string text)
    {
        var i = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0) return text;
        var chars = text.ToCharArray();
        for (; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) { i++; continue; }
            if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }
}
