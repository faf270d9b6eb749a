using Microsoft.Extensions.Logging;

namespace RateLimiting.Redis.Diagnostics;

internal sealed partial class RedisConnectionDiagnostics
{
    // EventIds 20-29: RedisConnection logs to the same category (RedisRateLimitStore) with its own,
    // low ones. The names are frozen once shipped: alerts match on them.
    private const string Meanwhile = " Until then the policies' failure modes answer.";

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, EventName = "RedisPasswordRejected", Level = LogLevel.Error,
            Message = "Redis rejected the password (WRONGPASS/NOAUTH): check password= in RateLimiting:Redis:Configuration." + Meanwhile)]
        public static partial void PasswordRejected(ILogger logger);

        [LoggerMessage(EventId = 21, EventName = "RedisPasswordMissing", Level = LogLevel.Error,
            Message = "Redis requires a password (NOAUTH) and RateLimiting:Redis:Configuration has none: add password=…." + Meanwhile)]
        public static partial void PasswordMissing(ILogger logger);

        [LoggerMessage(EventId = 22, EventName = "RedisCertificateUntrusted", Level = LogLevel.Error,
            Message = "The Redis server certificate for {SslHost} is not trusted ({ChainStatus}): {Remedy}" + Meanwhile)]
        public static partial void CertificateUntrusted(ILogger logger, string sslHost, string chainStatus, string remedy);

        [LoggerMessage(EventId = 23, EventName = "RedisCertificateNameMismatch", Level = LogLevel.Error,
            Message = "The Redis server certificate does not match sslHost '{SslHost}' (it is for {CertificateNames}): {Remedy}" + Meanwhile)]
        public static partial void CertificateNameMismatch(ILogger logger, string sslHost, string certificateNames, string remedy);

        [LoggerMessage(EventId = 24, EventName = "RedisCertificateMissing", Level = LogLevel.Error,
            Message = "The Redis server for {SslHost} sent no certificate." + Meanwhile)]
        public static partial void CertificateMissing(ILogger logger, string sslHost);

        [LoggerMessage(EventId = 25, EventName = "RedisTlsRequired", Level = LogLevel.Error,
            Message = "The Redis server closed the connection during the handshake: does the cluster require TLS (ssl=true)? RateLimiting:Redis:Configuration does not enable it." + Meanwhile)]
        public static partial void TlsRequired(ILogger logger);

        [LoggerMessage(EventId = 26, EventName = "RedisTlsHandshakeFailed", Level = LogLevel.Error,
            Message = "The TLS handshake with Redis failed ({Reason}): does the cluster speak TLS 1.2 or 1.3 on these ports?" + Meanwhile)]
        public static partial void TlsHandshakeFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 27, EventName = "RedisSetupProblemResolved", Level = LogLevel.Information,
            Message = "Redis decides again: the connection problem logged before is resolved.")]
        public static partial void Resolved(ILogger logger);
    }
}
