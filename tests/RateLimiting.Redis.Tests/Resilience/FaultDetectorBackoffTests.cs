using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Resilience;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// When the reconnect backoff starts again from the minimum: only once a reconnect has worked (a
/// call succeeded and the faults paused), not at the first success, since a fault that reconnecting
/// cannot cure still lets some calls succeed (the permanent misroute and black-hole scenarios).
/// </summary>
public sealed class FaultDetectorBackoffTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);

    private readonly FakeClock _clock = new(Instant.FromUtc(2026, 1, 1, 0, 0));
    private readonly RedisResilienceOptions _options = new()
    {
        MovedLoopThreshold = 3,
        FaultWindow = TimeSpan.FromSeconds(10),
        PersistentFaultDuration = TimeSpan.FromSeconds(5),
        MinReconnectInterval = TimeSpan.FromSeconds(5),
        MaxReconnectInterval = TimeSpan.FromSeconds(30),
    };

    [Fact]
    public void RecordFault_SuccessesAmidPersistentFaults_IntervalsStillDouble()
    {
        // Arrange
        var detector = new FaultDetector(_options, _clock);
        Assert.NotNull(TripMovedLoop(detector));

        // Act: every step, one call succeeds and three loop, as while a reconnect cannot help.
        var intervals = NextIntervals(detector, count: 2, succeedEveryStep: true);

        // Assert: the minimum (with up to 25 % jitter), then doubled.
        Assert.InRange(intervals[0], TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(6.25) + Step);
        Assert.InRange(intervals[1], TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(12.5) + Step);
    }

    [Fact]
    public void RecordFault_FaultsPauseAfterASuccess_BackoffStartsAgainFromTheMinimum()
    {
        // Arrange: two reconnects in a row, so the next interval would be doubled.
        var detector = new FaultDetector(_options, _clock);
        Assert.NotNull(TripMovedLoop(detector));
        NextIntervals(detector, count: 1, succeedEveryStep: false);

        // Act: the fresh multiplexer works, the faults stop for longer than the doubled interval,
        // then a new fault episode starts.
        detector.RecordSuccess();
        _clock.Advance(Duration.FromSeconds(13));
        var reason = TripMovedLoop(detector);
        var intervals = NextIntervals(detector, count: 1, succeedEveryStep: false);

        // Assert
        Assert.Equal("moved_loop", reason);
        Assert.InRange(intervals[0], TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(6.25) + Step);
    }

    /// <summary>Trips MOVED loops every step until <paramref name="count"/> more reconnects were asked for; returns the times between them.</summary>
    private List<TimeSpan> NextIntervals(FaultDetector detector, int count, bool succeedEveryStep)
    {
        var intervals = new List<TimeSpan>();
        var sinceLast = TimeSpan.Zero;
        while (intervals.Count < count)
        {
            _clock.Advance(Duration.FromTimeSpan(Step));
            sinceLast += Step;
            if (succeedEveryStep)
            {
                detector.RecordSuccess();
            }

            if (TripMovedLoop(detector) is not null)
            {
                intervals.Add(sinceLast);
                sinceLast = TimeSpan.Zero;
            }
        }

        return intervals;
    }

    private static string? TripMovedLoop(FaultDetector detector)
    {
        string? reason = null;
        for (var i = 0; i < 3; i++)
        {
            reason ??= detector.RecordFault(RedisFaultKind.MovedLoop);
        }

        return reason;
    }
}
