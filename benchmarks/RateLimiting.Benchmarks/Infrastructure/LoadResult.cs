namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>One measured run: how many operations completed in how long, and what the processes spent on them.</summary>
/// <param name="Completed">Operations that completed (admitted, rejected or failed).</param>
/// <param name="Failed">Operations that threw (timeouts, connection errors, error replies).</param>
/// <param name="Elapsed">From the first operation started to the last one completed.</param>
/// <param name="ClientCpu">CPU time of the client process (this one, or the redis-benchmark processes); null when unknown.</param>
/// <param name="RedisCpu">CPU time of all Redis nodes, replicas included.</param>
internal sealed record LoadResult(long Completed, long Failed, TimeSpan Elapsed, TimeSpan? ClientCpu, TimeSpan RedisCpu)
{
    public double PerSecond => Completed / Elapsed.TotalSeconds;

    public double RedisCpuMicrosecondsPerOperation => RedisCpu.TotalMicroseconds / Math.Max(1, Completed);

    public double? ClientCpuMicrosecondsPerOperation => ClientCpu?.TotalMicroseconds / Math.Max(1, Completed);
}
