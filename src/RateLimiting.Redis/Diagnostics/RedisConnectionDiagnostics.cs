using Microsoft.Extensions.Logging;
using NodaTime;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;

namespace RateLimiting.Redis.Diagnostics;

/// <summary>
/// Names the set-up mistakes that keep a client from ever talking to Redis (wrong or missing
/// password, untrusted certificate, certificate for another host, plaintext client against a
/// TLS-only cluster) in one log event each, with a stable EventId and what to change, on every
/// client version. Certificates are judged by our own validator, which reports here directly. The
/// rest is read from what StackExchange.Redis reports: the
/// <see cref="IConnectionMultiplexer.ConnectionFailed"/> event's <see cref="ConnectionFailureType"/>
/// and exception, and the exceptions of failed calls, including those that fail after the decision
/// stopped waiting (the client raises ConnectionFailed once per endpoint and outage, often before
/// its ConnectAsync returns and so before anyone can listen; a command kept in its backlog fails
/// with the connection's last error). Requests meanwhile get the policies' failure modes. Each
/// problem is logged again at most once a minute while it lasts; never the password or the
/// configuration string.
/// </summary>
internal sealed partial class RedisConnectionDiagnostics
{
    private static readonly TimeSpan RepeatAfter = TimeSpan.FromMinutes(1);
    private static readonly int ProblemCount = Enum.GetValues<RedisSetupProblem>().Length;

    private readonly ILogger _logger;
    private readonly IClock _clock;
    private readonly long[] _loggedAt = new long[ProblemCount]; // Unix ticks; 0 before the first
    private readonly bool _learnFromMultiplexer;
    private bool _ssl;
    private bool _hasPassword;
    private int _problemLogged;
    private int _everConnected;
    private IConnectionMultiplexer? _attached;
    private string? _currentProblem;

    public RedisConnectionDiagnostics(RedisStoreOptions options, ILogger logger, IClock clock)
    {
        _logger = logger;
        _clock = clock;
        _learnFromMultiplexer = options.ConnectionFactory is not null;
        if (!_learnFromMultiplexer && options.Configuration is { } configuration && RedisConfiguration.Check(configuration) is null)
        {
            Learn(ConfigurationOptions.Parse(configuration));
        }
    }

    /// <summary>
    /// Gets the kind of set-up problem last diagnosed (<c>authentication</c>, <c>certificate</c>,
    /// <c>TLS handshake</c>), until a call succeeds; null when none was.
    /// </summary>
    public string? CurrentProblem => Volatile.Read(ref _currentProblem);

    /// <summary>Call after a successful call: logs that an earlier problem is over.</summary>
    public void OnSuccess()
    {
        if (Volatile.Read(ref _currentProblem) is not null)
        {
            Volatile.Write(ref _currentProblem, null);
        }

        // Reads only, on the hot path, once things work.
        if (Volatile.Read(ref _everConnected) == 0)
        {
            Volatile.Write(ref _everConnected, 1);
        }

        if (Volatile.Read(ref _problemLogged) != 0 && Interlocked.Exchange(ref _problemLogged, 0) != 0)
        {
            Array.Clear(_loggedAt);
            Log.Resolved(_logger);
        }
    }

    /// <summary>Call after a failed call (not a canceled one).</summary>
    public void OnFailure(Exception exception)
        => Report(RedisSetupDiagnoser.Diagnose(exception, failureType: null, _ssl, _hasPassword, everConnected: Volatile.Read(ref _everConnected) != 0));

    /// <summary>Called by <see cref="RedisCertificateValidator"/> for every certificate it rejects.</summary>
    public void OnCertificateRejected(RedisCertificateRejectedException rejection) => Report(RedisSetupDiagnoser.Diagnose(rejection, failureType: null, _ssl, _hasPassword, everConnected: false));

    /// <summary>Watches a multiplexer's connection events; once per multiplexer.</summary>
    public void Attach(IConnectionMultiplexer? multiplexer)
    {
        var previous = Volatile.Read(ref _attached);
        if (multiplexer is null || ReferenceEquals(previous, multiplexer)
            || !ReferenceEquals(Interlocked.CompareExchange(ref _attached, multiplexer, previous), previous))
        {
            return;
        }

        if (_learnFromMultiplexer)
        {
            // A ConnectionFactory's multiplexer: what it was configured with, the password masked.
            Learn(ConfigurationOptions.Parse(multiplexer.Configuration));
        }

        multiplexer.ConnectionFailed += (_, e) =>
            Report(RedisSetupDiagnoser.Diagnose(e.Exception, e.FailureType, _ssl, _hasPassword, everConnected: Volatile.Read(ref _everConnected) != 0));
        multiplexer.ConnectionRestored += (_, _) => Volatile.Write(ref _everConnected, 1);
    }

    private void Learn(ConfigurationOptions configuration)
    {
        _ssl = configuration.Ssl;
        _hasPassword = !string.IsNullOrEmpty(configuration.Password);
    }

    private void Report(RedisSetupDiagnosis? diagnosis)
    {
        if (diagnosis is null)
        {
            return;
        }

        Volatile.Write(ref _currentProblem, diagnosis.Problems.Count == 0 ? null : diagnosis.Problems[0] switch
        {
            RedisSetupProblem.PasswordRejected or RedisSetupProblem.PasswordMissing => "authentication",
            RedisSetupProblem.TlsRequired or RedisSetupProblem.TlsHandshakeFailed => "TLS handshake",
            _ => "certificate",
        });

        foreach (var problem in diagnosis.Problems)
        {
            if (!ShouldLog(problem))
            {
                continue;
            }

            Volatile.Write(ref _problemLogged, 1);
            var certificate = diagnosis.Certificate;
            switch (problem)
            {
                case RedisSetupProblem.PasswordRejected:
                    Log.PasswordRejected(_logger);
                    break;
                case RedisSetupProblem.PasswordMissing:
                    Log.PasswordMissing(_logger);
                    break;
                case RedisSetupProblem.CertificateUntrusted:
                    Log.CertificateUntrusted(_logger, certificate!.Host, certificate.ChainStatus, RedisCertificateRejectedException.UntrustedRemedy(certificate.CaConfigured));
                    break;
                case RedisSetupProblem.CertificateNameMismatch:
                    Log.CertificateNameMismatch(_logger, certificate!.Host, RedisCertificateRejectedException.Names(certificate.CertificateNames), RedisCertificateRejectedException.NameMismatchRemedy(certificate.SslHostConfigured));
                    break;
                case RedisSetupProblem.CertificateMissing:
                    Log.CertificateMissing(_logger, certificate!.Host);
                    break;
                case RedisSetupProblem.TlsRequired:
                    Log.TlsRequired(_logger);
                    break;
                case RedisSetupProblem.TlsHandshakeFailed:
                    Log.TlsHandshakeFailed(_logger, diagnosis.Reason ?? "no reason given");
                    break;
            }
        }
    }

    /// <summary>True at most once per <see cref="RepeatAfter"/> per problem, across threads.</summary>
    private bool ShouldLog(RedisSetupProblem problem)
    {
        ref var loggedAt = ref _loggedAt[(int)problem];
        var last = Volatile.Read(ref loggedAt);
        var now = _clock.GetCurrentInstant().ToUnixTimeTicks();
        if (last != 0 && TimeSpan.FromTicks(now - last) < RepeatAfter)
        {
            return false;
        }

        return Interlocked.CompareExchange(ref loggedAt, now, last) == last;
    }
}
