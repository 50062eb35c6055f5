using Rlvr.Text;
using Rlvr.Text.Jinja;

namespace Rlvr.Tests.Text;

public class ChatTemplateTests
{
    [Fact]
    public void Built_in_template_is_Qwen25s_own()
    {
        var file = File.ReadAllText(Rlvr.Assets.Path("assets", "qwen2.5", "chat_template.jinja"));
        Assert.Equal(ChatTemplate.Qwen25Source, file);
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Rlvr.Assets.Path("assets", "qwen2.5", "tokenizer_config.json")));
        Assert.Equal(file, config.RootElement.GetProperty("chat_template").GetString());
    }

    [Fact]
    public void Qwen25_adds_its_default_system_prompt_and_the_generation_prompt()
    {
        // Written out by hand from the template: no system message -> the default one; then the user turn.
        var expected = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
                       "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";
        Assert.Equal(expected, ChatTemplate.Qwen25.Render([new ChatMessage("user", "Hello")], addGenerationPrompt: true));
        Assert.Equal(expected[..^"<|im_start|>assistant\n".Length],
            ChatTemplate.Qwen25.Render([new ChatMessage("user", "Hello")], addGenerationPrompt: false));
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void Renders_like_jinja2(string template, string conversation, bool addGenerationPrompt, string expected)
    {
        var chat = template == "qwen" ? ChatTemplate.Qwen25 : FromText(Templates[template]);
        Assert.Equal(expected, chat.Render(Conversations[conversation], addGenerationPrompt));
    }

    static ChatTemplate FromText(string source)
    {
        var path = Path.Combine(Fixtures.TempDir(), "template.jinja");
        File.WriteAllText(path, source);
        return ChatTemplate.FromFile(path, new Dictionary<string, string> { ["bos_token"] = "<|begin_of_text|>", ["eos_token"] = "</s>" });
    }

    [Fact]
    public void A_model_folder_chooses_its_template()
    {
        ChatMessage[] messages = [new("user", "Hi")];
        // tokenizer_config.json with Qwen's chat_template: same as the built-in.
        var withConfig = Fixtures.TempDir();
        File.Copy(Rlvr.Assets.Path("assets", "qwen2.5", "tokenizer_config.json"), Path.Combine(withConfig, "tokenizer_config.json"));
        Assert.Equal(ChatTemplate.Qwen25.Render(messages, true), ChatTemplate.ForModel(withConfig).Render(messages, true));
        Assert.EndsWith("tokenizer_config.json", ChatTemplate.ForModel(withConfig).Origin);

        // chat_template.jinja wins over tokenizer_config.json, and gets its eos_token.
        File.WriteAllText(Path.Combine(withConfig, "chat_template.jinja"), "{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}");
        Assert.Equal("[user]Hi<|im_end|>", ChatTemplate.ForModel(withConfig).Render(messages, true));

        // A list of named templates: the "default" one.
        var withList = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(withList, "tokenizer_config.json"),
            """{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ messages | length }}"}]}""");
        Assert.Equal("D1", ChatTemplate.ForModel(withList).Render(messages, false));

        // No template anywhere: the built-in Qwen2.5 one.
        Assert.Same(ChatTemplate.Qwen25, ChatTemplate.ForModel(Fixtures.TempDir()));
    }

    [Theory]
    [InlineData("{% macro m() %}x{% endmacro %}", "template.jinja:1: unsupported Jinja tag '{% macro %}'")]
    [InlineData("a\n{% if x %}b", "template.jinja:2: '{% if %}' is never closed")]
    [InlineData("{{ x | frobnicate }}", "template.jinja:1: unsupported Jinja filter 'frobnicate'")]
    [InlineData("\n\n{{ raise_exception('Only user and assistant roles are supported!') }}", "the template raised an error: Only user and assistant roles are supported!")]
    [InlineData("{{ messages[0].nothing.deeper }}", "template.jinja:1: 'dict object' has no attribute 'nothing', so it has no attribute 'deeper'")]
    [InlineData("{{ 'a' + nothing }}", "template.jinja:1: 'nothing' is undefined, so it cannot be used with '+'")]
    [InlineData("{{ (1 }}", "template.jinja:1: unexpected '}'")]
    public void Template_errors_name_the_line_and_the_construct(string source, string message)
    {
        var e = Assert.ThrowsAny<TemplateException>(() => FromText(source).Render([new ChatMessage("user", "x")], true));
        Assert.Contains(message, e.Message);
    }

    // Generated offline by rendering with jinja2 3.1.6 set up as transformers' apply_chat_template
    // (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson, raise_exception).
    static readonly Dictionary<string, string> Templates = new()
    {
        ["qwen2_instruct"] = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
        ["llama3_like"] = "{{- bos_token }}\n{%- for message in messages %}\n    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n",
        ["block_whitespace"] = "{% for message in messages %}\n    {% if message.role == 'system' %}\n<<SYS>>{{ message.content | trim }}<</SYS>>\n    {% elif message.role == 'user' %}\n  [INST] {{ message.content }} [/INST]\n    {% else %}\n{{ message.content }}{{ eos_token }}\n    {% endif %}\n{% endfor %}\n{# a comment #}\n   {#- another -#}   \n{%+ if add_generation_prompt %}ASSISTANT:{% endif +%}\nend\n\n",
        ["features"] = "{%- set ns = namespace(count=0, last='') -%}\n{%- for m in messages if m.role != 'system' -%}\n{%- set ns.count = ns.count + 1 -%}\n{%- set ns.last = m.role -%}\n{{ loop.index }}/{{ loop.length }}{{ '*' if loop.first else '' }}{{ '!' if loop.last }} {{ m.role | upper }}: {{ m['content'][:5] ~ '|' ~ (m.content | length) }}\n{% endfor -%}\ncount={{ ns.count }} last={{ ns.last }} first_role={{ messages[0].role }} rest={{ messages[1:] | length }}\n{{ messages | map(attribute='role') | join(',') }} {{ (messages | selectattr('role', 'equalto', 'user') | list | length) }}\n{%- if tools is defined %} tools{% elif tools is not defined and not false %} no-tools{% endif %}\n{{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 1 / 4 }} {{ -3 + 5 * 2 }} {{ 'ab' * 3 }} {{ [1, 2] + [3] }} {{ 'x' in 'xyz' }} {{ 3 not in [1, 2] }}\n{{ \"  pad \" | trim }}|{{ ' a b '.strip() }}|{{ 'Hello'.startswith('He') }}|{{ 'a,b,c'.split(',') }}|{{ none | default('dflt') }}|{{ undefined_thing | default('u') }}\n{{ {'k': [1, 'two', none, true, 1.5]} | tojson }} {{ messages[-1]['role'] }} {{ 'yes' if messages | length > 2 else 'no' }}\n{%- for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %} {{ x }}{% endfor %}\n{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% else %}empty{% endfor %}{% for x in [] %}x{% else %}empty{% endfor %}\n",
    };

    static readonly Dictionary<string, ChatMessage[]> Conversations = new()
    {
        ["user_only"] = [new("user", "Hello")],
        ["system_user_assistant_user"] = [new("system", "You are terse."), new("user", "What is 2+2?"), new("assistant", "4"), new("user", "And 3+3?")],
        ["user_assistant"] = [new("user", "Solve $x^2=4$.\nShow work."), new("assistant", "$x=\\pm 2$, so \\boxed{\\pm 2}.")],
        ["late_system_and_tools"] = [new("user", "a"), new("system", "b"), new("tool", "r1"), new("tool", "r2"), new("user", "c")],
        ["empty_and_special"] = [new("system", ""), new("user", "  spaced  \n\n"), new("assistant", "<|im_end|> inside")],
    };

    public static TheoryData<string, string, bool, string> Expected => new()
    {
        { "qwen", "user_only", true, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen", "user_only", false, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n" },
        { "qwen", "system_user_assistant_user", true, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen", "system_user_assistant_user", false, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n" },
        { "qwen", "user_assistant", true, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nSolve $x^2=4$.\nShow work.<|im_end|>\n<|im_start|>assistant\n$x=\\pm 2$, so \\boxed{\\pm 2}.<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen", "user_assistant", false, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nSolve $x^2=4$.\nShow work.<|im_end|>\n<|im_start|>assistant\n$x=\\pm 2$, so \\boxed{\\pm 2}.<|im_end|>\n" },
        { "qwen", "late_system_and_tools", true, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen", "late_system_and_tools", false, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n<|im_start|>user\nc<|im_end|>\n" },
        { "qwen", "empty_and_special", true, "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n  spaced  \n\n<|im_end|>\n<|im_start|>assistant\n<|im_end|> inside<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen", "empty_and_special", false, "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n  spaced  \n\n<|im_end|>\n<|im_start|>assistant\n<|im_end|> inside<|im_end|>\n" },
        { "qwen2_instruct", "user_only", true, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen2_instruct", "user_only", false, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n" },
        { "qwen2_instruct", "system_user_assistant_user", true, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen2_instruct", "system_user_assistant_user", false, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n" },
        { "qwen2_instruct", "late_system_and_tools", true, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n<|im_start|>tool\nr1<|im_end|>\n<|im_start|>tool\nr2<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n" },
        { "qwen2_instruct", "late_system_and_tools", false, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n<|im_start|>tool\nr1<|im_end|>\n<|im_start|>tool\nr2<|im_end|>\n<|im_start|>user\nc<|im_end|>\n" },
        { "llama3_like", "user_only", true, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
        { "llama3_like", "user_only", false, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>" },
        { "llama3_like", "system_user_assistant_user", true, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
        { "llama3_like", "system_user_assistant_user", false, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>" },
        { "llama3_like", "late_system_and_tools", true, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\na<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nb<|eot_id|><|start_header_id|>tool<|end_header_id|>\n\nr1<|eot_id|><|start_header_id|>tool<|end_header_id|>\n\nr2<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nc<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
        { "llama3_like", "late_system_and_tools", false, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\na<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nb<|eot_id|><|start_header_id|>tool<|end_header_id|>\n\nr1<|eot_id|><|start_header_id|>tool<|end_header_id|>\n\nr2<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nc<|eot_id|>" },
        { "block_whitespace", "user_only", true, "  [INST] Hello [/INST]\nASSISTANT:\nend\n" },
        { "block_whitespace", "user_only", false, "  [INST] Hello [/INST]\n\nend\n" },
        { "block_whitespace", "system_user_assistant_user", true, "<<SYS>>You are terse.<</SYS>>\n  [INST] What is 2+2? [/INST]\n4</s>\n  [INST] And 3+3? [/INST]\nASSISTANT:\nend\n" },
        { "block_whitespace", "system_user_assistant_user", false, "<<SYS>>You are terse.<</SYS>>\n  [INST] What is 2+2? [/INST]\n4</s>\n  [INST] And 3+3? [/INST]\n\nend\n" },
        { "block_whitespace", "late_system_and_tools", true, "  [INST] a [/INST]\n<<SYS>>b<</SYS>>\nr1</s>\nr2</s>\n  [INST] c [/INST]\nASSISTANT:\nend\n" },
        { "block_whitespace", "late_system_and_tools", false, "  [INST] a [/INST]\n<<SYS>>b<</SYS>>\nr1</s>\nr2</s>\n  [INST] c [/INST]\n\nend\n" },
        { "features", "user_only", true, "1/1*! USER: Hello|5\ncount=1 last=user first_role=user rest=0\nuser 1 no-tools3 1 1024 0.25 7 ababab [1, 2, 3] True True\npad|a b|True|['a', 'b', 'c']|None|u\n{\"k\": [1, \"two\", null, true, 1.5]} user no 0 2a=1;b=2;empty" },
        { "features", "user_only", false, "1/1*! USER: Hello|5\ncount=1 last=user first_role=user rest=0\nuser 1 no-tools3 1 1024 0.25 7 ababab [1, 2, 3] True True\npad|a b|True|['a', 'b', 'c']|None|u\n{\"k\": [1, \"two\", null, true, 1.5]} user no 0 2a=1;b=2;empty" },
        { "features", "system_user_assistant_user", true, "1/3* USER: What |12\n2/3 ASSISTANT: 4|1\n3/3! USER: And 3|8\ncount=3 last=user first_role=system rest=3\nsystem,user,assistant,user 2 no-tools3 1 1024 0.25 7 ababab [1, 2, 3] True True\npad|a b|True|['a', 'b', 'c']|None|u\n{\"k\": [1, \"two\", null, true, 1.5]} user yes 0 2a=1;b=2;empty" },
        { "features", "system_user_assistant_user", false, "1/3* USER: What |12\n2/3 ASSISTANT: 4|1\n3/3! USER: And 3|8\ncount=3 last=user first_role=system rest=3\nsystem,user,assistant,user 2 no-tools3 1 1024 0.25 7 ababab [1, 2, 3] True True\npad|a b|True|['a', 'b', 'c']|None|u\n{\"k\": [1, \"two\", null, true, 1.5]} user yes 0 2a=1;b=2;empty" },
        { "features", "late_system_and_tools", true, "1/4* USER: a|1\n2/4 TOOL: r1|2\n3/4 TOOL: r2|2\n4/4! USER: c|1\ncount=4 last=user first_role=user rest=4\nuser,system,tool,tool,user 2 no-tools3 1 1024 0.25 7 ababab [1, 2, 3] True True\npad|a b|True|['a', 'b', 'c']|None|u\n{\"k\": [1, \"two\", null, true, 1.5]} user yes 0 2a=1;b=2;empty" },
        { "features", "late_system_and_tools", false, "1/4* USER: a|1\n2/4 TOOL: r1|2\n3/4 TOOL: r2|2\n4/4! USER: c|1\ncount=4 last=user first_role=user rest=4\nuser,system,tool,tool,user 2 no-tools3 1 1024 0.25 7 ababab [1, 2, 3] True True\npad|a b|True|['a', 'b', 'c']|None|u\n{\"k\": [1, \"two\", null, true, 1.5]} user yes 0 2a=1;b=2;empty" },
    };
}
