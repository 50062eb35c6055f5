namespace Rlvr.Text;

/// <summary>
/// Turns a math problem into chat messages (then <see cref="ChatTemplate"/> makes the prompt text).
/// Built-in templates:
/// <list type="bullet">
/// <item>"reference": the small reference implementation's prompt: system "You are a helpful assistant.",
/// a user message asking for a step-by-step LaTeX solution ending in \boxed{}.</item>
/// <item>"paper": Qwen2.5-Math's chain-of-thought prompt, the problem followed by
/// "\nPlease reason step by step, and put your final answer within \boxed{}." (as in Qwen2.5-Math's
/// evaluation code), with no system message, so the chat template's default applies (Qwen2.5: "You are
/// Qwen, created by Alibaba Cloud. You are a helpful assistant.").</item>
/// </list>
/// Any other name is read as a file holding the user message with a <c>{problem}</c> placeholder.
/// </summary>
public sealed class PromptTemplate
{
    public const string Placeholder = "{problem}";

    /// <summary>"reference", "paper", or the file the template was read from.</summary>
    public string Name { get; }

    /// <summary>The system message; null for none (the chat template may add its default).</summary>
    public string? SystemPrompt { get; }

    /// <summary>The user message, with <see cref="Placeholder"/> where the problem goes.</summary>
    public string UserTemplate { get; }

    public PromptTemplate(string name, string? systemPrompt, string userTemplate)
    {
        if (!userTemplate.Contains(Placeholder))
            throw new FormatException($"{name}: the prompt template has no {Placeholder} placeholder for the problem");
        Name = name;
        SystemPrompt = systemPrompt;
        UserTemplate = userTemplate;
    }

    public static PromptTemplate Reference { get; } = new("reference", "You are a helpful assistant.",
        "Solve the following math problem step-by-step. Write your solution in LaTeX format and put your final answer in \\boxed{}.\n\n" +
        "IMPORTANT: You MUST end your response with \\boxed{your_final_answer} where your_final_answer is the numerical or symbolic answer.\n\n" +
        "Problem: {problem}\nSolution:");

    public static PromptTemplate Paper { get; } = new("paper", null,
        "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}.");

    /// <summary>
    /// "reference", "paper", or a text file with the user message and a <c>{problem}</c> placeholder
    /// (one trailing newline of the file is dropped; the template has no system message).
    /// </summary>
    public static PromptTemplate FromName(string nameOrFile)
    {
        switch (nameOrFile)
        {
            case "reference": return Reference;
            case "paper": return Paper;
        }
        if (!File.Exists(nameOrFile))
            throw new FileNotFoundException($"{nameOrFile}: not a prompt template (expected \"reference\", \"paper\" or a file with a {Placeholder} placeholder)");
        var text = File.ReadAllText(nameOrFile);
        if (text.EndsWith('\n')) text = text[..^(text.EndsWith("\r\n") ? 2 : 1)];
        return new PromptTemplate(nameOrFile, null, text);
    }

    /// <summary>The messages for <paramref name="problem"/>: the system message (<paramref name="systemOverride"/> when given) and the user message.</summary>
    public IReadOnlyList<ChatMessage> Messages(string problem, string? systemOverride = null)
    {
        var system = systemOverride ?? SystemPrompt;
        var user = new ChatMessage("user", UserTemplate.Replace(Placeholder, problem, StringComparison.Ordinal));
        return system == null ? [user] : [new ChatMessage("system", system), user];
    }
}
