using System.Text.Json;
using Rlvr.Text.Jinja;

namespace Rlvr.Text;

/// <summary>One turn of a conversation: role ("system", "user", "assistant") and text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A model's chat template: turns messages into the prompt text the model was trained on. Qwen2.5's is
/// ChatML (<c>&lt;|im_start|&gt;role\n...&lt;|im_end|&gt;\n</c>) with a default system prompt and
/// <c>&lt;|im_start|&gt;assistant\n</c> as generation prompt. Templates are Jinja, run by rlvr's own
/// interpreter of the subset chat templates use (<see cref="JinjaTemplate"/>). Tool calls are out of scope:
/// messages carry a role and text only, and no tools are passed.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The system prompt Qwen2.5's template adds when the messages have none.</summary>
    public const string QwenDefaultSystemPrompt = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    readonly JinjaTemplate template;
    readonly IReadOnlyDictionary<string, string> specialTokens;

    /// <summary>Where the template came from: a file, or "built-in Qwen2.5 chat template".</summary>
    public string Origin => template.Origin;

    ChatTemplate(JinjaTemplate template, IReadOnlyDictionary<string, string> specialTokens)
    {
        this.template = template;
        this.specialTokens = specialTokens;
    }

    /// <summary>Qwen2.5-Instruct's template (the <c>chat_template</c> of its tokenizer_config.json), with its eos and pad tokens.</summary>
    public static ChatTemplate Qwen25 { get; } = new(
        JinjaTemplate.Parse(Qwen25Source, "built-in Qwen2.5 chat template"),
        new Dictionary<string, string> { ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>" });

    /// <summary>
    /// The template of a model folder: <c>chat_template.jinja</c>, else the <c>chat_template</c> of
    /// <c>tokenizer_config.json</c> (a string, or the one named "default" of a list), else the built-in Qwen2.5 one.
    /// The special tokens of tokenizer_config.json (bos_token, eos_token, ...) are passed to it, as transformers does.
    /// </summary>
    public static ChatTemplate ForModel(string modelDir)
    {
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"{modelDir}: folder not found (expected a model folder)");
        var configPath = Path.Combine(modelDir, "tokenizer_config.json");
        var tokens = new Dictionary<string, string>();
        string? fromConfig = null;
        if (File.Exists(configPath))
        {
            using var doc = TokenizerFiles.ParseJson(configPath);
            foreach (var key in new[] { "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token" })
                if (doc.RootElement.GetPropertyOrNull(key) is { } v && TokenizerFiles.TokenContent(v) is { } s) tokens[key] = s;
            fromConfig = ConfigTemplate(configPath, doc.RootElement.GetPropertyOrNull("chat_template"));
        }
        var jinjaPath = Path.Combine(modelDir, "chat_template.jinja");
        if (File.Exists(jinjaPath)) return new ChatTemplate(JinjaTemplate.Parse(File.ReadAllText(jinjaPath), jinjaPath), tokens);
        if (fromConfig != null) return new ChatTemplate(JinjaTemplate.Parse(fromConfig, configPath), tokens);
        return Qwen25;
    }

    /// <summary>A template from a Jinja file, with the given special tokens (eos_token, ...) as variables.</summary>
    public static ChatTemplate FromFile(string path, IReadOnlyDictionary<string, string>? specialTokens = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: chat template file not found");
        return new ChatTemplate(JinjaTemplate.Parse(File.ReadAllText(path), path), specialTokens ?? new Dictionary<string, string>());
    }

    static string? ConfigTemplate(string path, JsonElement? value)
    {
        switch (value?.ValueKind)
        {
            case null: return null;
            case JsonValueKind.String: return value.Value.GetString();
            case JsonValueKind.Array:
                foreach (var t in value.Value.EnumerateArray())
                    if (t.GetPropertyOrNull("name")?.GetString() == "default") return t.GetPropertyOrNull("template")?.GetString();
                throw new InvalidDataException($"{path}: chat_template is a list with no template named \"default\"");
            default: throw new InvalidDataException($"{path}: chat_template must be a string or a list of {{name, template}}");
        }
    }

    /// <summary>The prompt text for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> it ends where the assistant's reply starts.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        foreach (var (name, token) in specialTokens) variables[name] = token;
        return template.Render(variables);
    }

    /// <summary>Byte for byte the chat_template of Qwen2.5-Instruct's tokenizer_config.json (assets/qwen2.5/chat_template.jinja).</summary>
    internal const string Qwen25Source = """
        {%- if tools %}
            {{- '<|im_start|>system\n' }}
            {%- if messages[0]['role'] == 'system' %}
                {{- messages[0]['content'] }}
            {%- else %}
                {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
            {%- endif %}
            {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
            {%- for tool in tools %}
                {{- "\n" }}
                {{- tool | tojson }}
            {%- endfor %}
            {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
        {%- else %}
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
            {%- else %}
                {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
            {%- endif %}
        {%- endif %}
        {%- for message in messages %}
            {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
                {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
                {%- if message.content %}
                    {{- '\n' + message.content }}
                {%- endif %}
                {%- for tool_call in message.tool_calls %}
                    {%- if tool_call.function is defined %}
                        {%- set tool_call = tool_call.function %}
                    {%- endif %}
                    {{- '\n<tool_call>\n{"name": "' }}
                    {{- tool_call.name }}
                    {{- '", "arguments": ' }}
                    {{- tool_call.arguments | tojson }}
                    {{- '}\n</tool_call>' }}
                {%- endfor %}
                {{- '<|im_end|>\n' }}
            {%- elif message.role == "tool" %}
                {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
                    {{- '<|im_start|>user' }}
                {%- endif %}
                {{- '\n<tool_response>\n' }}
                {{- message.content }}
                {{- '\n</tool_response>' }}
                {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
                    {{- '<|im_end|>\n' }}
                {%- endif %}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\n' }}
        {%- endif %}

        """;
}
