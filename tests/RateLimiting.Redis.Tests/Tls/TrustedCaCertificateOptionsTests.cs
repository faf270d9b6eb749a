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

    [Theory]
    [InlineData("Tls12")]
    [InlineData("Tls13")]
    [InlineData("Tls12|Tls13")]
    public void Validate_SslProtocolsTls12Or13_Succeeds(string protocols)
    {
        var result = Validate(TlsConfiguration + ",sslProtocols=" + protocols, caPath: null);

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("Tls11", "may name only Tls12 and Tls13")]
    [InlineData("Ssl3|Tls12", "may name only Tls12 and Tls13")]
    [InlineData("None", "may name only Tls12 and Tls13")]
    [InlineData("Tls14", "sslProtocols")]
    public void Validate_SslProtocolsOtherThanTls12Or13_FailsNamingIt(string protocols, string expected)
    {
        var result = Validate(TlsConfiguration + ",sslProtocols=" + protocols, caPath: null);

        Assert.True(result.Failed);
        Assert.Contains("sslProtocols", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SslProtocolsWithoutSsl_FailsNamingIt()
    {
        var result = Validate("127.0.0.1:7000,sslProtocols=Tls12", caPath: null);

        Assert.True(result.Failed);
        Assert.Contains("sslProtocols= needs ssl=true", result.FailureMessage, StringComparison.Ordinal);
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
        return new RedisRateLimitingOptionsValidator().Validate(name: null, options);
    }

    private string WriteFile(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }
}
