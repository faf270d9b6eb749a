using RateLimiting.Benchmarks.Infrastructure;

namespace RateLimiting.Benchmarks.Http;

/// <summary>One wrk run against <see cref="BenchApp.FailOpenPath"/>, with what the application counted meanwhile.</summary>
/// <param name="Wrk">What wrk reported.</param>
/// <param name="Responses">The endpoint's responses, by status, abandoned requests included.</param>
/// <param name="Sources">Its admissions, by who decided them.</param>
/// <param name="ServerCpu">CPU time of this process: Kestrel, the limiter, the Redis client.</param>
/// <param name="Compiled">Methods the JIT compiled during the run: many means the run measured the JIT.</param>
internal sealed record FailOpenRun(WrkResult Wrk, StatusCounts Responses, DecisionSourceCounts Sources, TimeSpan ServerCpu, long Compiled)
{
    public double CpuPerRequest => ServerCpu.TotalMicroseconds / Math.Max(1, Wrk.Requests);
}
