namespace RateLimiting.Benchmarks.Suite;

/// <summary>One line of the results table.</summary>
/// <param name="Id">The measurement it belongs to, e.g. <c>a</c>.</param>
/// <param name="Measure">What was measured.</param>
/// <param name="Value">The figure, formatted.</param>
/// <param name="Unit">Its unit; <c>ratio</c> for ratios.</param>
/// <param name="Target">The target it is held against, or empty.</param>
/// <param name="Note">How it was measured, or what to read into it.</param>
internal sealed record ResultRow(string Id, string Measure, string Value, string Unit, string Target, string Note);
