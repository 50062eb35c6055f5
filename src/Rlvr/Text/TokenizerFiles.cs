using System.Text.Json;

namespace Rlvr.Text;

/// <summary>What a byte-level BPE tokenizer is made of, as read from a model folder.</summary>
/// <param name="Vocab">BPE vocabulary: byte-level strings to ids (Qwen2.5: 151,643 entries).</param>
/// <param name="Merges">Merge rules "a b", highest priority first.</param>
/// <param name="SplitPattern">The pre-tokenizer regex that cuts normalized text into words before BPE.</param>
/// <param name="Nfc">Whether text is NFC-normalized before pre-tokenization.</param>
/// <param name="Source">The file(s) it came from, for messages.</param>
internal sealed record TokenizerDefinition(
    IReadOnlyDictionary<string, int> Vocab, IReadOnlyList<string> Merges, IReadOnlyList<AddedToken> AddedTokens,
    string SplitPattern, bool Nfc, string Source);

/// <summary>
/// Reads a tokenizer from a model folder: <c>tokenizer.json</c> (HuggingFace tokenizers format), or else the
/// "slow" files <c>vocab.json</c> + <c>merges.txt</c> with added tokens from <c>tokenizer_config.json</c> /
/// <c>added_tokens.json</c>. Only byte-level BPE of the GPT-2/Qwen2 kind is accepted; anything else is
/// rejected naming the file and the setting.
/// </summary>
internal static class TokenizerFiles
{
    /// <summary>Qwen2's pre-tokenizer regex (tokenizer.json's Split pattern; Qwen2Tokenizer's PRETOKENIZE_REGEX).</summary>
    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2's regex, used by a ByteLevel pre-tokenizer with use_regex=true.</summary>
    const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static TokenizerDefinition Read(string modelDir)
    {
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"{modelDir}: folder not found (expected a model or tokenizer folder)");
        var json = Path.Combine(modelDir, "tokenizer.json");
        if (File.Exists(json)) return ReadTokenizerJson(json);
        var vocab = Path.Combine(modelDir, "vocab.json");
        var merges = Path.Combine(modelDir, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges)) return ReadVocabAndMerges(modelDir, vocab, merges);
        throw new FileNotFoundException(
            $"{modelDir}: no tokenizer found: looked for tokenizer.json, or vocab.json + merges.txt (with tokenizer_config.json or added_tokens.json)");
    }

    static TokenizerDefinition ReadTokenizerJson(string path)
    {
        using var doc = ParseJson(path);
        var root = doc.RootElement;
        var nfc = ReadNormalizer(path, root.GetPropertyOrNull("normalizer"));
        var pattern = ReadPreTokenizer(path, root.GetPropertyOrNull("pre_tokenizer"));
        var decoder = root.GetPropertyOrNull("decoder");
        if (decoder != null && TypeOf(decoder.Value) != "ByteLevel")
            throw Unsupported(path, "decoder", TypeOf(decoder.Value), "ByteLevel");

        var model = root.GetPropertyOrNull("model") ?? throw new InvalidDataException($"{path}: no \"model\"");
        if (TypeOf(model) is var type and not ("BPE" or null)) throw Unsupported(path, "model.type", type, "BPE");
        foreach (var (key, allowed) in new[] { ("continuing_subword_prefix", ""), ("end_of_word_suffix", "") })
            if (model.GetPropertyOrNull(key) is { ValueKind: JsonValueKind.String } v && v.GetString() != allowed)
                throw Unsupported(path, "model." + key, v.GetString(), "empty");
        foreach (var key in new[] { "byte_fallback", "ignore_merges" })
            if (model.GetPropertyOrNull(key) is { ValueKind: JsonValueKind.True })
                throw Unsupported(path, "model." + key, "true", "false");
        if (model.GetPropertyOrNull("dropout") is { ValueKind: JsonValueKind.Number })
            throw Unsupported(path, "model.dropout", "a number", "null");

        var vocabElement = model.GetPropertyOrNull("vocab") ?? throw new InvalidDataException($"{path}: no model.vocab");
        var vocab = new Dictionary<string, int>(vocabElement.EnumerateObject().Count());
        foreach (var p in vocabElement.EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();

        var merges = new List<string>();
        if (model.GetPropertyOrNull("merges") is { } mergesElement)
            foreach (var m in mergesElement.EnumerateArray())
                merges.Add(m.ValueKind == JsonValueKind.String ? m.GetString()! : MergeFromPair(path, m));

        var added = new List<AddedToken>();
        if (root.GetPropertyOrNull("added_tokens") is { ValueKind: JsonValueKind.Array } addedElement)
            foreach (var t in addedElement.EnumerateArray())
                added.Add(new AddedToken(t.GetProperty("id").GetInt32(), t.GetProperty("content").GetString()!,
                    Flag(t, "special"), Flag(t, "normalized"), Flag(t, "lstrip"), Flag(t, "rstrip"), Flag(t, "single_word")));
        return new TokenizerDefinition(vocab, merges, added, pattern, nfc, path);
    }

    /// <summary>Newer tokenizer.json files write a merge as ["a", "b"] instead of "a b".</summary>
    static string MergeFromPair(string path, JsonElement pair)
    {
        if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2)
            throw new InvalidDataException($"{path}: a merge must be \"a b\" or [\"a\", \"b\"], got {pair.GetRawText()}");
        var a = pair[0].GetString()!;
        var b = pair[1].GetString()!;
        if (a.Contains(' ') || b.Contains(' '))
            throw new InvalidDataException($"{path}: merge {pair.GetRawText()} has a space inside a token (not byte-level BPE)");
        return a + " " + b;
    }

    static bool ReadNormalizer(string path, JsonElement? normalizer)
    {
        if (normalizer == null) return false;
        var type = TypeOf(normalizer.Value);
        if (type == "NFC") return true;
        if (type == "Sequence" && normalizer.Value.GetProperty("normalizers").EnumerateArray().ToList() is var parts)
        {
            if (parts.Count == 0) return false;
            if (parts.Count == 1) return ReadNormalizer(path, parts[0]);
        }
        throw Unsupported(path, "normalizer", type, "NFC or none");
    }

    static string ReadPreTokenizer(string path, JsonElement? pre)
    {
        var parts = pre == null ? []
            : TypeOf(pre.Value) == "Sequence" ? pre.Value.GetProperty("pretokenizers").EnumerateArray().ToList()
            : [pre.Value];
        string? pattern = null;
        foreach (var p in parts)
        {
            switch (TypeOf(p))
            {
                case "Split" when pattern == null:
                    if (p.GetPropertyOrNull("behavior")?.GetString() != "Isolated" || Flag(p, "invert"))
                        throw Unsupported(path, "pre_tokenizer Split behavior", p.GetPropertyOrNull("behavior")?.GetString(), "Isolated, invert false");
                    var pat = p.GetProperty("pattern");
                    pattern = pat.GetPropertyOrNull("Regex")?.GetString()
                        ?? System.Text.RegularExpressions.Regex.Escape(pat.GetProperty("String").GetString()!);
                    break;
                case "ByteLevel":
                    if (Flag(p, "add_prefix_space")) throw Unsupported(path, "pre_tokenizer ByteLevel add_prefix_space", "true", "false");
                    if (p.GetPropertyOrNull("use_regex") is not { ValueKind: JsonValueKind.False })
                        pattern = pattern == null ? Gpt2Pattern : throw Unsupported(path, "pre_tokenizer", "Split followed by ByteLevel(use_regex=true)", "one regex");
                    break;
                default:
                    throw Unsupported(path, "pre_tokenizer", TypeOf(p), "Split(regex, Isolated) + ByteLevel, or ByteLevel");
            }
        }
        return pattern ?? throw new InvalidDataException($"{path}: no pre-tokenizer regex (rlvr supports byte-level BPE with a Split regex, as in Qwen2)");
    }

    static TokenizerDefinition ReadVocabAndMerges(string dir, string vocabPath, string mergesPath)
    {
        Dictionary<string, int> vocab;
        using (var stream = File.OpenRead(vocabPath))
        {
            try { vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(stream) ?? []; }
            catch (JsonException e) { throw new InvalidDataException($"{vocabPath}: not a JSON object of token -> id: {e.Message}"); }
        }
        // As Qwen2Tokenizer: skip a "#version" first line and blank lines.
        var merges = new List<string>();
        var lineNo = 0;
        foreach (var raw in File.ReadLines(mergesPath))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || lineNo == 1 && line.StartsWith("#version")) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) throw new InvalidDataException($"{mergesPath}:{lineNo}: expected two tokens separated by a space, got \"{line}\"");
            merges.Add(parts[0] + " " + parts[1]);
        }
        var source = $"{vocabPath} + {mergesPath}";
        return new TokenizerDefinition(vocab, merges, ReadSlowAddedTokens(dir), Qwen2Pattern, Nfc: true, source);
    }

    /// <summary>
    /// Added tokens of a folder without tokenizer.json: tokenizer_config.json's added_tokens_decoder (with flags),
    /// then any others in added_tokens.json. The latter carry no flags: as transformers does, a token named among
    /// the special tokens (eos_token, pad_token, additional_special_tokens, ...) is special and matched in raw
    /// text; the others are matched after normalization.
    /// </summary>
    static List<AddedToken> ReadSlowAddedTokens(string dir)
    {
        var byId = new SortedDictionary<int, AddedToken>();
        var specialNames = new HashSet<string>();
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            using var doc = ParseJson(path);
            CollectSpecialNames(doc.RootElement, specialNames);
            if (doc.RootElement.GetPropertyOrNull("added_tokens_decoder") is { ValueKind: JsonValueKind.Object } decoder)
                foreach (var p in decoder.EnumerateObject())
                {
                    if (!int.TryParse(p.Name, out var id)) throw new InvalidDataException($"{path}: added_tokens_decoder key \"{p.Name}\" is not an id");
                    var t = p.Value;
                    byId[id] = new AddedToken(id, t.GetProperty("content").GetString()!, Flag(t, "special"),
                        Flag(t, "normalized"), Flag(t, "lstrip"), Flag(t, "rstrip"), Flag(t, "single_word"));
                }
        }
        var addedPath = Path.Combine(dir, "added_tokens.json");
        if (File.Exists(addedPath))
        {
            using var doc = ParseJson(addedPath);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var id = p.Value.GetInt32();
                if (byId.ContainsKey(id)) continue;
                var special = specialNames.Contains(p.Name);
                byId[id] = new AddedToken(id, p.Name, special, Normalized: !special);
            }
        }
        return [.. byId.Values];
    }

    static void CollectSpecialNames(JsonElement config, HashSet<string> names)
    {
        foreach (var key in new[] { "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token" })
            if (config.GetPropertyOrNull(key) is { } v && TokenContent(v) is { } s) names.Add(s);
        if (config.GetPropertyOrNull("additional_special_tokens") is { ValueKind: JsonValueKind.Array } list)
            foreach (var v in list.EnumerateArray())
                if (TokenContent(v) is { } s) names.Add(s);
    }

    /// <summary>A special-token entry of a tokenizer config: a string, or an AddedToken object with "content".</summary>
    internal static string? TokenContent(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Object => v.GetPropertyOrNull("content")?.GetString(),
        _ => null,
    };

    internal static JsonDocument ParseJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed JSON: {e.Message}"); }
    }

    static string? TypeOf(JsonElement e) => e.GetPropertyOrNull("type")?.GetString();

    static bool Flag(JsonElement e, string name) => e.GetPropertyOrNull(name) is { ValueKind: JsonValueKind.True };

    static InvalidDataException Unsupported(string path, string what, string? value, string supported) =>
        new($"{path}: {what} \"{value}\" is not supported (rlvr reads byte-level BPE tokenizers like Qwen2's: {supported})");

    internal static JsonElement? GetPropertyOrNull(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
}
