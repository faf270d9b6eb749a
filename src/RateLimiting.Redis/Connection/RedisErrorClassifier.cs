using System.Net;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// What a failed call means for the connection, from what StackExchange.Redis reports: its exception
/// types and the server's error reply, whose first word is the Redis error code (MOVED, TRYAGAIN,
/// CLUSTERDOWN, ...). Pure: the one place that changes with the client version, tested without a cluster.
/// </summary>
internal static class RedisErrorClassifier
{
    private const string ResentMovedPrefix = "Key has MOVED";

    private static readonly string[] RefusedBeforeRunning = ["READONLY", "LOADING", "BUSY", "MASTERDOWN", "OOM", "CLUSTERDOWN", "MOVED", "ASK", "TRYAGAIN"];

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

    /// <summary>
    /// A server that cannot run the batch script: Redis before 7.0 does not parse its shebang line
    /// (a compile error), and one that does not know a flag says so.
    /// </summary>
    public static bool IsScriptRejected(RedisServerException exception)
        => exception.Message.Contains("Error compiling script", StringComparison.Ordinal)
        || exception.Message.Contains("shebang", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// An error reply that a node gives before it runs a script: nothing of the script was done,
    /// so each of a batch's decisions can be sent again alone (a replica, a node still loading or
    /// busy, a master without its replicas, memory full, a cluster that is down, a redirection).
    /// </summary>
    public static bool IsRefusedBeforeRunning(RedisServerException exception)
        => Array.Exists(RefusedBeforeRunning, code => HasCode(exception.Message, code));

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

    /// <summary>
    /// Whether the master gave no answer at all: a timeout or no connection. Only these open a
    /// circuit breaker: an error reply (a MOVED loop, CLUSTERDOWN, READONLY) comes back within a
    /// round trip, so failing fast would gain nothing, and a brief CLUSTERDOWN during a failover
    /// must not stop the healthy masters' decisions for a probe interval.
    /// </summary>
    public static bool IsUnanswered(Exception exception) => exception is TimeoutException or RedisConnectionException;

    /// <summary>
    /// Whether a never-redirected probe was answered by the node it asked about: a reply, or an
    /// error reply of its own (CLUSTERDOWN, LOADING); a MOVED or ASK came from another node, where
    /// the client sent it for want of a connection to the owner.
    /// </summary>
    public static bool IsAnsweredByOwner(Exception exception) => exception is RedisServerException { Message: var message }
        && !HasCode(message, "MOVED") && !HasCode(message, "ASK") && !message.StartsWith(ResentMovedPrefix, StringComparison.Ordinal);

    /// <summary>
    /// What a circuit breaker's log names as the cause of a failed call: <c>timeouts</c>,
    /// <c>refused</c>, <c>authentication</c>, <c>certificate</c>, <c>connection errors</c>,
    /// <c>MOVED loop</c> or the server's error code (<c>CLUSTERDOWN</c>, ...).
    /// </summary>
    public static string CauseOf(Exception exception) => exception switch
    {
        TimeoutException => "timeouts",
        RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure } => "authentication",
        RedisConnectionException when Within(exception, e => e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused }) => "refused",
        RedisConnectionException when Within(exception, e => e is RedisCertificateRejectedException) => "certificate",
        RedisConnectionException => "connection errors",
        RedisServerException { Message: var message } when HasCode(message, "MOVED") || message.StartsWith(ResentMovedPrefix, StringComparison.Ordinal) => "MOVED loop",
        RedisServerException { Message: var message } => message.Split(' ', 2)[0],
        _ => exception.GetType().Name,
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

    private static bool Within(Exception exception, Func<Exception, bool> match)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (match(current))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasCode(string message, string code)
        => message.StartsWith(code, StringComparison.Ordinal) && (message.Length == code.Length || message[code.Length] == ' ');
}
