using RateLimiting.Redis.Tls;

namespace RateLimiting.Redis.Diagnostics;

/// <summary>What <see cref="RedisSetupDiagnoser.Diagnose"/> found: the problems and, for a rejected certificate or a failed handshake, the evidence.</summary>
internal sealed record RedisSetupDiagnosis(IReadOnlyList<RedisSetupProblem> Problems, RedisCertificateRejectedException? Certificate = null, string? Reason = null);
