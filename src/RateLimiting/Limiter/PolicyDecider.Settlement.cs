using RateLimiting.Store;
using RateLimiting.Telemetry;

namespace RateLimiting.Limiter;

/// <summary>What follows a decision: a refund when a later policy of a chain rejects, and a charge when the response decides a cost.</summary>
internal sealed partial class PolicyDecider
{
    /// <summary>
    /// Takes back what <paramref name="lease"/> recorded, because a later policy of a chain rejected
    /// the request. A refund that fails is counted as lost and logged; it never fails the request.
    /// </summary>
    public async ValueTask RefundAsync(DecisionLease lease)
    {
        var store = StoreOf(lease);
        if (store is null || lease.Decision.Admission == 0)
        {
            return;
        }

        try
        {
            // Not the request's token: a client that gave up must not keep its admission.
            await store.RefundAsync(lease.Request, lease.Decision.Admission, CancellationToken.None).ConfigureAwait(false);
            _overLimitCache?.Forget(lease.Request.Partition);
            _metrics?.Refunded(Name, RateLimitingMetrics.Refunds.Refunded);
        }
        catch (Exception ex)
        {
            _metrics?.Refunded(Name, RateLimitingMetrics.Refunds.Lost);
            Log.RefundLost(_logger, Name, ex);
        }
    }

    /// <summary>
    /// Charges <paramref name="cost"/> that the response of <paramref name="lease"/>'s request
    /// decided, whatever the windows hold, in the store that decided it. A charge that fails is tried
    /// once more (each call within the store's deadline), then counted as lost and logged.
    /// </summary>
    public async Task ChargeAsync(DecisionLease lease, int cost)
    {
        if (StoreOf(lease) is not { } store)
        {
            return;
        }

        var asked = lease.Request;
        var charge = new RateLimitRequest(asked.Policy, asked.Partition, asked.Limits, cost) { Block = asked.Block, Kind = RateLimitRequestKind.Charge };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await store.DecideAsync(charge, CancellationToken.None).ConfigureAwait(false);
                _metrics?.Charged(Name, RateLimitingMetrics.Charges.Charged);
                return;
            }
            catch (Exception) when (attempt == 1)
            {
                // Once more: a charge is what the response said, so it is not given up at the first failure.
            }
            catch (Exception ex)
            {
                _metrics?.Charged(Name, RateLimitingMetrics.Charges.Lost);
                Log.ChargeLost(_logger, Name, cost, ex);
                return;
            }
        }
    }

    private IRateLimitStore? StoreOf(DecisionLease lease) => lease.Source switch
    {
        RateLimitDecisionSource.Store => _store,
        RateLimitDecisionSource.LocalFallback => _fallback,
        _ => null,
    };
}
