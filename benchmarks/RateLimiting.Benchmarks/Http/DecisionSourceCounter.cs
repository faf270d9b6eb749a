using Microsoft.AspNetCore.Http;
using RateLimiting.AspNetCore;

namespace RateLimiting.Benchmarks.Http;

/// <summary>
/// Counts the admissions of a FailOpen policy by who decided them: the store, or the failure mode
/// because the store did not answer in time. The response tells them apart: a decision of the
/// store carries the <c>RateLimit</c> headers, a fail-open admission none, because it knows no real
/// numbers (<see cref="RateLimitResponse.WriteHeaders"/>). The limiter writes them before the endpoint runs.
/// </summary>
internal sealed class DecisionSourceCounter
{
    private long _store;
    private long _failOpen;

    public void Count(HttpResponse response)
    {
        if (response.Headers.ContainsKey(RateLimitResponse.StateHeader))
        {
            Interlocked.Increment(ref _store);
        }
        else
        {
            Interlocked.Increment(ref _failOpen);
        }
    }

    public DecisionSourceCounts Snapshot() => new(Interlocked.Read(ref _store), Interlocked.Read(ref _failOpen));
}
