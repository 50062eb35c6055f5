namespace Rlvr.Text;

/// <summary>A problem statement to the token ids the model sees: prompt template, chat template with the
/// generation prompt, tokenizer. The ids go to the sampler and stay with the rollout up to the loss.</summary>
public sealed class PromptEncoder(QwenTokenizer tokenizer, ChatTemplate chat, PromptTemplate template, string? systemPrompt = null)
{
    public QwenTokenizer Tokenizer => tokenizer;

    /// <summary>The rendered prompt text (for inspection: <c>rlvr data show</c>).</summary>
    public string Render(string problem) => chat.Render(template.Messages(problem, systemPrompt), addGenerationPrompt: true);

    public int[] Encode(string problem) => [.. tokenizer.Encode(Render(problem))];

    /// <summary>The encoder of a model folder: its tokenizer and chat template (or the built-in Qwen2.5 one).</summary>
    public static PromptEncoder ForModel(string modelDir, string promptTemplate, string? systemPrompt = null) =>
        new(QwenTokenizer.Load(modelDir), ChatTemplate.ForModel(modelDir), PromptTemplate.FromName(promptTemplate), systemPrompt);
}
