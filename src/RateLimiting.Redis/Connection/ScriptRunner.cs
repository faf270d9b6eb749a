using System.Net;
using Microsoft.Extensions.Logging;
using NodaTime;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// Runs a script within a call's <see cref="CallDeadline"/>, by its SHA1, sending the source once
/// to a node that does not know it (NOSCRIPT: a new or failed-over master, or SCRIPT FLUSH).
/// </summary>
/// <remarks>
/// Scripts run by their SHA1 rather than through the client's script cache: the
/// <c>ScriptEvaluateAsync(string)</c> overload, which handles NOSCRIPT itself, hashes the whole
/// 5 KB script text on every call to find it (about 5 µs here, more than a third of the client's
/// own CPU per call).
/// </remarks>
internal sealed partial class ScriptRunner(CallDeadline deadline, ILogger logger)
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Runs <paramref name="script"/> on the slot of <paramref name="keys"/>, routed by the client;
    /// what a resharding cluster answers (TRYAGAIN, a MOVED to another node) is retried within the deadline.
    /// </summary>
    public async Task<long[]> RunOnSlotAsync(MultiplexerGeneration generation, RedisScript script, RedisKey[] keys, RedisValue[] args, Instant started, CancellationToken cancellationToken)
    {
        var database = generation.Multiplexer.GetDatabase();
        var sendSource = false;
        while (true)
        {
            try
            {
                var call = sendSource
                    ? database.ScriptEvaluateAsync(script.Source, keys, args)
                    : database.ScriptEvaluateAsync(script.Sha1, keys, args);
                return RedisScript.IntegersOf(await deadline.BoundAsync(call, started, cancellationToken).ConfigureAwait(false));
            }
            catch (RedisServerException ex) when (!sendSource && RedisErrorClassifier.IsNoScript(ex))
            {
                Log.ScriptReloaded(logger);
                sendSource = true;
            }
            catch (RedisServerException ex) when (RedisErrorClassifier.IsResharding(ex, generation.IsRoutedTo) && deadline.Left(started) > RetryDelay)
            {
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="script"/> on <paramref name="node"/> with no declared keys, so that the
    /// node never redirects it: the script itself asks for each key it may serve. The first two of
    /// <paramref name="args"/> are left for the script and the key count.
    /// </summary>
    public async Task<long[]> RunOnNodeAsync(MultiplexerGeneration generation, EndPoint node, RedisScript script, object[] args, Instant started)
    {
        var server = generation.Multiplexer.GetServer(node);
        args[0] = script.Sha1Hex;
        args[1] = 0;
        try
        {
            return RedisScript.IntegersOf(await deadline.BoundAsync(server.ExecuteAsync("EVALSHA", args), started, CancellationToken.None).ConfigureAwait(false));
        }
        catch (RedisServerException ex) when (RedisErrorClassifier.IsNoScript(ex))
        {
            Log.ScriptReloaded(logger);
            args[0] = script.Source;
            return RedisScript.IntegersOf(await deadline.BoundAsync(server.ExecuteAsync("EVAL", args), started, CancellationToken.None).ConfigureAwait(false));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ScriptReloaded", Level = LogLevel.Information, Message = "A Redis node did not know the rate-limit script (NOSCRIPT); sent its source once.")]
        public static partial void ScriptReloaded(ILogger logger);
    }
}
