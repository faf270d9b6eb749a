using System.Net.Sockets;
using System.Security.Authentication;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;

namespace RateLimiting.Redis.Diagnostics;

/// <summary>Tells a set-up mistake from any other failure, from the exception and what the client reports; pure, so that each client version's way of failing is tested without a server.</summary>
internal static class RedisSetupDiagnoser
{
    /// <summary>
    /// The set-up problem behind a failure, or <see langword="null"/> when it looks like anything
    /// else (an outage, a timeout, a failover). <paramref name="exception"/> is searched with its
    /// inner exceptions: a call's "No connection is available" holds each endpoint's failure.
    /// </summary>
    public static RedisSetupDiagnosis? Diagnose(Exception? exception, ConnectionFailureType? failureType, bool ssl, bool hasPassword, bool everConnected)
    {
        var all = Flatten(exception).ToList();
        if (all.OfType<RedisCertificateRejectedException>().FirstOrDefault() is { } certificate)
        {
            var problems = new List<RedisSetupProblem>(2);
            if (certificate.Problems.HasFlag(RedisCertificateProblems.NotAvailable))
            {
                problems.Add(RedisSetupProblem.CertificateMissing);
            }

            if (certificate.Problems.HasFlag(RedisCertificateProblems.Untrusted))
            {
                problems.Add(RedisSetupProblem.CertificateUntrusted);
            }

            if (certificate.Problems.HasFlag(RedisCertificateProblems.NameMismatch))
            {
                problems.Add(RedisSetupProblem.CertificateNameMismatch);
            }

            return new RedisSetupDiagnosis(problems, certificate);
        }

        var failures = all.OfType<RedisConnectionException>().Select(e => e.FailureType).ToList();
        if (failureType is { } type)
        {
            failures.Add(type);
        }

        if (failures.Contains(ConnectionFailureType.AuthenticationFailure))
        {
            // Both a failed TLS handshake and a refused AUTH are an AuthenticationFailure.
            if (all.OfType<AuthenticationException>().FirstOrDefault() is { } handshake)
            {
                return new RedisSetupDiagnosis([RedisSetupProblem.TlsHandshakeFailed], Reason: handshake.Message);
            }

            return new RedisSetupDiagnosis([hasPassword ? RedisSetupProblem.PasswordRejected : RedisSetupProblem.PasswordMissing]);
        }

        // A TLS-only server resets a plaintext client's connection when its first command arrives.
        // Only before anything ever worked: later, a reset is an outage, not a set-up mistake.
        if (!ssl && !everConnected
            && (failures.Contains(ConnectionFailureType.SocketClosed)
                || (failures.Contains(ConnectionFailureType.SocketFailure) && all.Any(IsClosedByPeer))))
        {
            return new RedisSetupDiagnosis([RedisSetupProblem.TlsRequired]);
        }

        return null;
    }

    private static bool IsClosedByPeer(Exception exception) => exception is EndOfStreamException
        || exception is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted };

    private static IEnumerable<Exception> Flatten(Exception? exception, int depth = 0)
    {
        if (exception is null || depth > 8)
        {
            yield break;
        }

        yield return exception;
        var inner = exception is AggregateException aggregate ? aggregate.InnerExceptions : exception.InnerException is { } one ? [one] : [];
        foreach (var child in inner)
        {
            foreach (var descendant in Flatten(child, depth + 1))
            {
                yield return descendant;
            }
        }
    }
}
