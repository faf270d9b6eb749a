using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Telemetry;

namespace RateLimiting.Limiter;

/// <summary>
/// Decides for one policy: rejects locally what the over-limit cache knows is over the limit, asks
/// the store otherwise and, when the store cannot answer, applies the policy's
/// <see cref="FailureMode"/>, so that no request fails because of the store. Shadow policies record
/// but always admit.
/// </summary>
internal sealed partial class PolicyDecider
{
    /// <summary>Retry-After of a fail-closed rejection: the store is expected back within about this long.</summary>
    internal static readonly TimeSpan UnavailableRetryAfter = TimeSpan.FromSeconds(1);

    private readonly IRateLimitStore _store;
    private readonly IRateLimitStore _fallback;
    private readonly OverLimitCache? _overLimitCache;
    private readonly RateLimitingMetrics? _metrics;
    private readonly ILogger _logger;
    private int _failing;

    public PolicyDecider(
        string name,
        IRateLimitStore store,
        IRateLimitStore fallback,
        OverLimitCache? overLimitCache,
        RateLimitingMetrics? metrics,
        ILogger logger)
    {
        Name = name;
        _store = store;
        _fallback = fallback;
        _overLimitCache = overLimitCache;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>The name the policy was declared with at start-up: its store keys and telemetry tags, stable across reloads.</summary>
    public string Name { get; }

    /// <summary>Forgets what the over-limit cache remembers of <paramref name="partition"/>: it was reset.</summary>
    public void Forget(string partition) => _overLimitCache?.Forget(partition);

    /// <summary>Forgets every partition the over-limit cache remembers: a partition was reset by another instance, which names the policy only.</summary>
    public void ForgetAll() => _overLimitCache?.Clear();

    /// <summary>Decides one request.</summary>
    /// <param name="policy">
    /// The request's snapshot of the policy, resolved once by the caller rather than looked up here:
    /// the lease carries it on, so the headers and the rejection describe the settings that decided.
    /// </param>
    /// <param name="partition">The request's partition.</param>
    /// <param name="cost">The permits the request consumes.</param>
    /// <param name="cancellationToken">Aborts the decision with the request.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<DecisionLease> DecideAsync(CompiledPolicy policy, string partition, int cost, CancellationToken cancellationToken)
    {
        var options = policy.Options;
        var request = new RateLimitRequest(Name, partition, policy.Limits, cost)
        {
            Block = policy.Block,
            // A cost that the response decides is charged after it: before, the request is only checked.
            Kind = policy.CountWhen is null ? RateLimitRequestKind.Decide : RateLimitRequestKind.Check,
        };
        if (!options.Shadow && _overLimitCache is not null && _overLimitCache.TryReject(partition, cost, policy.Limits, out var cached))
        {
            _metrics?.Decided(Name, ResultName(cached, RateLimitDecisionSource.Store, shadow: false), failureMode: null);
            return new DecisionLease(false, policy, request, cached, RateLimitDecisionSource.Store);
        }

        var askedAt = Stopwatch.GetTimestamp();
        RateLimitDecision decision;
        var source = RateLimitDecisionSource.Store;
        using (var activity = RateLimitingMetrics.ActivitySource.StartActivity("ratelimiting.store.decide", ActivityKind.Client))
        {
            activity?.SetTag(RateLimitingMetrics.PolicyTag, Name);
            try
            {
                decision = await _store.DecideAsync(request, cancellationToken).ConfigureAwait(false);
                _metrics?.StoreCalled(Name, askedAt, RateLimitingMetrics.Outcomes.Success);
                if (Volatile.Read(ref _failing) != 0 && Interlocked.Exchange(ref _failing, 0) != 0)
                {
                    Log.FailureModeLeft(_logger, Name);
                }

                activity?.SetTag(RateLimitingMetrics.ResultTag, decision.IsAllowed ? RateLimitingMetrics.Results.Acquired : RateLimitingMetrics.Results.Rejected);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _metrics?.StoreCalled(Name, askedAt, RateLimitingMetrics.Outcomes.Canceled);
                activity?.SetTag(RateLimitingMetrics.OutcomeTag, RateLimitingMetrics.Outcomes.Canceled);
                throw;
            }
            catch (Exception ex)
            {
                var outcome = ex switch
                {
                    TimeoutException => RateLimitingMetrics.Outcomes.Timeout,
                    RateLimitStoreUnavailableException => RateLimitingMetrics.Outcomes.Unavailable,
                    _ => RateLimitingMetrics.Outcomes.Error,
                };
                _metrics?.StoreCalled(Name, askedAt, outcome);
                activity?.SetStatus(ActivityStatusCode.Error, outcome);
                // Once per outage at Warning, so that a storm of failed decisions does not flood the logs.
                if (Interlocked.Exchange(ref _failing, 1) == 0)
                {
                    Log.FailureModeEntered(_logger, Name, options.FailureMode, ex);
                }
                else
                {
                    Log.StoreFailed(_logger, Name, options.FailureMode, ex);
                }

                (decision, source) = options.FailureMode switch
                {
                    FailureMode.FailClosed => (new RateLimitDecision(RateLimitRejectReason.QuotaExceeded, policy.Limits[0].PermitLimit, 0, UnavailableRetryAfter, TimeSpan.Zero), RateLimitDecisionSource.FailClosed),
                    FailureMode.LocalFallback => (await _fallback.DecideAsync(request, cancellationToken).ConfigureAwait(false), RateLimitDecisionSource.LocalFallback),
                    _ => (new RateLimitDecision(RateLimitRejectReason.None, policy.Limits[0].PermitLimit, policy.Limits[0].PermitLimit, TimeSpan.Zero, TimeSpan.Zero), RateLimitDecisionSource.FailOpen),
                };
            }
        }

        // A policy that blocks must count every rejection in the store, so its over-limit cache
        // serves only blocks.
        if (source == RateLimitDecisionSource.Store && !options.Shadow
            && (decision.Reason == RateLimitRejectReason.Blocked || (decision.Reason == RateLimitRejectReason.QuotaExceeded && policy.Block is null)))
        {
            _overLimitCache?.Remember(partition, decision.Reason == RateLimitRejectReason.Blocked ? 1 : cost, askedAt, policy.Limits, decision);
        }

        var acquired = decision.IsAllowed || options.Shadow;
        _metrics?.Decided(Name, ResultName(decision, source, options.Shadow), source == RateLimitDecisionSource.Store ? null : options.FailureMode);
        return new DecisionLease(acquired, policy, request, decision, source);
    }

    /// <summary>
    /// The lease of a request that override <paramref name="index"/> exempts or denies, with no
    /// store call. A shadow policy admits what it would deny. The log names the override by its
    /// index: its value may be a key.
    /// </summary>
    public DecisionLease Overridden(CompiledPolicy policy, OverrideAction action, int index, int cost)
    {
        var request = new RateLimitRequest(Name, string.Empty, policy.Limits, cost);
        if (action == OverrideAction.Exempt)
        {
            _metrics?.Decided(Name, RateLimitingMetrics.Results.Exempt, failureMode: null);
            return new DecisionLease(true, policy, request, default, RateLimitDecisionSource.Override);
        }

        Log.Denied(_logger, Name, index);
        var shadow = policy.Options.Shadow;
        _metrics?.Decided(Name, shadow ? RateLimitingMetrics.Results.Shadow : RateLimitingMetrics.Results.Denied, failureMode: null);
        var denial = new RateLimitDecision(RateLimitRejectReason.Denied, 0, 0, TimeSpan.Zero, TimeSpan.Zero);
        return new DecisionLease(shadow, policy, request, denial, RateLimitDecisionSource.Override);
    }

    private static string ResultName(in RateLimitDecision decision, RateLimitDecisionSource source, bool shadow)
        => source != RateLimitDecisionSource.Store ? RateLimitingMetrics.Results.Fallback
        : decision.IsAllowed ? RateLimitingMetrics.Results.Acquired
        : shadow ? RateLimitingMetrics.Results.Shadow
        : decision.Reason == RateLimitRejectReason.Blocked ? RateLimitingMetrics.Results.Blocked
        : RateLimitingMetrics.Results.Rejected;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "StoreDecisionFailed", Level = LogLevel.Debug, Message = "Policy '{Policy}': the store could not decide; answered by failure mode {FailureMode}.")]
        public static partial void StoreFailed(ILogger logger, string policy, FailureMode failureMode, Exception exception);

        [LoggerMessage(EventId = 2, EventName = "FailureModeEntered", Level = LogLevel.Warning, Message = "Policy '{Policy}': the store cannot decide; failure mode {FailureMode} answers until it can.")]
        public static partial void FailureModeEntered(ILogger logger, string policy, FailureMode failureMode, Exception exception);

        [LoggerMessage(EventId = 3, EventName = "FailureModeLeft", Level = LogLevel.Information, Message = "Policy '{Policy}': the store decides again.")]
        public static partial void FailureModeLeft(ILogger logger, string policy);

        [LoggerMessage(EventId = 6, EventName = "ChargeLost", Level = LogLevel.Warning, Message = "Policy '{Policy}': a cost of {Cost} that a response decided could not be charged.")]
        public static partial void ChargeLost(ILogger logger, string policy, int cost, Exception exception);

        [LoggerMessage(EventId = 5, EventName = "RequestDenied", Level = LogLevel.Debug, Message = "Policy '{Policy}': override {Override} denied a request.")]
        public static partial void Denied(ILogger logger, string policy, int @override);

        [LoggerMessage(EventId = 4, EventName = "RefundLost", Level = LogLevel.Warning, Message = "Policy '{Policy}': an admission of a request that a later policy of its chain rejected could not be taken back; it counts until it leaves the window.")]
        public static partial void RefundLost(ILogger logger, string policy, Exception exception);
    }
}
