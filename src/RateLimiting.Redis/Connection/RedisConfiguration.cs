using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>Turns <see cref="RedisStoreOptions"/> into the client's configuration; the one place for connection settings (TLS, credentials).</summary>
internal static class RedisConfiguration
{
    private const SslProtocols SupportedSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
    private const int ReconnectBackOffMilliseconds = 250;
    private const int MaxReconnectBackOffMilliseconds = 5000;

    /// <summary>
    /// The configuration string as the user wrote it (<c>ssl=true,sslHost=…,password=…</c>), plus:
    /// never abort on a failed connect, and, with <c>ssl=true</c>, our certificate validation
    /// (<see cref="RedisCertificateValidator"/>), which tells <paramref name="rejected"/> why it
    /// refused a certificate.
    /// </summary>
    /// <remarks>
    /// TLS protocol versions: without <c>sslProtocols=</c> the operating system chooses (TLS 1.3 or
    /// 1.2 with OpenSSL 3); <see cref="Check"/> lets it name only those two. Every (re)connect builds
    /// a new configuration, which reads the CA file again.
    /// </remarks>
    public static ConfigurationOptions Create(RedisStoreOptions options, Action<RedisCertificateRejectedException> rejected)
    {
        var configuration = ConfigurationOptions.Parse(options.Configuration!);

        // Keep retrying in the background instead of failing start-up: the policy's failure mode
        // answers until Redis is reachable.
        configuration.AbortOnConnectFail = false;

        // A broken connection is dialled again at a heartbeat (1 s) once ExponentialRetry(connectTimeout / 2)
        // allows: 1.5 s after a misroute ended on 2.13.23, while the failure mode answered. From a
        // quarter second it was 0.6 s; the back-off still grows, to 5 s, against a cluster that
        // stays down. (A shorter heartbeat made callers of a black-holed master wait up to 1 s past
        // their deadline on 2.13.23, so it stays the client's.)
        configuration.ReconnectRetryPolicy = new ExponentialRetry(ReconnectBackOffMilliseconds, MaxReconnectBackOffMilliseconds);
        if (configuration.Ssl)
        {
            var trustedCas = options.TrustedCaCertificatePath is { Length: > 0 } path ? LoadTrustedCas(path) : null;
            var validator = new RedisCertificateValidator(trustedCas, sslHostConfigured: !string.IsNullOrWhiteSpace(configuration.SslHost), rejected);
            configuration.CertificateValidation += validator.Validate;
        }

        return configuration;
    }

    /// <summary>The CA file was checked at start-up; one that went missing since fails this connect attempt, saying so.</summary>
    private static X509Certificate2Collection LoadTrustedCas(string path)
    {
        try
        {
            return RedisCertificateValidator.LoadTrustedCas(path);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"RateLimiting:Redis:TrustedCaCertificatePath: '{path}' is not a readable PEM certificate file any more: {ex.Message}", ex);
        }
    }

    /// <summary>Null when <paramref name="configuration"/> parses; else what is wrong, without echoing it.</summary>
    public static string? Check(string configuration)
    {
        try
        {
            var parsed = ConfigurationOptions.Parse(configuration);
            return parsed.EndPoints.Count == 0 ? "it names no endpoint." : CheckSslProtocols(parsed);
        }
        catch (ArgumentException ex)
        {
            // StackExchange.Redis names the offending keyword, never the value of a secret one.
            return ex.Message;
        }
    }

    // SSL 3, TLS 1.0 and 1.1 are disabled in every supported OpenSSL and Windows: naming them fails every connect.
    private static string? CheckSslProtocols(ConfigurationOptions parsed) => parsed.SslProtocols switch
    {
        null => null,
        _ when !parsed.Ssl => "sslProtocols= needs ssl=true.",
        var protocols when protocols == SslProtocols.None || (protocols & ~SupportedSslProtocols) != 0
            => $"sslProtocols= may name only Tls12 and Tls13 (e.g. sslProtocols=Tls12|Tls13), not {protocols}.",
        _ => null,
    };

    /// <summary>Whether a configuration string (one that <see cref="Check"/> accepts) says <c>ssl=true</c>.</summary>
    public static bool UsesTls(string configuration) => ConfigurationOptions.Parse(configuration).Ssl;

    /// <summary>Null when <paramref name="path"/> is a readable PEM file with at least one certificate; else what is wrong.</summary>
    public static string? CheckTrustedCaCertificate(string path)
    {
        if (!File.Exists(path))
        {
            return $"there is no file '{path}'.";
        }

        try
        {
            RedisCertificateValidator.LoadTrustedCas(path);
            return null;
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return $"'{path}' is not a readable PEM certificate file: {ex.Message}";
        }
    }
}
