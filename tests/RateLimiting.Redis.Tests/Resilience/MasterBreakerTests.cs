using System.Net;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Resilience;

namespace RateLimiting.Redis.Tests.Resilience;

public sealed class MasterBreakerTests
{
    private readonly FakeClock _clock = new(Instant.FromUtc(2026, 1, 1, 0, 0));
    private readonly RedisResilienceOptions _options = new()
    {
        BreakerFailureThreshold = 3,
        BreakerFailureSpan = TimeSpan.FromMilliseconds(100),
        BreakerProbeInterval = TimeSpan.FromMilliseconds(250),
        BreakerMaxProbeInterval = TimeSpan.FromSeconds(8),
    };

    [Fact]
    public void RecordFailure_ThresholdInARow_OpensOnceWithTheCause()
    {
        var breaker = NewBreaker();

        bool[] opened = [Fail(breaker), Fail(breaker), Fail(breaker), Fail(breaker)];

        Assert.Equal([false, false, true, false], opened);
        Assert.True(breaker.IsOpen);
        Assert.Equal("timeouts", breaker.Cause);
        Assert.Equal(1, breaker.Openings);
    }

    [Fact]
    public void RecordFailure_CallsSentTogether_DoNotOpenUntilTheFailuresSpanLonger()
    {
        var breaker = NewBreaker();
        var sent = _clock.GetCurrentInstant();

        // The calls in flight on one dropped connection: many, all sent within the same moment.
        var together = Enumerable.Range(0, 20).Select(_ => breaker.RecordFailure(sent, () => "connection errors")).ToArray();
        _clock.Advance(Duration.FromMilliseconds(100));
        var later = breaker.RecordFailure(_clock.GetCurrentInstant(), () => "connection errors");

        Assert.All(together, Assert.False);
        Assert.True(later);
    }

    [Fact]
    public void RecordFailure_ASuccessInBetween_StartsCountingAgain()
    {
        var breaker = NewBreaker();

        Fail(breaker);
        Fail(breaker);
        breaker.RecordSuccess();
        Fail(breaker);
        Fail(breaker);

        Assert.False(breaker.IsOpen);
    }

    [Fact]
    public void Close_AfterOpening_ReportsHowLongItWasOpenAndCountsAfresh()
    {
        var breaker = OpenBreaker();
        _clock.Advance(Duration.FromMilliseconds(300));

        var openFor = breaker.Close();

        Assert.Equal(TimeSpan.FromMilliseconds(300), openFor);
        Assert.False(breaker.IsOpen);
        Assert.False(Fail(breaker));
    }

    [Fact]
    public void FirstProbeDelay_EachQuickReopening_DoublesUpToTheMaximum()
    {
        var breaker = OpenBreaker();
        var delays = new List<TimeSpan> { breaker.FirstProbeDelay() };
        for (var reopening = 0; reopening < 8; reopening++)
        {
            breaker.Close();
            _clock.Advance(Duration.FromSeconds(1)); // flapping: back within the maximum interval
            Open(breaker);
            delays.Add(breaker.FirstProbeDelay());
        }

        double[] expectedMilliseconds = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000];
        Assert.All(delays.Zip(expectedMilliseconds), pair => Assert.InRange(pair.First.TotalMilliseconds, pair.Second, pair.Second * 1.5));
    }

    [Fact]
    public void FirstProbeDelay_ReopenedAfterStayingClosedLong_StartsAgainFromTheInterval()
    {
        var breaker = OpenBreaker();
        breaker.Close();
        _clock.Advance(Duration.FromSeconds(1));
        Open(breaker);
        breaker.Close();
        _clock.Advance(Duration.FromSeconds(9)); // longer than BreakerMaxProbeInterval

        Open(breaker);

        Assert.InRange(breaker.FirstProbeDelay().TotalMilliseconds, 250, 375);
    }

    [Fact]
    public void NextProbeDelay_AlwaysTheIntervalWithUpToHalfOfItAsJitter()
    {
        var breaker = OpenBreaker();

        var delays = Enumerable.Range(0, 100).Select(_ => breaker.NextProbeDelay().TotalMilliseconds).ToArray();

        Assert.All(delays, delay => Assert.InRange(delay, 250, 375));
        Assert.True(delays.Distinct().Count() > 1, "The probes are not jittered.");
    }

    private MasterBreaker NewBreaker() => new("127.0.0.1:7000", new IPEndPoint(IPAddress.Loopback, 7000), _options, _clock);

    private MasterBreaker OpenBreaker()
    {
        var breaker = NewBreaker();
        Open(breaker);
        return breaker;
    }

    private void Open(MasterBreaker breaker)
    {
        for (var i = 0; i < 3; i++)
        {
            Fail(breaker);
        }

        Assert.True(breaker.IsOpen);
    }

    /// <summary>A failed decision sent 60 ms after the previous one: three span 120 ms.</summary>
    private bool Fail(MasterBreaker breaker)
    {
        _clock.Advance(Duration.FromMilliseconds(60));
        return breaker.RecordFailure(_clock.GetCurrentInstant(), () => "timeouts");
    }
}
