using Microsoft.AspNetCore.Http;
using RateLimiting.Limiter;

namespace RateLimiting.AspNetCore;

/// <summary>
/// One request's <see cref="IRateLimitCostFeature"/>: the admissions of its policies, and the cost
/// they are charged once the response has completed, that its code added and that each policy's
/// <c>CountWhen</c> counts. The charge is registered on the response only when there is one to make.
/// </summary>
internal sealed class ResponseCharges : IRateLimitCostFeature
{
    private readonly HttpContext _context;
    private readonly PolicyDeciders _deciders;
    private DecisionLease[] _leases;
    private int _added;
    private int _registered;

    private ResponseCharges(HttpContext context, PolicyDeciders deciders, DecisionLease[] leases)
    {
        _context = context;
        _deciders = deciders;
        _leases = leases;
    }

    /// <summary>
    /// Gives the request its feature, holding <paramref name="leases"/>: the admissions of one
    /// policy, or of every policy of a chain once all of them admitted (a refunded one is never charged).
    /// </summary>
    public static void Admitted(HttpContext context, PolicyDeciders deciders, DecisionLease[] leases)
    {
        if (context.Features.Get<IRateLimitCostFeature>() is ResponseCharges charges)
        {
            // A second limiter of ours on the same request: rare, so its leases are simply appended.
            charges._leases = [.. charges._leases, .. leases];
        }
        else
        {
            charges = new ResponseCharges(context, deciders, leases);
            context.Features.Set<IRateLimitCostFeature>(charges);
        }

        if (leases.Any(lease => lease.Policy.CountWhen is not null))
        {
            charges.Register();
        }
    }

    /// <summary>Whether <paramref name="lease"/> recorded (or checked) in a store that can be charged later.</summary>
    public static bool Chargeable(DecisionLease lease)
        => lease.Decision.IsAllowed && lease.Source is RateLimitDecisionSource.Store or RateLimitDecisionSource.LocalFallback;

    public void AddCost(int cost)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cost, 1);
        int current;
        do
        {
            current = Volatile.Read(ref _added);
        }
        while (Interlocked.CompareExchange(ref _added, Saturated(current, cost), current) != current);

        Register();
    }

    /// <summary>Costs add up to at most <see cref="int.MaxValue"/>: a sum that wrapped would charge nothing.</summary>
    private static int Saturated(int a, int b) => (int)Math.Min(int.MaxValue, (long)a + b);

    private void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            _context.Response.OnCompleted(static state => ((ResponseCharges)state).ChargeAsync(), this);
        }
    }

    private async Task ChargeAsync()
    {
        var added = Volatile.Read(ref _added);
        var status = _context.Response.StatusCode;
        foreach (var lease in _leases)
        {
            var counted = lease.Policy.CountWhen is { } statuses && statuses.Contains(status) ? lease.Request.Cost : 0;
            var cost = Saturated(added, counted);
            if (cost > 0)
            {
                await _deciders.Get(lease.Policy.Name).ChargeAsync(lease, cost).ConfigureAwait(false);
            }
        }
    }
}
