namespace RateLimiting.Redis.Connection;

/// <summary>A call nobody awaits any more (past its deadline) may still fail later; observed, it never surfaces as an unobserved exception.</summary>
internal static class AbandonedCall
{
    public static void Observe(Task call)
        => call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
