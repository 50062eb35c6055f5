using Rlvr.Text;

namespace Rlvr.Tests.Text;

public class PromptTemplateTests
{
    [Fact]
    public void Reference_prompt_is_the_small_references()
    {
        var m = PromptTemplate.FromName("reference").Messages("What is $1+1$?");
        Assert.Equal([new ChatMessage("system", "You are a helpful assistant."), new ChatMessage("user",
            "Solve the following math problem step-by-step. Write your solution in LaTeX format and put your final answer in \\boxed{}.\n\n" +
            "IMPORTANT: You MUST end your response with \\boxed{your_final_answer} where your_final_answer is the numerical or symbolic answer.\n\n" +
            "Problem: What is $1+1$?\nSolution:")], m);
    }

    [Fact]
    public void Paper_prompt_is_Qwen25_Math_cot_with_Qwens_default_system_prompt()
    {
        var m = PromptTemplate.FromName("paper").Messages("What is $1+1$?");
        Assert.Equal([new ChatMessage("user", "What is $1+1$?\nPlease reason step by step, and put your final answer within \\boxed{}.")], m);
        var prompt = ChatTemplate.Qwen25.Render(m, addGenerationPrompt: true);
        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
                     "<|im_start|>user\nWhat is $1+1$?\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n" +
                     "<|im_start|>assistant\n", prompt);
    }

    [Fact]
    public void System_override_replaces_or_adds_the_system_message()
    {
        Assert.Equal(new ChatMessage("system", "Be brief."), PromptTemplate.Paper.Messages("p", "Be brief.")[0]);
        Assert.Equal(new ChatMessage("system", "Be brief."), PromptTemplate.Reference.Messages("p", "Be brief.")[0]);
        Assert.Equal(2, PromptTemplate.Reference.Messages("p", "Be brief.").Count);
    }

    [Fact]
    public void A_file_template_fills_every_placeholder()
    {
        var path = Path.Combine(Fixtures.TempDir(), "prompt.txt");
        File.WriteAllText(path, "Q: {problem}\n(again: {problem}) \\boxed{}\n");
        var m = PromptTemplate.FromName(path).Messages("2+2?");
        Assert.Equal([new ChatMessage("user", "Q: 2+2?\n(again: 2+2?) \\boxed{}")], m);
    }

    [Fact]
    public void A_file_without_placeholder_or_a_missing_file_is_an_error()
    {
        var path = Path.Combine(Fixtures.TempDir(), "prompt.txt");
        File.WriteAllText(path, "Solve it.");
        Assert.Contains("{problem}", Assert.Throws<FormatException>(() => PromptTemplate.FromName(path)).Message);
        var missing = Assert.Throws<FileNotFoundException>(() => PromptTemplate.FromName("nope"));
        Assert.Contains("reference", missing.Message);
    }
}
