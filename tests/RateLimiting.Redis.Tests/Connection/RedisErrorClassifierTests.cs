using System.Net;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Connection;

// The failures are built the way the client builds them; 3.x marks these constructors obsolete
// (it prefers overloads 2.7 does not have), so one source serves every leg of the matrix.
#pragma warning disable CS0618

/// <summary>What each client version's failures mean for the connection, without a cluster.</summary>
public sealed class RedisErrorClassifierTests
{
    private static readonly EndPoint Routed = new IPEndPoint(IPAddress.Loopback, 7000);

    [Theory]
    [InlineData("MOVED 3999 127.0.0.1:7000", nameof(RedisFaultKind.MovedLoop))] // names the node the slot is routed to
    [InlineData("MOVED 3999 127.0.0.1:7001", nameof(RedisFaultKind.None))] // another node: resharding
    [InlineData("MOVED garbage", nameof(RedisFaultKind.MovedLoop))] // unparseable: nothing to follow
    [InlineData("Key has MOVED to Endpoint 127.0.0.1:7000 and hashslot 3999 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA. ", nameof(RedisFaultKind.Connection))]
    [InlineData("Key has MOVED but CommandFlags.NoRedirect was specified - redirect not followed. ", nameof(RedisFaultKind.Connection))] // persisting, not counted
    [InlineData("CLUSTERDOWN The cluster is down", nameof(RedisFaultKind.Connection))]
    [InlineData("MASTERDOWN Link with MASTER is down", nameof(RedisFaultKind.Connection))]
    [InlineData("LOADING Redis is loading the dataset in memory", nameof(RedisFaultKind.Connection))]
    [InlineData("READONLY You can't write against a read only replica.", nameof(RedisFaultKind.Connection))]
    [InlineData("TRYAGAIN Multiple keys request during rehashing of slot", nameof(RedisFaultKind.None))]
    [InlineData("ERR Error running script (call to f_1): @user_script:1: oops", nameof(RedisFaultKind.None))]
    [InlineData("MOVEDX 1 127.0.0.1:7000", nameof(RedisFaultKind.None))] // a code is a whole word
    public void Classify_ServerError_ByItsCode(string message, string expected)
    {
        Assert.Equal(Enum.Parse<RedisFaultKind>(expected), RedisErrorClassifier.Classify(new RedisServerException(message), IsRoutedTo));
    }

    [Theory]
    [InlineData("CLUSTERDOWN The cluster is down", true)]
    [InlineData("LOADING Redis is loading the dataset in memory", true)]
    [InlineData("MOVED 3999 127.0.0.1:7001", false)]
    [InlineData("ASK 3999 127.0.0.1:7001", false)]
    [InlineData("Key has MOVED to Endpoint 127.0.0.1:7001 and hashslot 3999 but CommandFlags.NoRedirect was specified - redirect not followed for EXISTS. ", false)]
    public void IsAnsweredByOwner_ProbeErrorReply_OnlyTheOwnersOwn(string message, bool expected)
    {
        Assert.Equal(expected, RedisErrorClassifier.IsAnsweredByOwner(new RedisServerException(message)));
        Assert.False(RedisErrorClassifier.IsAnsweredByOwner(new TimeoutException()));
    }

    [Fact]
    public void CauseOf_EachFailure_NamesWhatABreakerLogs()
    {
        var refused = new RedisConnectionException(ConnectionFailureType.UnableToConnect, "UnableToConnect on 127.0.0.1:7000", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused));
        var certificate = new RedisConnectionException(ConnectionFailureType.UnableToConnect, "UnableToConnect", new RedisCertificateRejectedException(RedisCertificateProblems.Untrusted, "redis.test", sslHostConfigured: true, caConfigured: false, "UntrustedRoot", []));

