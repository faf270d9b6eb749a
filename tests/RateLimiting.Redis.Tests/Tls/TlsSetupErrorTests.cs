using System.Net;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>
/// Each way of getting the TLS/password set-up wrong is named in one log event saying what to
/// change, and requests meanwhile get the policy's failure mode, never a 500. Nothing logged holds
/// a password.
/// </summary>
[Collection(TlsRedisClusterCollection.Name)]
public sealed class TlsSetupErrorTests
{
    private const string WrongPassword = "not-the-password-4711";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly TlsRedisClusterFixture _cluster;

    public TlsSetupErrorTests(TlsRedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Request_WrongPassword_PasswordRejectedLoggedAndFailClosedAnswers503()
    {
        var outcome = await RunAsync($"ssl=true,sslHost=redis.test,password={WrongPassword}", _cluster.CaCertificatePath, "FailClosed", "RedisPasswordRejected");

        Assert.Contains("Redis rejected the password (WRONGPASS/NOAUTH)", outcome.Message, StringComparison.Ordinal);
        Assert.All(outcome.Responses, response => Assert.Equal((HttpStatusCode.ServiceUnavailable, "1"), response));
    }

    [Fact]
    public async Task Request_NoPassword_PasswordMissingLoggedAndFailOpenAdmits()
    {
        var outcome = await RunAsync("ssl=true,sslHost=redis.test", _cluster.CaCertificatePath, "FailOpen", "RedisPasswordMissing");

        Assert.Contains("Redis requires a password (NOAUTH)", outcome.Message, StringComparison.Ordinal);
        Assert.All(outcome.Responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
    }

    [Fact]
    public async Task Request_PrivateCaNotTrusted_CertificateUntrustedLoggedAndFailClosedAnswers503()
    {
        var outcome = await RunAsync($"ssl=true,sslHost=redis.test,password={_cluster.Password}", caPath: null, "FailClosed", "RedisCertificateUntrusted");

        Assert.Contains("certificate for redis.test is not trusted (UntrustedRoot)", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("set RateLimiting:Redis:TrustedCaCertificatePath", outcome.Message, StringComparison.Ordinal);
        Assert.All(outcome.Responses, response => Assert.Equal((HttpStatusCode.ServiceUnavailable, "1"), response));
    }

    [Fact]
    public async Task Request_AnotherCaConfigured_CertificateUntrustedLoggedAndFailOpenAdmits()
    {
        var otherCa = Path.Combine(Path.GetTempPath(), $"rl-other-ca-{Guid.NewGuid():N}.crt");
        await File.WriteAllTextAsync(otherCa, TestCertificates.NewCaPem());
        try
        {
            var outcome = await RunAsync($"ssl=true,sslHost=redis.test,password={_cluster.Password}", otherCa, "FailOpen", "RedisCertificateUntrusted");

            Assert.Contains("certificate for redis.test is not trusted", outcome.Message, StringComparison.Ordinal);
            Assert.Contains("does not chain to the CA in RateLimiting:Redis:TrustedCaCertificatePath", outcome.Message, StringComparison.Ordinal);
            Assert.All(outcome.Responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        }
        finally
        {
            File.Delete(otherCa);
        }
    }

    [Fact]
    public async Task Request_SslHostNotOnTheCertificate_NameMismatchLoggedAndFailOpenAdmits()
    {
        var outcome = await RunAsync($"ssl=true,sslHost=wrong.test,password={_cluster.Password}", _cluster.CaCertificatePath, "FailOpen", "RedisCertificateNameMismatch");

        Assert.Contains("does not match sslHost 'wrong.test' (it is for redis.test)", outcome.Message, StringComparison.Ordinal);
        Assert.All(outcome.Responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
    }

    [Fact]
    public async Task Request_NoSslHost_CheckedAgainstTheIpAndNameMismatchLogged()
    {
        // The certificate has no IP SAN: validating against the address connected to must fail.
        var outcome = await RunAsync($"ssl=true,password={_cluster.Password}", _cluster.CaCertificatePath, "FailClosed", "RedisCertificateNameMismatch");

        Assert.Contains("does not match sslHost '127.0.0.1' (it is for redis.test)", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("the configuration has no sslHost", outcome.Message, StringComparison.Ordinal);
        Assert.All(outcome.Responses, response => Assert.Equal((HttpStatusCode.ServiceUnavailable, "1"), response));
    }

    [Fact]
    public async Task Request_PlaintextClientAgainstTlsOnlyCluster_TlsRequiredLoggedAndLocalFallbackDecides()
    {
        var outcome = await RunAsync($"password={_cluster.Password}", caPath: null, "LocalFallback", "RedisTlsRequired");

        Assert.Contains("closed the connection during the handshake: does the cluster require TLS (ssl=true)?", outcome.Message, StringComparison.Ordinal);
        Assert.All(outcome.Responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
    }

    /// <summary>
    /// Starts an application with <paramref name="options"/> appended to the cluster's endpoints and
    /// sends requests until <paramref name="eventName"/> is logged. Every response so far must come
    /// from the failure mode, and no log entry may hold a password.
    /// </summary>
    private async Task<(string Message, List<(HttpStatusCode Status, string? RetryAfter)> Responses)> RunAsync(string options, string? caPath, string failureMode, string eventName)
    {
        var logs = new CapturingLoggerProvider();
        var settings = new Dictionary<string, string?>
        {
            ["RateLimiting:Redis:Configuration"] = _cluster.Configuration(options),
            ["RateLimiting:Redis:TrustedCaCertificatePath"] = caPath,
            ["RateLimiting:Redis:OperationTimeout"] = "00:00:01",
            ["RateLimiting:Policies:p:FailureMode"] = failureMode,
        };
        var responses = new List<(HttpStatusCode, string?)>();
        await using (var app = await TlsTestApp.StartAsync(settings, logs))
        {
            await Poll.UntilAsync(
                async () =>
                {
                    responses.Add(await app.GetLimitedAsync());
                    return logs.Entries.Any(entry => entry.EventId.Name == eventName);
                },
                logged => logged,
                Deadline);
        }

        Assert.DoesNotContain(logs.Entries, entry => entry.Text.Contains(_cluster.Password, StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, entry => entry.Text.Contains(WrongPassword, StringComparison.Ordinal));
        return (logs.Entries.First(entry => entry.EventId.Name == eventName).Text, responses);
    }
}
