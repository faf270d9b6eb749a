using System.Net.Sockets;
using System.Security.Authentication;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Diagnostics;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Tls;

// The failures are built the way the client builds them; 3.x marks these constructors obsolete
// (it prefers overloads 2.7 does not have), so one source serves every leg of the matrix.
#pragma warning disable CS0618

/// <summary>Which failures are set-up mistakes, and that each is logged once, not once per request.</summary>
public sealed class RedisConnectionDiagnosticsTests
{
    [Fact]
    public void Diagnose_ConnectionRefused_NotASetUpProblem()
    {
        var refused = NoConnection(Failure(ConnectionFailureType.SocketFailure, "SocketFailure on 127.0.0.1:1/Interactive"));

        Assert.Null(RedisSetupDiagnoser.Diagnose(refused, failureType: null, ssl: false, hasPassword: false, everConnected: false));
    }

    [Fact]
    public void Diagnose_ResetDuringTheFirstHandshakeWithoutSsl_TlsRequired()
    {
        var diagnosis = RedisSetupDiagnoser.Diagnose(Reset(), failureType: null, ssl: false, hasPassword: true, everConnected: false);

        Assert.Equal([RedisSetupProblem.TlsRequired], diagnosis?.Problems);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Diagnose_ResetWithSslOrAfterItWorked_NotASetUpProblem(bool ssl, bool everConnected)
    {
        Assert.Null(RedisSetupDiagnoser.Diagnose(Reset(), failureType: null, ssl, hasPassword: true, everConnected));
    }

    [Theory]
    [InlineData(true, nameof(RedisSetupProblem.PasswordRejected))]
    [InlineData(false, nameof(RedisSetupProblem.PasswordMissing))]
    public void Diagnose_AuthenticationFailureFromRedis_PasswordProblem(bool hasPassword, string expected)
    {
        var failure = NoConnection(Failure(ConnectionFailureType.AuthenticationFailure, "AuthenticationFailure on 127.0.0.1:1/Interactive", new InvalidOperationException("Error: NOAUTH Authentication required.")));

        var diagnosis = RedisSetupDiagnoser.Diagnose(failure, failureType: null, ssl: true, hasPassword, everConnected: false);

        Assert.Equal([Enum.Parse<RedisSetupProblem>(expected)], diagnosis?.Problems);
    }

    [Fact]
    public void Diagnose_AuthenticationFailureFromTheTlsHandshake_TlsHandshakeFailedWithItsReason()
    {
        var failure = Failure(ConnectionFailureType.AuthenticationFailure, "AuthenticationFailure on 127.0.0.1:1/Interactive", new AuthenticationException("protocol version not supported"));

        var diagnosis = RedisSetupDiagnoser.Diagnose(failure, ConnectionFailureType.AuthenticationFailure, ssl: true, hasPassword: true, everConnected: false);

        Assert.Equal([RedisSetupProblem.TlsHandshakeFailed], diagnosis?.Problems);
        Assert.Equal("protocol version not supported", diagnosis?.Reason);
    }

    [Fact]
    public void Diagnose_CertificateRejectedDeepInside_BothProblemsNamed()
    {
        var rejected = new RedisCertificateRejectedException(RedisCertificateProblems.Untrusted | RedisCertificateProblems.NameMismatch, "wrong.test", sslHostConfigured: true, caConfigured: false, "UntrustedRoot", ["redis.test"]);
        var failure = NoConnection(Failure(ConnectionFailureType.AuthenticationFailure, "AuthenticationFailure on 127.0.0.1:1/Interactive", rejected));

        var diagnosis = RedisSetupDiagnoser.Diagnose(failure, failureType: null, ssl: true, hasPassword: true, everConnected: false);

        Assert.Equal([RedisSetupProblem.CertificateUntrusted, RedisSetupProblem.CertificateNameMismatch], diagnosis?.Problems);
        Assert.Same(rejected, diagnosis?.Certificate);
    }

    [Fact]
    public void OnFailure_SameProblemAgain_LoggedOnceUntilResolvedOrAMinutePassed()
    {
        // Arrange
        var logs = new CapturingLoggerProvider();
        var time = new FakeClock(Instant.FromUtc(2026, 1, 1, 0, 0));
        var diagnostics = new RedisConnectionDiagnostics(new RedisStoreOptions { Configuration = "127.0.0.1:1,password=secret" }, logs.CreateLogger("test"), time);
        var failure = NoConnection(Failure(ConnectionFailureType.AuthenticationFailure, "AuthenticationFailure on 127.0.0.1:1/Interactive"));

        // Act
        diagnostics.OnFailure(failure);
        diagnostics.OnFailure(failure);
        time.Advance(Duration.FromSeconds(61));
        diagnostics.OnFailure(failure);
        diagnostics.OnSuccess();
        diagnostics.OnSuccess();
        diagnostics.OnFailure(failure);

        // Assert
        Assert.Equal(
            ["RedisPasswordRejected", "RedisPasswordRejected", "RedisSetupProblemResolved", "RedisPasswordRejected"],
            logs.Entries.Select(entry => entry.EventId.Name));
        Assert.DoesNotContain(logs.Entries, entry => entry.Text.Contains("secret", StringComparison.Ordinal));
    }

    private static RedisConnectionException Failure(ConnectionFailureType type, string message, Exception? inner = null)
        => inner is null ? new RedisConnectionException(type, message) : new RedisConnectionException(type, message, inner);

    private static RedisConnectionException NoConnection(RedisConnectionException endpointFailure)
        => Failure(ConnectionFailureType.UnableToResolvePhysicalConnection, "No connection is available to service this operation: EVAL", new AggregateException(endpointFailure));

    private static RedisConnectionException Reset()
        => NoConnection(Failure(
            ConnectionFailureType.SocketFailure,
            "SocketFailure on 127.0.0.1:1/Interactive",
            new AggregateException(new IOException("Unable to read data from the transport connection", new SocketException((int)SocketError.ConnectionReset)))));
}
