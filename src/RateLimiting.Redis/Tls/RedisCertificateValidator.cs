using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RateLimiting.Redis.Store;

namespace RateLimiting.Redis.Tls;

/// <summary>
/// Validates a Redis server's TLS certificate: its chain must end at the CA of
/// <see cref="RedisStoreOptions.TrustedCaCertificatePath"/> when one is set (an <see cref="X509Chain"/>
/// in <see cref="X509ChainTrustMode.CustomRootTrust"/> mode), else at a root of the system store; its
/// name must match the host the client checks it against (<c>sslHost</c>), as
/// <see cref="SslStream"/> reports it. What is wrong with a rejected certificate goes to a callback
/// as a <see cref="RedisCertificateRejectedException"/>: how the client reports a refused
/// certificate ("the remote certificate was rejected", when and where) differs between its versions.
/// </summary>
internal sealed class RedisCertificateValidator
{
    private const string SubjectAlternativeNameOid = "2.5.29.17";
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private readonly X509Certificate2Collection? _trustedCas;
    private readonly bool _sslHostConfigured;
    private readonly Action<RedisCertificateRejectedException> _rejected;

    public RedisCertificateValidator(X509Certificate2Collection? trustedCas, bool sslHostConfigured, Action<RedisCertificateRejectedException> rejected)
    {
        _trustedCas = trustedCas;
        _sslHostConfigured = sslHostConfigured;
        _rejected = rejected;
    }

    /// <summary>Reads the PEM certificates of <paramref name="path"/>; throws when there is none or the file cannot be read.</summary>
    public static X509Certificate2Collection LoadTrustedCas(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        return certificates.Count > 0
            ? certificates
            : throw new CryptographicException("The file holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
    }

    /// <summary>A <see cref="RemoteCertificateValidationCallback"/>.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (_trustedCas is null && errors == SslPolicyErrors.None)
        {
            return true;
        }

        var host = (sender as SslStream)?.TargetHostName ?? string.Empty;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return Reject(new RedisCertificateRejectedException(RedisCertificateProblems.NotAvailable, host, _sslHostConfigured, _trustedCas is not null, string.Empty, []));
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var problems = RedisCertificateProblems.None;
        string chainStatus;
        if (_trustedCas is null)
        {
            chainStatus = errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors) ? StatusOf(chain) : string.Empty;
        }
        else
        {
            // The system's verdict on the chain does not count: only the configured CA does.
            chainStatus = ChainToTrustedCas(leaf, chain);
        }

        if (chainStatus.Length > 0)
        {
            problems |= RedisCertificateProblems.Untrusted;
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            problems |= RedisCertificateProblems.NameMismatch;
        }

        return problems == RedisCertificateProblems.None
            || Reject(new RedisCertificateRejectedException(problems, host, _sslHostConfigured, _trustedCas is not null, chainStatus, NamesOf(leaf)));
    }

    private bool Reject(RedisCertificateRejectedException rejection)
    {
        _rejected(rejection);
        return false;
    }

    /// <summary>Empty when <paramref name="leaf"/> chains to one of the configured CAs; else the chain's status.</summary>
    private string ChainToTrustedCas(X509Certificate2 leaf, X509Chain? presented)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trustedCas!);

        // A private CA rarely publishes revocation lists; the system path does not check them either.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (presented is not null)
        {
            // Intermediates the server sent.
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(leaf) ? string.Empty : StatusOf(chain);
    }

    private static string StatusOf(X509Chain? chain)
    {
        var statuses = chain?.ChainStatus
            .Select(status => status.Status)
            .Where(status => status != X509ChainStatusFlags.NoError)
            .Distinct()
            .Select(status => status.ToString())
            .ToArray();
        return statuses is { Length: > 0 } ? string.Join(", ", statuses) : "chain error";
    }

    private static List<string> NamesOf(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value == SubjectAlternativeNameOid)
            {
                var alternativeNames = new X509SubjectAlternativeNameExtension(extension.RawData, extension.Critical);
                names.AddRange(alternativeNames.EnumerateDnsNames());
                names.AddRange(alternativeNames.EnumerateIPAddresses().Select(address => address.ToString()));
            }
        }

        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false) is { Length: > 0 } commonName)
        {
            names.Add(commonName);
        }

        return names;
    }
}
