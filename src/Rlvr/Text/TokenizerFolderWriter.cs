using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlvr.Text;

/// <summary>
/// Writes a <see cref="TrainedBpe"/> as a HuggingFace tokenizer folder laid out like Qwen2.5's: <c>tokenizer.json</c>
/// (what <c>tokenizers</c> and rlvr read), <c>tokenizer_config.json</c> (what transformers' AutoTokenizer reads: added
/// tokens, eos/pad, the chat template) and the "slow" <c>vocab.json</c> + <c>merges.txt</c>. Every file is written
/// atomically; the same tokenizer always gives the same bytes.
/// </summary>
public static class TokenizerFolderWriter
{
    /// <summary>ChatML, as Qwen2.5's template without its default system prompt and tool branches: a conversation
    /// is rendered exactly as its messages say.</summary>
    public const string ChatMlTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>The files written, all of them in <see cref="Rlvr.Model.ModelFolder"/>'s list of tokenizer files.</summary>
    public static IReadOnlyList<string> Files { get; } = ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"];

    static readonly JsonSerializerOptions Indented = new(JsonText.Options) { WriteIndented = true };

    /// <param name="modelMaxLength">tokenizer_config.json's <c>model_max_length</c> (transformers warns above it; rlvr ignores it).</param>
    public static void Write(TrainedBpe bpe, string dir, int modelMaxLength = 32768)
    {
        AtomicFile.WriteAllText(Path.Combine(dir, "tokenizer.json"), TokenizerJson(bpe).ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), TokenizerConfig(bpe, modelMaxLength).ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(dir, "vocab.json"), Vocab(bpe).ToJsonString(JsonText.Options));
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in bpe.Merges) merges.Append(left).Append(' ').Append(right).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(dir, "merges.txt"), merges.ToString());
    }

    static JsonObject TokenizerJson(TrainedBpe bpe)
    {
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(bpe.AddedTokens.Select(t => (JsonNode)new JsonObject
            {
                ["id"] = t.Id, ["content"] = t.Content, ["single_word"] = t.SingleWord, ["lstrip"] = t.LStrip,
                ["rstrip"] = t.RStrip, ["normalized"] = t.Normalized, ["special"] = t.Special,
            }).ToArray()),
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = TokenizerFiles.Qwen2Pattern },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    byteLevel.DeepClone()),
            },
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "", ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = Vocab(bpe),
                ["merges"] = new JsonArray(bpe.Merges.Select(m => (JsonNode)JsonValue.Create(m.Left + " " + m.Right)).ToArray()),
            },
        };
    }

    static JsonObject Vocab(TrainedBpe bpe)
    {
        var vocab = new JsonObject();
        for (var id = 0; id < bpe.Tokens.Count; id++) vocab[bpe.Tokens[id]] = id;
        return vocab;
    }

    static JsonObject TokenizerConfig(TrainedBpe bpe, int modelMaxLength)
    {
        var decoder = new JsonObject();
        foreach (var t in bpe.AddedTokens)
            decoder[t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = t.Content, ["lstrip"] = t.LStrip, ["normalized"] = t.Normalized, ["rstrip"] = t.RStrip,
                ["single_word"] = t.SingleWord, ["special"] = t.Special,
            };
        return new JsonObject
        {
            ["add_bos_token"] = false,
            ["add_prefix_space"] = false,
            ["added_tokens_decoder"] = decoder,
            ["additional_special_tokens"] = new JsonArray("<|im_start|>", "<|im_end|>"),
            ["bos_token"] = null,
            ["chat_template"] = ChatMlTemplate,
            ["clean_up_tokenization_spaces"] = false,
            ["eos_token"] = "<|im_end|>",
            ["errors"] = "replace",
            ["model_max_length"] = modelMaxLength,
            ["pad_token"] = "<|endoftext|>",
            ["split_special_tokens"] = false,
            ["tokenizer_class"] = "Qwen2Tokenizer",
            ["unk_token"] = null,
        };
    }
}
