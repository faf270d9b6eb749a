using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using RateLimiting.Redis.Tls;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>The certificate rule without a server: chain to the configured CA (or the system store), name as SslStream checked it.</summary>
public sealed class RedisCertificateValidatorTests : IDisposable
{
    private readonly X509Certificate2 _ca = TestCertificates.NewCa("Validator test CA");
    private readonly X509Certificate2 _otherCa = TestCertificates.NewCa("Another CA");
    private readonly X509Certificate2 _server;
    private readonly X509Certificate2 _serverOfOtherCa;

    public RedisCertificateValidatorTests()
    {
        _server = TestCertificates.NewServer(_ca, "redis.test");
        _serverOfOtherCa = TestCertificates.NewServer(_otherCa, "redis.test");
    }

    public void Dispose()
    {
        _server.Dispose();
        _serverOfOtherCa.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public void Validate_ChainsToConfiguredCa_AcceptedThoughTheSystemDoesNotTrustIt()
    {
        var validator = new RedisCertificateValidator(Trusting(_ca), sslHostConfigured: true, _rejections.Add);

        Assert.True(validator.Validate(this, _server, chain: null, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void Validate_IssuedByAnotherCa_RejectedAsUntrustedNamingTheConfiguredCa()
    {
        var validator = new RedisCertificateValidator(Trusting(_ca), sslHostConfigured: true, _rejections.Add);

        Assert.False(validator.Validate(this, _serverOfOtherCa, chain: null, SslPolicyErrors.RemoteCertificateChainErrors));
        var rejected = Assert.Single(_rejections);

        Assert.Equal(RedisCertificateProblems.Untrusted, rejected.Problems);
        Assert.True(rejected.CaConfigured);
        Assert.NotEmpty(rejected.ChainStatus);
        Assert.Contains("does not chain to the CA in RateLimiting:Redis:TrustedCaCertificatePath", rejected.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SystemStoreRejectsTheChain_RejectedWithItsChainStatus()
    {
        var validator = new RedisCertificateValidator(trustedCas: null, sslHostConfigured: true, _rejections.Add);
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.False(chain.Build(_server));

        Assert.False(validator.Validate(this, _server, chain, SslPolicyErrors.RemoteCertificateChainErrors));
        var rejected = Assert.Single(_rejections);

        Assert.Equal(RedisCertificateProblems.Untrusted, rejected.Problems);
        Assert.False(rejected.CaConfigured);
        Assert.Contains("set RateLimiting:Redis:TrustedCaCertificatePath", rejected.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NameMismatch_RejectedNamingTheCertificatesNames()
    {
        var validator = new RedisCertificateValidator(Trusting(_ca), sslHostConfigured: true, _rejections.Add);

        Assert.False(validator.Validate(this, _server, chain: null, SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateChainErrors));
        var rejected = Assert.Single(_rejections);

        Assert.Equal(RedisCertificateProblems.NameMismatch, rejected.Problems);
        Assert.Equal(["redis.test"], rejected.CertificateNames);
    }

    [Fact]
    public void Validate_SystemTrustsAndNameMatches_Accepted()
    {
        var validator = new RedisCertificateValidator(trustedCas: null, sslHostConfigured: true, _rejections.Add);

        Assert.True(validator.Validate(this, _server, chain: null, SslPolicyErrors.None));
    }

    [Fact]
    public void Validate_NoCertificate_Rejected()
    {
        var validator = new RedisCertificateValidator(Trusting(_ca), sslHostConfigured: true, _rejections.Add);

        Assert.False(validator.Validate(this, certificate: null, chain: null, SslPolicyErrors.RemoteCertificateNotAvailable));
        var rejected = Assert.Single(_rejections);

        Assert.Equal(RedisCertificateProblems.NotAvailable, rejected.Problems);
    }

    private readonly List<RedisCertificateRejectedException> _rejections = [];

    private static X509Certificate2Collection Trusting(X509Certificate2 ca)
        => [X509CertificateLoader.LoadCertificate(ca.RawData)];
}
