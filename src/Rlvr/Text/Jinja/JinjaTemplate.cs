namespace Rlvr.Text.Jinja;

/// <summary>
/// A Jinja template in the subset chat templates use, rendered as HuggingFace's <c>apply_chat_template</c>
/// renders it (trim_blocks, lstrip_blocks). Variables are plain .NET values: string, long, double, bool,
/// null, <c>List&lt;object?&gt;</c>, <c>Dictionary&lt;string, object?&gt;</c>. Errors name the template and line.
/// </summary>
public sealed class JinjaTemplate
{
    readonly IReadOnlyList<Node> nodes;

    /// <summary>Where the template came from (a file path or a name), for messages.</summary>
    public string Origin { get; }

    JinjaTemplate(IReadOnlyList<Node> nodes, string origin)
    {
        this.nodes = nodes;
        Origin = origin;
    }

    /// <summary>Parses <paramref name="source"/>; a syntax error or an unsupported construct throws <see cref="TemplateException"/>.</summary>
    public static JinjaTemplate Parse(string source, string origin) => new(Parser.Parse(source, origin), origin);

    public string Render(IReadOnlyDictionary<string, object?> variables) => Interpreter.Run(nodes, Origin, variables);
}
