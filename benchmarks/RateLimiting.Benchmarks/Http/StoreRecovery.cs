namespace RateLimiting.Benchmarks.Http;

/// <summary>How the application's decisions came back to Redis after the black hole, as its probes saw it.</summary>
/// <param name="FirstStoreDecision">From SIGCONT to the first probe that Redis decided; null if none did before the deadline.</param>
/// <param name="EveryMaster">From SIGCONT to the end of the first round in which Redis decided every master's probe; null if none did before the deadline.</param>
/// <param name="Probes">Probes sent.</param>
/// <param name="Failed">Probes answered with another status than 200, or not at all.</param>
/// <param name="LastFailure">What the last failed probe got.</param>
internal sealed record StoreRecovery(TimeSpan? FirstStoreDecision, TimeSpan? EveryMaster, long Probes, long Failed, string? LastFailure);
