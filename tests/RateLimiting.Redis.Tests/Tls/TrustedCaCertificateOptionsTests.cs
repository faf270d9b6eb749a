using RateLimiting.Redis.Internal;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary><c>RateLimiting:Redis:TrustedCaCertificatePath</c> is checked at start-up: the file must exist and hold a PEM certificate, for a TLS configuration.</summary>
public sealed class TrustedCaCertificateOptionsTests : IDisposable
{
    private const string TlsConfiguration = "127.0.0.1:7000,ssl=true,sslHost=redis.test,password=hunter2";
    private readonly string _directory = Directory.CreateTempSubdirectory("rl-ca-options-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Validate_PemCaWithTlsConfiguration_Succeeds()
    {
        var result = Validate(TlsConfiguration, WriteFile("ca.crt", TestCertificates.NewCaPem()));

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Validate_NoSuchFile_FailsNamingTheKeyAndThePath()
    {
        var path = Path.Combine(_directory, "missing.crt");

        var result = Validate(TlsConfiguration, path);

        Assert.True(result.Failed);
        Assert.Contains($"RateLimiting:Redis:TrustedCaCertificatePath: there is no file '{path}'.", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a certificate")]
    [InlineData("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")]
    public void Validate_FileWithoutAPemCertificate_FailsNamingTheKey(string content)
    {
        var result = Validate(TlsConfiguration, WriteFile("bad.crt", content));

        Assert.True(result.Failed);
        Assert.Contains("RateLimiting:Redis:TrustedCaCertificatePath: '", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("is not a readable PEM certificate file", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_CaWithoutSsl_FailsAndNeverEchoesTheConfiguration()
    {
        var result = Validate("127.0.0.1:7000,password=hunter2", WriteFile("ca.crt", TestCertificates.NewCaPem()));

        Assert.True(result.Failed);
        Assert.Contains("RateLimiting:Redis:TrustedCaCertificatePath is set but RateLimiting:Redis:Configuration does not say ssl=true", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SslProtocolsKeyword_FailsNamingIt()
    {
        // StackExchange.Redis 1.2.6 on .NET does not know it; the operating system picks TLS 1.2/1.3.
        var result = Validate(TlsConfiguration + ",sslProtocols=Tls12", caPath: null);

        Assert.True(result.Failed);
        Assert.Contains("sslProtocols", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MissingCaFile_RefusesToStartNamingTheKey()
    {
        var settings = new Dictionary<string, string?>
        {
            ["RateLimiting:Redis:Configuration"] = TlsConfiguration,
            ["RateLimiting:Redis:TrustedCaCertificatePath"] = Path.Combine(_directory, "missing.crt"),
        };

        var error = await Assert.ThrowsAnyAsync<Exception>(() => TlsTestApp.StartAsync(settings));

        Assert.Contains("RateLimiting:Redis:TrustedCaCertificatePath: there is no file", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.ToString(), StringComparison.Ordinal);
    }

    private static Microsoft.Extensions.Options.ValidateOptionsResult Validate(string configuration, string? caPath)
    {
        var options = new RedisRateLimitingOptions();
        options.Redis.Configuration = configuration;
        options.Redis.TrustedCaCertificatePath = caPath;
        return new RedisOptionsValidator().Validate(name: null, options);
    }

    private string WriteFile(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }
}
