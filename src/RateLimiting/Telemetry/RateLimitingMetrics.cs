using System.Diagnostics;
using System.Diagnostics.Metrics;
using RateLimiting.Policies;

namespace RateLimiting.Telemetry;

/// <summary>The library's instruments, created once through <see cref="IMeterFactory"/>.</summary>
internal sealed class RateLimitingMetrics
{
    public const string PolicyTag = "ratelimiting.policy";
    public const string ResultTag = "ratelimiting.result";
    public const string FailureModeTag = "ratelimiting.failure_mode";
    public const string OutcomeTag = "ratelimiting.store.outcome";
    public const string ReasonTag = "ratelimiting.reconnect.reason";

    public static readonly ActivitySource ActivitySource = new(RateLimitingTelemetry.ActivitySourceName);

    private readonly Counter<long> _decisions;
    private readonly Histogram<double> _storeDuration;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _movedLoops;
    private Func<int>? _openBreakers;
    private long _lastStoreSuccess;
    private long _lastStoreFailure;

    public RateLimitingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(RateLimitingTelemetry.MeterName);
        _decisions = meter.CreateCounter<long>("ratelimiting.decisions", "{request}", "Rate-limit decisions, by policy and result.");
        _storeDuration = meter.CreateHistogram<double>("ratelimiting.store.duration", "s", "Duration of store calls.", advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        });
        _reconnects = meter.CreateCounter<long>("ratelimiting.redis.reconnects", "{reconnect}", "Redis multiplexers replaced because they were stuck, by reason.");
        _movedLoops = meter.CreateCounter<long>("ratelimiting.redis.moved_loops", "{error}", "MOVED replies naming the node the command was already sent to.");
        meter.CreateObservableGauge("ratelimiting.failure_mode.active", () => IsFailureModeActive ? 1 : 0, "{state}", "1 while failure modes answer because the store cannot.");
        meter.CreateObservableGauge("ratelimiting.redis.breakers.open", () => OpenBreakers, "{breaker}", "Open circuit breakers: masters (or the connection) whose decisions failure modes answer at once.");
    }

    /// <summary>Gets a value indicating whether failure modes answer: the last store call failed, or a breaker is open.</summary>
    public bool IsFailureModeActive => Volatile.Read(ref _lastStoreFailure) > Volatile.Read(ref _lastStoreSuccess) || OpenBreakers > 0;

    private int OpenBreakers => _openBreakers?.Invoke() ?? 0;

    /// <summary>Reports the store's open circuit breakers through the gauges.</summary>
    public void ObserveOpenBreakers(Func<int> openBreakers) => _openBreakers = openBreakers;

    public void Decided(string policy, string result, FailureMode? failureMode)
    {
        if (!_decisions.Enabled)
        {
            return;
        }

        var tags = new TagList { { PolicyTag, policy }, { ResultTag, result } };
        if (failureMode is { } mode)
        {
            tags.Add(FailureModeTag, FailureModeName(mode));
        }

        _decisions.Add(1, tags);
    }

    public void StoreCalled(string policy, long startedTimestamp, bool succeeded, string outcome)
    {
        Volatile.Write(ref succeeded ? ref _lastStoreSuccess : ref _lastStoreFailure, Stopwatch.GetTimestamp());
        if (_storeDuration.Enabled)
        {
            _storeDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, new TagList { { PolicyTag, policy }, { OutcomeTag, outcome } });
        }
    }

    public void Reconnected(string reason) => _reconnects.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason));

    public void MovedLoop() => _movedLoops.Add(1);

    private static string FailureModeName(FailureMode mode) => mode switch
    {
        FailureMode.FailClosed => "fail_closed",
        FailureMode.LocalFallback => "local_fallback",
        _ => "fail_open",
    };
}
