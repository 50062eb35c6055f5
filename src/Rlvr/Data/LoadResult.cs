namespace Rlvr.Data;

/// <summary>What <see cref="MathDataset.Load"/> read from one path. Nothing read is dropped silently: every row
/// ends up in <see cref="Problems"/>, <see cref="WithoutGold"/> or <see cref="Invalid"/>.</summary>
/// <param name="Path">The file or folder read (bundled names resolved).</param>
/// <param name="Format">The format used (detected or given).</param>
/// <param name="Problems">Problems with a gold answer, in file order: the ones to train and evaluate on.</param>
/// <param name="WithoutGold">Problems whose gold answer could not be extracted; excluded from <see cref="Problems"/>.</param>
/// <param name="Invalid">Malformed rows skipped (only with skipInvalid; otherwise the first one throws).</param>
/// <param name="Disagreements">Problems whose dataset answer field differs from the gold derived from the solution.</param>
public sealed record LoadResult(
    string Path,
    DataFormat Format,
    IReadOnlyList<MathProblem> Problems,
    IReadOnlyList<MathProblem> WithoutGold,
    IReadOnlyList<InvalidRow> Invalid,
    IReadOnlyList<AnswerDisagreement> Disagreements)
{
    /// <summary>Rows read that held a problem (with or without gold).</summary>
    public int ProblemCount => Problems.Count + WithoutGold.Count;
}

/// <summary>A malformed row: where (<c>file:line</c>, <c>file: row n</c>, or a file of a MATH folder) and why.</summary>
public sealed record InvalidRow(string Location, string Reason)
{
    public override string ToString() => $"{Location}: {Reason}";
}

/// <summary>A problem whose dataset answer field (<paramref name="Given"/>) is not the gold derived from its solution.</summary>
public sealed record AnswerDisagreement(string Id, string Given, string Derived);
