namespace Rlvr.Reporting;

/// <summary>
/// The same colour for an objective in every figure: base grey, PSR blue, NSR red, W-REINFORCE
/// purple, REINFORCE green, GRPO orange (matplotlib's tab10 shades); other names get the remaining
/// tab10 colours in order of their sorted names, "unknown" is near-black.
/// </summary>
public sealed class ObjectiveStyle
{
    public const string Base = "base";

    /// <summary>Base, then the registered objectives in their order (<see cref="Training.Objectives.Names"/>), each with its colour.</summary>
    static readonly (string Name, string Hex)[] Known =
        [.. new[] { Base }.Concat(Training.Objectives.Names)
            .Zip(["#7f7f7f", "#1f77b4", "#d62728", "#9467bd", "#2ca02c", "#ff7f0e", "#7f7f00", "#005f5f"])];

    static readonly string[] Spare = ["#8c564b", "#e377c2", "#17becf", "#bcbd22"];
    const string Unknown = "#222222";

    readonly Dictionary<string, string> colours = Known.ToDictionary(k => k.Name, k => k.Hex);

    /// <param name="objectives">every objective of the report, so spare colours are handed out the same way in every figure</param>
    public ObjectiveStyle(IEnumerable<string> objectives)
    {
        var others = objectives.Where(o => !colours.ContainsKey(o) && o != RunFolder.UnknownObjective).Distinct().Order(StringComparer.Ordinal);
        var i = 0;
        foreach (var o in others) colours[o] = Spare[i++ % Spare.Length];
    }

    /// <summary>"#rrggbb" for <paramref name="objective"/>.</summary>
    public string Hex(string objective) => colours.GetValueOrDefault(objective, Unknown);

    /// <summary>Paper order (psr, nsr, w-reinforce, reinforce, grpo), then the others.</summary>
    public static int Rank(string objective)
    {
        var i = Array.FindIndex(Known, k => k.Name == objective);
        return i >= 0 ? i : objective == RunFolder.UnknownObjective ? int.MaxValue : Known.Length;
    }
}
