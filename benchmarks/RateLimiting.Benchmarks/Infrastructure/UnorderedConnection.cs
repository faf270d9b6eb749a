using StackExchange.Redis;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// A <c>RedisStoreOptions.ConnectionFactory</c> whose multiplexer completes each caller's task as
/// soon as its reply is read, instead of queueing completions to run one after another in reply
/// order (<c>PreserveAsyncOrder</c>, StackExchange.Redis 1.x's default; 2.x no longer has it).
/// A diagnostic: what the store would gain from setting it.
/// </summary>
internal static class UnorderedConnection
{
    public static Func<CancellationToken, Task<ConnectionMultiplexer>> Factory(string configuration) => async _ =>
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
        multiplexer.PreserveAsyncOrder = false;
        return multiplexer;
    };
}
