using RateLimiting.Limiter;
using RateLimiting.Policies;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// A <see cref="PolicyDecider"/> with the scenario's one compiled policy: asked what a request's
/// limiter asks it, with the snapshot a request would have resolved.
/// </summary>
internal sealed class ScenarioDecider
{
    private readonly PolicyDecider _decider;
    private readonly CompiledPolicy _policy;

    public ScenarioDecider(PolicyDecider decider, CompiledPolicy policy)
    {
        _decider = decider;
        _policy = policy;
    }

    public ValueTask<DecisionLease> DecideAsync(string partition, int cost, CancellationToken cancellationToken)
        => _decider.DecideAsync(_policy, partition, cost, cancellationToken);
}
