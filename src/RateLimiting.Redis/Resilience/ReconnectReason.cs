namespace RateLimiting.Redis.Resilience;

/// <summary>Why a multiplexer is replaced: the values of the reconnect counter's reason tag, and of the logs.</summary>
internal static class ReconnectReason
{
    public const string MovedLoop = "moved_loop";
    public const string PersistentTimeouts = "persistent_timeouts";
    public const string PersistentConnectionErrors = "persistent_connection_errors";
}
