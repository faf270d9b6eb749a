using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// Makes <see cref="RedisFaultProxy"/> terminate TLS: it accepts TLS from clients with the nodes'
/// own server certificate and opens TLS to the nodes, validated against <see cref="CaCertificatePath"/>
/// for <see cref="TargetHost"/>. A byte-level proxy cannot re-point a TLS connection (the session
/// belongs to the first node); a terminating one can, and it authenticates every route it opens
/// on behalf of a client that already did (see <see cref="Password"/>).
/// </summary>
/// <remarks>
/// The files are read on the first connection, not here: <c>eng/redis-cluster.sh start --tls</c>
/// makes them, and it wants the proxy listening before it starts the nodes. A failed read is
/// retried on the next connection.
/// </remarks>
public sealed class ProxyTls
{
    private readonly Lazy<X509Certificate2> _serverCertificate;
    private readonly Lazy<X509Certificate2Collection> _trustedCas;

    /// <param name="serverCertificatePath">The PEM certificate the proxy presents to clients (the nodes' own).</param>
    /// <param name="serverKeyPath">Its PEM private key.</param>
    /// <param name="caCertificatePath">The PEM CA the nodes' certificates are checked against.</param>
    /// <param name="targetHost">The name the nodes' certificate is for (SNI and name check).</param>
    /// <param name="password">
    /// The password the proxy sends (<c>AUTH</c>) on a route it opens for a connection that is
    /// re-pointed: the client authenticated with its first node only, and the new one would answer
    /// <c>NOAUTH</c>. The proxy swallows the <c>+OK</c>. <see langword="null"/>: no password.
    /// </param>
    public ProxyTls(string serverCertificatePath, string serverKeyPath, string caCertificatePath, string targetHost, string? password)
    {
        ArgumentException.ThrowIfNullOrEmpty(serverCertificatePath);
        ArgumentException.ThrowIfNullOrEmpty(serverKeyPath);
        ArgumentException.ThrowIfNullOrEmpty(caCertificatePath);
        ArgumentException.ThrowIfNullOrEmpty(targetHost);
        ServerCertificatePath = serverCertificatePath;
        ServerKeyPath = serverKeyPath;
        CaCertificatePath = caCertificatePath;
        TargetHost = targetHost;
        Password = password;
        _serverCertificate = new(LoadServerCertificate, LazyThreadSafetyMode.PublicationOnly);
        _trustedCas = new(LoadTrustedCas, LazyThreadSafetyMode.PublicationOnly);
    }

    public string ServerCertificatePath { get; }

    public string ServerKeyPath { get; }

    public string CaCertificatePath { get; }

    public string TargetHost { get; }

    public string? Password { get; }

    /// <summary>Accepts TLS from a client on <paramref name="client"/>.</summary>
    internal async Task<SslStream> AuthenticateClientAsync(Stream client, CancellationToken cancellationToken)
    {
        var stream = new SslStream(client, leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions { ServerCertificate = _serverCertificate.Value, ClientCertificateRequired = false },
                cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens TLS to a node on <paramref name="upstream"/>; with <paramref name="authenticate"/> and a
    /// <see cref="Password"/>, also sends <c>AUTH</c> and consumes its <c>+OK</c>.
    /// </summary>
    internal async Task<SslStream> AuthenticateUpstreamAsync(Stream upstream, bool authenticate, CancellationToken cancellationToken)
    {
        var stream = new SslStream(upstream, leaveInnerStreamOpen: false);
        try
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(_trustedCas.Value);
            await stream.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = TargetHost, CertificateChainPolicy = policy },
                cancellationToken).ConfigureAwait(false);
            if (authenticate && Password is not null)
            {
                await AuthAsync(stream, Password, cancellationToken).ConfigureAwait(false);
            }

            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task AuthAsync(Stream stream, string password, CancellationToken cancellationToken)
    {
        var length = Encoding.UTF8.GetByteCount(password);
        await stream.WriteAsync(Encoding.UTF8.GetBytes($"*2\r\n$4\r\nAUTH\r\n${length}\r\n{password}\r\n"), cancellationToken).ConfigureAwait(false);

        // Nothing else is in flight on this route yet: the reply is one line, and nothing follows it.
        var reply = new List<byte>();
        var buffer = new byte[1];
        while (reply.Count < 2 || reply[^2] != '\r' || reply[^1] != '\n')
        {
            if (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new IOException("The node closed the connection before it answered AUTH.");
            }

            reply.Add(buffer[0]);
            if (reply.Count > 512)
            {
                throw new InvalidDataException("The node's reply to AUTH is not one line.");
            }
        }

        var line = Encoding.UTF8.GetString([.. reply]).TrimEnd();
        if (line != "+OK")
        {
            throw new AuthenticationException($"The node answered AUTH with '{line}'.");
        }
    }

    private X509Certificate2 LoadServerCertificate()
    {
        // SslStream on Linux wants a certificate whose key it can use: re-import through PKCS12.
        using var pem = X509Certificate2.CreateFromPemFile(ServerCertificatePath, ServerKeyPath);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    private X509Certificate2Collection LoadTrustedCas()
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(CaCertificatePath);
        return certificates.Count > 0
            ? certificates
            : throw new InvalidOperationException($"{CaCertificatePath} holds no PEM certificate.");
    }
}
