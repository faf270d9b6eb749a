using RateLimiting.Benchmarks.Infrastructure;

namespace RateLimiting.Benchmarks.Http;

/// <summary>One measured wrk run, with the CPU time each party spent on it.</summary>
/// <param name="Wrk">What wrk reported.</param>
/// <param name="Elapsed">Wall time of the run.</param>
/// <param name="ServerCpu">CPU time of this process: Kestrel, the limiters, the Redis client.</param>
/// <param name="RedisCpu">CPU time of all Redis nodes.</param>
/// <param name="WrkCpu">CPU time of wrk.</param>
internal sealed record HttpRun(WrkResult Wrk, TimeSpan Elapsed, TimeSpan ServerCpu, TimeSpan RedisCpu, TimeSpan? WrkCpu)
{
    public double PerRequest(TimeSpan cpu) => cpu.TotalMicroseconds / Math.Max(1, Wrk.Requests);

    /// <summary>Gets how many cores the three were busy on, on average.</summary>
    public double CoresBusy => (ServerCpu + RedisCpu + (WrkCpu ?? TimeSpan.Zero)) / Elapsed;
}
