using System.Globalization;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>The figures line a scenario prints (<c>scenario=moved_loop recover_ms=... reconnects=...</c>): recorded, never asserted on.</summary>
internal static class ScenarioFigures
{
    public static string Line(string scenario, params (string Name, object? Value)[] figures)
        => $"scenario={scenario} " + string.Join(' ', figures.Select(figure => $"{figure.Name}={Format(figure.Value)}"));

    public static long Milliseconds(TimeSpan span) => (long)Math.Round(span.TotalMilliseconds);

    /// <summary>The <paramref name="percentile"/> (0..100) of <paramref name="latencies"/>, nearest rank; zero when empty.</summary>
    public static TimeSpan Percentile(IEnumerable<TimeSpan> latencies, double percentile)
    {
        var sorted = latencies.Order().ToArray();
        if (sorted.Length == 0)
        {
            return TimeSpan.Zero;
        }

        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static string Format(object? value) => value switch
    {
        null => "-",
        TimeSpan span => Milliseconds(span).ToString(CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!.Replace(' ', ','),
    };
}
