using NodaTime;

namespace RateLimiting.Tests.Infrastructure;

/// <summary>A clock that moves only when told to (NodaTime.Testing is not available here).</summary>
public sealed class FakeClock : IClock
{
    private long _ticks;

    public FakeClock(Instant start) => _ticks = start.ToUnixTimeTicks();

    public static FakeClock StartingNow() => new(SystemClock.Instance.GetCurrentInstant());

    public Instant GetCurrentInstant() => Instant.FromUnixTimeTicks(Interlocked.Read(ref _ticks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
