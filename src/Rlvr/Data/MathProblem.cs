namespace Rlvr.Data;

/// <summary>One math problem as every stage after the readers sees it.</summary>
/// <param name="Id">Stable and unique within its file: the row's own string id, else <c>&lt;file-stem&gt;-&lt;n&gt;</c>
/// (n = JSONL line, parquet row, or verl <c>extra_info.index</c>), or <c>&lt;subject&gt;/&lt;n&gt;</c> in a MATH folder.</param>
/// <param name="Problem">The problem statement as the dataset gives it (no prompt template).</param>
/// <param name="Solution">The worked solution, when the dataset has one.</param>
/// <param name="Gold">The reference answer the verifier compares against: the last <c>\boxed{}</c> of the solution
/// (<see cref="Rlvr.Math.BoxedAnswer.Last"/>), or the answer field for answer-only sets. Null when none can be
/// extracted: such problems are excluded, never scored.</param>
/// <param name="Type">The subject (MATH's <c>type</c>, e.g. "Algebra"); null when the dataset has none.</param>
/// <param name="Level">"Level 1".."Level 5" in MATH; null when the dataset has none.</param>
/// <param name="Source">Where it came from: the row's <c>source</c>/<c>data_source</c>, else the file name.</param>
/// <param name="GivenAnswer">The dataset's own precomputed answer field, kept only to report disagreements with
/// <paramref name="Gold"/>; never used for scoring when a solution exists.</param>
public sealed record MathProblem(
    string Id,
    string Problem,
    string? Solution,
    string? Gold,
    string? Type,
    string? Level,
    string Source,
    string? GivenAnswer = null);
