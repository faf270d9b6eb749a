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
    public const string RefundTag = "ratelimiting.refund.result";
    public const string ChargeTag = "ratelimiting.charge.result";
    public const string OperationTag = "ratelimiting.admin.operation";

    /// <summary>The values of <see cref="ChargeTag"/>.</summary>
    public static class Charges
    {
        public const string Charged = "charged";
        public const string Lost = "lost";
    }

    /// <summary>The values of <see cref="RefundTag"/>.</summary>
    public static class Refunds
    {
        public const string Refunded = "refunded";
        public const string Lost = "lost";
    }

    /// <summary>The values of <see cref="ResultTag"/>.</summary>
    public static class Results
    {
        public const string Acquired = "acquired";
        public const string Rejected = "rejected";
        public const string Fallback = "fallback";
        public const string Shadow = "shadow";
        public const string Exempt = "exempt";
        public const string Denied = "denied";
        public const string Blocked = "blocked";
    }

    /// <summary>The values of <see cref="OutcomeTag"/>.</summary>
    public static class Outcomes
    {
        public const string Success = "success";
        public const string Canceled = "canceled";
        public const string Timeout = "timeout";
        public const string Unavailable = "unavailable";
        public const string Error = "error";
    }

    public static readonly ActivitySource ActivitySource = new(RateLimitingTelemetry.ActivitySourceName);

    private readonly Counter<long> _decisions;
    private readonly Histogram<double> _storeDuration;
    private readonly Counter<long> _refunds;
    private readonly Counter<long> _charges;
    private readonly Counter<long> _adminOperations;

    public RateLimitingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(RateLimitingTelemetry.MeterName);
        _decisions = meter.CreateCounter<long>("ratelimiting.decisions", "{request}", "Rate-limit decisions, by policy and result.");
        _refunds = meter.CreateCounter<long>("ratelimiting.refunds", "{request}", "Admissions taken back because a later policy of a chain rejected the request, by policy and result (lost: the store could not take it back).");
        _charges = meter.CreateCounter<long>("ratelimiting.charges", "{request}", "Costs charged after the response (CountWhen, IRateLimitCostFeature), by policy and result (lost: the store could not record it).");
        _adminOperations = meter.CreateCounter<long>("ratelimiting.admin.operations", "{operation}", "Operations of IRateLimitAdmin, by policy, operation (usage, reset) and store outcome.");
        _storeDuration = meter.CreateHistogram<double>("ratelimiting.store.duration", "s", "Duration of store calls.", advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        });
    }

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

    public void Refunded(string policy, string result)
    {
        if (_refunds.Enabled)
        {
            _refunds.Add(1, new TagList { { PolicyTag, policy }, { RefundTag, result } });
        }
    }

    public void Charged(string policy, string result)
    {
        if (_charges.Enabled)
        {
            _charges.Add(1, new TagList { { PolicyTag, policy }, { ChargeTag, result } });
        }
    }

    public void AdminOperated(string policy, string operation, string outcome)
    {
        if (_adminOperations.Enabled)
        {
            _adminOperations.Add(1, new TagList { { PolicyTag, policy }, { OperationTag, operation }, { OutcomeTag, outcome } });
        }
    }

    public void StoreCalled(string policy, long startedTimestamp, string outcome)
    {
        if (_storeDuration.Enabled)
        {
            _storeDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, new TagList { { PolicyTag, policy }, { OutcomeTag, outcome } });
        }
    }

    private static string FailureModeName(FailureMode mode) => mode switch
    {
        FailureMode.FailClosed => "fail_closed",
        FailureMode.LocalFallback => "local_fallback",
        _ => "fail_open",
    };
}
