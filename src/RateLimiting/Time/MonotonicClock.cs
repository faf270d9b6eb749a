using System.Diagnostics;
using NodaTime;

namespace RateLimiting.Time;

/// <summary>
/// A clock that never goes backwards: the wall-clock instant at start-up plus the elapsed
/// <see cref="Stopwatch"/> time. Sliding windows measured with it are immune to NTP steps.
/// </summary>
internal sealed class MonotonicClock : IClock
{
    public static MonotonicClock Instance { get; } = new();

    private readonly Instant _origin = SystemClock.Instance.GetCurrentInstant();
    private readonly long _originTimestamp = Stopwatch.GetTimestamp();

    private MonotonicClock()
    {
    }

    public Instant GetCurrentInstant() => _origin + Duration.FromTimeSpan(Stopwatch.GetElapsedTime(_originTimestamp));
}
