namespace RateLimiting.Redis.Diagnostics;

/// <summary>A set-up mistake that keeps the client from ever talking to Redis, as <see cref="RedisConnectionDiagnostics"/> names it.</summary>
internal enum RedisSetupProblem
{
    /// <summary>Redis refused the configured password (WRONGPASS, then NOAUTH).</summary>
    PasswordRejected,

    /// <summary>Redis requires a password (NOAUTH) and the configuration has none.</summary>
    PasswordMissing,

    /// <summary>The server certificate does not chain to a trusted root.</summary>
    CertificateUntrusted,

    /// <summary>The server certificate is not for the host name it is checked against (<c>sslHost</c>).</summary>
    CertificateNameMismatch,

    /// <summary>The server sent no certificate.</summary>
    CertificateMissing,

    /// <summary>A plaintext client (no <c>ssl=true</c>) whose connections the server closes during the handshake: a TLS-only server.</summary>
    TlsRequired,

    /// <summary>The TLS handshake failed for another reason (protocol versions, a server that does not speak TLS).</summary>
    TlsHandshakeFailed,
}