        Assert.Equal("timeouts", RedisErrorClassifier.CauseOf(new TimeoutException()));
        Assert.Equal("timeouts", RedisErrorClassifier.CauseOf(new RedisTimeoutException("Timeout awaiting response", CommandStatus.Sent)));
        Assert.Equal("authentication", RedisErrorClassifier.CauseOf(new RedisConnectionException(ConnectionFailureType.AuthenticationFailure, "WRONGPASS")));
        Assert.Equal("refused", RedisErrorClassifier.CauseOf(refused));
        Assert.Equal("certificate", RedisErrorClassifier.CauseOf(certificate));
        Assert.Equal("connection errors", RedisErrorClassifier.CauseOf(new RedisConnectionException(ConnectionFailureType.SocketClosed, "SocketClosed")));
        Assert.Equal("MOVED loop", RedisErrorClassifier.CauseOf(new RedisServerException("MOVED 3999 127.0.0.1:7000")));
        Assert.Equal("CLUSTERDOWN", RedisErrorClassifier.CauseOf(new RedisServerException("CLUSTERDOWN The cluster is down")));
    }

    [Fact]
    public void Classify_ClientFailures_TimeoutAndConnection()
    {
        Assert.Equal(RedisFaultKind.Timeout, RedisErrorClassifier.Classify(new TimeoutException(), IsRoutedTo));
        Assert.Equal(RedisFaultKind.Timeout, RedisErrorClassifier.Classify(new RedisTimeoutException("Timeout awaiting response", CommandStatus.Sent), IsRoutedTo));
        Assert.Equal(RedisFaultKind.Connection, RedisErrorClassifier.Classify(new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No connection is active/available to service this operation: EVALSHA"), IsRoutedTo));
        Assert.Equal(RedisFaultKind.None, RedisErrorClassifier.Classify(new InvalidOperationException(), IsRoutedTo));
    }

    [Theory]
    [InlineData("TRYAGAIN Multiple keys request during rehashing of slot", true)]
    [InlineData("MOVED 3999 127.0.0.1:7001", true)]
    [InlineData("MOVED 3999 127.0.0.1:7000", false)]
    [InlineData("ASK 3999 127.0.0.1:7001", false)] // the client follows ASK itself
    public void IsResharding_RetriedWithinTheDeadline(string message, bool expected)
    {
        Assert.Equal(expected, RedisErrorClassifier.IsResharding(new RedisServerException(message), IsRoutedTo));
    }

    [Theory]
    [InlineData("NOSCRIPT No matching script. Please use EVAL.", true)]
    [InlineData("NOSCRIPTS", false)]
    [InlineData("ERR NOSCRIPT", false)]
    public void IsNoScript_ByItsCode(string message, bool expected)
    {
        Assert.Equal(expected, RedisErrorClassifier.IsNoScript(new RedisServerException(message)));
    }

    [Theory]
    [InlineData("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'", true)] // Redis 6
    [InlineData("ERR Unexpected flag in script shebang: no-such-flag", true)] // Redis 7, a flag it does not know
    [InlineData("ERR user_script:12: Script attempted to access nonexistent global variable 'x'", false)] // ran, then failed
    public void IsScriptRejected_OnlyWhenTheServerCannotCompileIt(string message, bool expected)
    {
        Assert.Equal(expected, RedisErrorClassifier.IsScriptRejected(new RedisServerException(message)));
    }

    [Theory]
    [InlineData("READONLY You can't write against a read only replica.", true)]
    [InlineData("CLUSTERDOWN The cluster is down", true)]
    [InlineData("BUSY Redis is busy running a script.", true)]
    [InlineData("OOM command not allowed when used memory > 'maxmemory'.", true)]
    [InlineData("MOVED 3999 127.0.0.1:7001", true)]
    [InlineData("ERR user_script:3: WRONGTYPE Operation against a key holding the wrong kind of value", false)] // may have written
    [InlineData("BUSYKEY Target key name already exists.", false)]
    public void IsRefusedBeforeRunning_ByItsCode(string message, bool expected)
    {
        Assert.Equal(expected, RedisErrorClassifier.IsRefusedBeforeRunning(new RedisServerException(message)));
    }

    private static bool IsRoutedTo(int slot, EndPoint named) => named.Equals(Routed);
}
