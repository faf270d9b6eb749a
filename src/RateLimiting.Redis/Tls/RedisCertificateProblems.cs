namespace RateLimiting.Redis.Tls;

/// <summary>What <see cref="RedisCertificateValidator"/> found wrong with a Redis server's certificate.</summary>
[Flags]
internal enum RedisCertificateProblems
{
    None = 0,

    /// <summary>The server sent no certificate.</summary>
    NotAvailable = 1,

    /// <summary>The chain does not end at a trusted root (the configured CA, or the system store).</summary>
    Untrusted = 2,

    /// <summary>The certificate is not for the host name it was checked against (<c>sslHost</c>).</summary>
    NameMismatch = 4,
}
