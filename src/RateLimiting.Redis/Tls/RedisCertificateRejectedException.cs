using System.Security.Authentication;
using RateLimiting.Redis.Diagnostics;
using RateLimiting.Redis.Store;

namespace RateLimiting.Redis.Tls;

/// <summary>
/// What <see cref="RedisCertificateValidator"/> found wrong with a certificate it refused, for
/// <see cref="RedisConnectionDiagnostics"/>. The message names the host and the problem, never a secret.
/// </summary>
internal sealed class RedisCertificateRejectedException(RedisCertificateProblems problems, string host, bool sslHostConfigured, bool caConfigured, string chainStatus, IReadOnlyList<string> certificateNames)
    : AuthenticationException(Describe(problems, host, sslHostConfigured, caConfigured, chainStatus, certificateNames))
{
    public RedisCertificateProblems Problems { get; } = problems;

    /// <summary>The name the certificate was checked against: <c>sslHost</c>, or the endpoint's host without it.</summary>
    public string Host { get; } = host;

    public bool SslHostConfigured { get; } = sslHostConfigured;

    /// <summary>Whether the chain was checked against <see cref="RedisStoreOptions.TrustedCaCertificatePath"/> rather than the system store.</summary>
    public bool CaConfigured { get; } = caConfigured;

    /// <summary>The chain's status flags, e.g. <c>UntrustedRoot</c> or <c>PartialChain, NotTimeValid</c>; empty when the chain is fine.</summary>
    public string ChainStatus { get; } = chainStatus;

    /// <summary>The DNS names and IP addresses the certificate is for (its subject alternative names, else its common name).</summary>
    public IReadOnlyList<string> CertificateNames { get; } = certificateNames;

    internal static string UntrustedRemedy(bool caConfigured) => caConfigured
        ? "it does not chain to the CA in RateLimiting:Redis:TrustedCaCertificatePath: is that the CA that issued the servers' certificates?"
        : "set RateLimiting:Redis:TrustedCaCertificatePath to the PEM file of the CA that issued it, or trust that CA in the system store.";

    internal static string NameMismatchRemedy(bool sslHostConfigured) => sslHostConfigured
        ? "set sslHost= in RateLimiting:Redis:Configuration to a name the certificate is for."
        : "the configuration has no sslHost, so the endpoint's address was checked: add sslHost=<a name the certificate is for> to RateLimiting:Redis:Configuration.";

    internal static string Names(IReadOnlyList<string> names) => names.Count == 0 ? "no name" : string.Join(", ", names);

    private static string Describe(RedisCertificateProblems problems, string host, bool sslHostConfigured, bool caConfigured, string chainStatus, IReadOnlyList<string> names)
    {
        if (problems.HasFlag(RedisCertificateProblems.NotAvailable))
        {
            return $"The Redis server for {host} sent no certificate.";
        }

        var parts = new List<string>(2);
        if (problems.HasFlag(RedisCertificateProblems.Untrusted))
        {
            parts.Add($"The Redis server certificate for {host} is not trusted ({chainStatus}): {UntrustedRemedy(caConfigured)}");
        }

        if (problems.HasFlag(RedisCertificateProblems.NameMismatch))
        {
            parts.Add($"The Redis server certificate does not match sslHost '{host}' (it is for {Names(names)}): {NameMismatchRemedy(sslHostConfigured)}");
        }

        return string.Join(" ", parts);
    }
}
