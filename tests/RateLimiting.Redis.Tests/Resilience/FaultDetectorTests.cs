using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Resilience;

namespace RateLimiting.Redis.Tests.Resilience;

public sealed class FaultDetectorTests
{
    private readonly FakeClock _clock = new(Instant.FromUtc(2026, 1, 1, 0, 0));
    private readonly RedisResilienceOptions _options = new()
    {
        MovedLoopThreshold = 3,
        FaultWindow = TimeSpan.FromSeconds(10),
        PersistentFaultDuration = TimeSpan.FromSeconds(5),
        MinReconnectInterval = TimeSpan.FromSeconds(5),
        MaxReconnectInterval = TimeSpan.FromSeconds(30),
    };

    private FaultDetector NewDetector() => new(_options, _clock);

    [Fact]
    public void RecordFault_MovedLoopsReachThreshold_AsksForOneReconnect()
    {
        var detector = NewDetector();

        var first = detector.RecordFault(RedisFaultKind.MovedLoop);
        var second = detector.RecordFault(RedisFaultKind.MovedLoop);
        var third = detector.RecordFault(RedisFaultKind.MovedLoop);
        var fourth = detector.RecordFault(RedisFaultKind.MovedLoop);

        Assert.Null(first);
        Assert.Null(second);
        Assert.Equal("moved_loop", third);
        Assert.Null(fourth);
    }

    [Fact]
    public void RecordFault_MovedLoopsSpreadBeyondWindow_DoNotAddUp()
    {
        var detector = NewDetector();

        detector.RecordFault(RedisFaultKind.MovedLoop);
        detector.RecordFault(RedisFaultKind.MovedLoop);
        _clock.Advance(Duration.FromSeconds(11));
        var afterWindow = detector.RecordFault(RedisFaultKind.MovedLoop);

        Assert.Null(afterWindow);
    }

    [Fact]
    public void RecordFault_ConnectionErrorsPersist_AsksForReconnectOnlyAfterTheDuration()
    {
        var detector = NewDetector();

        var start = detector.RecordFault(RedisFaultKind.Connection);
        _clock.Advance(Duration.FromSeconds(4));
        var before = detector.RecordFault(RedisFaultKind.Timeout);
        _clock.Advance(Duration.FromSeconds(1));
        var after = detector.RecordFault(RedisFaultKind.Connection);

        Assert.Null(start);
        Assert.Null(before);
        Assert.Equal("persistent_connection_errors", after);
    }

    [Fact]
    public void RecordFault_ErrorsWithLongPauses_AreSeparateEpisodes()
    {
        var detector = NewDetector();

        detector.RecordFault(RedisFaultKind.Connection);
        _clock.Advance(Duration.FromSeconds(6));
        var afterPause = detector.RecordFault(RedisFaultKind.Connection);

        Assert.Null(afterPause);
    }

    [Fact]
    public void RecordFault_FaultPersistsAcrossReconnects_IntervalsGrowUpToTheMaximum()
    {
        var detector = NewDetector();
        var intervals = new List<TimeSpan>();
        var sinceLast = TimeSpan.Zero;
        Assert.NotNull(TripMovedLoop(detector));

        while (intervals.Count < 6)
        {
            _clock.Advance(Duration.FromMilliseconds(500));
            sinceLast += TimeSpan.FromMilliseconds(500);
            if (TripMovedLoop(detector) is not null)
            {
                intervals.Add(sinceLast);
                sinceLast = TimeSpan.Zero;
            }
        }

        // The minimum, then doubling, capped; each with up to 25 % jitter (and the 500 ms step of this loop).
        Assert.InRange(intervals[0], TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(6.25 + 0.5));
        Assert.InRange(intervals[1], TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(12.5 + 0.5));
        Assert.InRange(intervals[2], TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(25 + 0.5));
        Assert.All(intervals.Skip(3), interval => Assert.InRange(interval, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(37.5 + 0.5)));
    }

    [Fact]
    public void RecordSuccess_AfterReconnect_ResetsTheBackoff()
    {
        var detector = NewDetector();
        Assert.NotNull(TripMovedLoop(detector));
        _clock.Advance(Duration.FromSeconds(7));
        detector.RecordSuccess();

        var next = TripMovedLoop(detector);

        Assert.Equal("moved_loop", next);
    }

    [Fact]
    public void RecordFault_NotAConnectionFault_IsIgnored()
    {
        var detector = NewDetector();

        for (var i = 0; i < 10; i++)
        {
            Assert.Null(detector.RecordFault(RedisFaultKind.None));
        }
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
