using System.Net;
using RateLimiting.Redis.Internal.Resilience;
using StackExchange.Redis;

namespace RateLimiting.Redis.Internal.Connection;

/// <summary>
/// What a failed call means for the connection, from what StackExchange.Redis reports: its exception
/// types and the server's error reply, whose first word is the Redis error code (MOVED, TRYAGAIN,
/// CLUSTERDOWN, ...). Pure: the one place that changes with the client version, tested without a cluster.
/// </summary>
internal static class RedisErrorClassifier
{
    private const string ResentMovedPrefix = "Key has MOVED";

    /// <summary>A node that does not know the script: new, failed over, or after SCRIPT FLUSH.</summary>
    public static bool IsNoScript(RedisServerException exception) => HasCode(exception.Message, "NOSCRIPT");

    /// <summary>
    /// What a resharding cluster answers while a slot moves: TRYAGAIN (the keys are split between two
    /// nodes for a moment) or a MOVED naming another node than the one the slot is routed to.
    /// Retried within the deadline; never a fault.
    /// </summary>
    public static bool IsResharding(RedisServerException exception, Func<int, EndPoint, bool> isRoutedTo)
        => HasCode(exception.Message, "TRYAGAIN")
        || (TryParseMoved(exception.Message, out var slot, out var named) && !isRoutedTo(slot, named));

    /// <param name="exception">The call's failure.</param>
    /// <param name="isRoutedTo">Whether the client already sends <c>slot</c> to the named endpoint, which makes a MOVED a loop.</param>
    public static RedisFaultKind Classify(Exception exception, Func<int, EndPoint, bool> isRoutedTo) => exception switch
    {
        TimeoutException => RedisFaultKind.Timeout,
        RedisConnectionException => RedisFaultKind.Connection,
        RedisServerException { Message: var message } when HasCode(message, "MOVED")
            => !TryParseMoved(message, out var slot, out var named) || isRoutedTo(slot, named) ? RedisFaultKind.MovedLoop : RedisFaultKind.None,
        // 2.11.8+ reconnect a connection that answers a MOVED naming itself and resend the command
        // once with NoRedirect (decisions never set it); this is that resend failing the same way.
        // A few do while the client heals itself, so only their persisting counts: a connection fault.
        RedisServerException { Message: var message } when message.StartsWith(ResentMovedPrefix, StringComparison.Ordinal) => RedisFaultKind.Connection,

        // READONLY: the client sends the slot to a replica, which only a topology refresh corrects.
        RedisServerException { Message: var message } when HasCode(message, "CLUSTERDOWN") || HasCode(message, "MASTERDOWN") || HasCode(message, "LOADING") || HasCode(message, "READONLY")
            => RedisFaultKind.Connection,
        _ => RedisFaultKind.None,
    };

    /// <summary>Parses <c>MOVED &lt;slot&gt; &lt;host&gt;:&lt;port&gt;</c>.</summary>
    public static bool TryParseMoved(string message, out int slot, out EndPoint endpoint)
    {
        var parts = message.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
        endpoint = null!;
        slot = -1;
        if (parts.Length < 3 || parts[0] != "MOVED" || !int.TryParse(parts[1], out slot) || EndPointCollection.TryParse(parts[2]) is not { } parsed)
        {
            return false;
        }

        endpoint = parsed;
        return true;
    }

    private static bool HasCode(string message, string code)
        => message.StartsWith(code, StringComparison.Ordinal) && (message.Length == code.Length || message[code.Length] == ' ');
}
