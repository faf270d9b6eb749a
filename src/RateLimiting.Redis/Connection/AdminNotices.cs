using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// The channel on which reset.lua and override.lua tell every instance that a partition of a policy
/// was reset or given a temporary limit: subscribed on every multiplexer as it connects, and heard
/// again after the client's own reconnects. A notice names the policy only, never a partition. One
/// missed while not subscribed costs nothing but time: an over-limit cache's entry ends at its
/// Retry-After anyway.
/// </summary>
internal sealed partial class AdminNotices(string keyPrefix, ILogger logger)
{
    /// <summary>Gets the channel: the key prefix's, so that applications sharing a cluster under other prefixes never hear each other.</summary>
    public RedisChannel Channel { get; } = RedisChannel.Literal(keyPrefix + ":admin");

    /// <summary>Raised with the policy of every partition changed, by any instance, this one included.</summary>
    public event Action<string>? Received;

    public void Subscribe(IConnectionMultiplexer multiplexer)
    {
        var subscribing = multiplexer.GetSubscriber().SubscribeAsync(Channel, (_, policy) =>
        {
            if (!policy.IsNullOrEmpty)
            {
                Received?.Invoke(policy.ToString());
            }
        });
        _ = subscribing.ContinueWith(
            failed => Log.SubscribeFailed(logger, failed.Exception!.GetBaseException()),
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, EventName = "AdminNoticesUnsubscribed", Level = LogLevel.Warning, Message = "Could not subscribe to rate-limit admin notices; this instance's over-limit cache learns of resets and temporary limits set by other instances at each entry's Retry-After.")]
        public static partial void SubscribeFailed(ILogger logger, Exception exception);
    }
}
