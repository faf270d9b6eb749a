using Microsoft.Extensions.Options;
using RateLimiting.Policies;
using RateLimiting.Redis.Connection;

namespace RateLimiting.Redis;

/// <summary>Validates <c>RateLimiting:Redis</c> at start-up, every error in one message; never echoes the configuration string, which may hold a password.</summary>
internal sealed class RedisRateLimitingOptionsValidator : IValidateOptions<RedisRateLimitingOptions>
{
    private const string Key = PolicyRegistry.SectionName + ":Redis";

    public ValidateOptionsResult Validate(string? name, RedisRateLimitingOptions options)
    {
        var errors = new List<string>();
        var redis = options.Redis;
        if (redis.ConnectionFactory is null)
        {
            if (string.IsNullOrWhiteSpace(redis.Configuration))
            {
                errors.Add($"{Key}:Configuration is required (a StackExchange.Redis configuration string such as '127.0.0.1:7000,127.0.0.1:7001').");
            }
            else if (RedisConfiguration.Check(redis.Configuration) is { } problem)
            {
                errors.Add($"{Key}:Configuration is not a valid StackExchange.Redis configuration string: {problem}");
            }
            else if (redis.TrustedCaCertificatePath is not null && !RedisConfiguration.UsesTls(redis.Configuration))
            {
                errors.Add($"{Key}:TrustedCaCertificatePath is set but {Key}:Configuration does not say ssl=true, so the CA would never be used.");
            }
        }
        else if (redis.TrustedCaCertificatePath is not null)
        {
            errors.Add($"{Key}:TrustedCaCertificatePath applies to {Key}:Configuration; with a ConnectionFactory the factory's multiplexer decides what it trusts.");
        }

        if (redis.TrustedCaCertificatePath is { } caPath)
        {
            if (string.IsNullOrWhiteSpace(caPath))
            {
                errors.Add($"{Key}:TrustedCaCertificatePath is empty: remove it to trust the system store, or name a PEM file.");
            }
            else if (RedisConfiguration.CheckTrustedCaCertificate(caPath) is { } problem)
            {
                errors.Add($"{Key}:TrustedCaCertificatePath: {problem}");
            }
        }

        if (!PolicyNames.IsValid(redis.KeyPrefix))
        {
            errors.Add($"{Key}:KeyPrefix must be {PolicyNames.Rule}.");
        }

        CheckRange(errors, "OperationTimeout", redis.OperationTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1));

        var resilience = redis.Resilience;
        if (resilience.MovedLoopThreshold < 1)
        {
            errors.Add($"{Key}:Resilience:MovedLoopThreshold must be at least 1 (was {resilience.MovedLoopThreshold}).");
        }

        CheckRange(errors, "Resilience:FaultWindow", resilience.FaultWindow, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        CheckRange(errors, "Resilience:PersistentFaultDuration", resilience.PersistentFaultDuration, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        CheckRange(errors, "Resilience:MinReconnectInterval", resilience.MinReconnectInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        CheckRange(errors, "Resilience:MaxReconnectInterval", resilience.MaxReconnectInterval, resilience.MinReconnectInterval, TimeSpan.FromHours(1));
        CheckRange(errors, "Resilience:UnhealthyAfter", resilience.UnhealthyAfter, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        if (resilience.BreakerFailureThreshold is < 1 or > 1000)
        {
            errors.Add($"{Key}:Resilience:BreakerFailureThreshold must be between 1 and 1000 (was {resilience.BreakerFailureThreshold}).");
        }

        CheckRange(errors, "Resilience:BreakerFailureSpan", resilience.BreakerFailureSpan, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        CheckRange(errors, "Resilience:BreakerProbeInterval", resilience.BreakerProbeInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(10));
        CheckRange(errors, "Resilience:BreakerMaxProbeInterval", resilience.BreakerMaxProbeInterval, resilience.BreakerProbeInterval, TimeSpan.FromMinutes(10));
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    private static void CheckRange(List<string> errors, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{Key}:{name} must be between {min} and {max} (was {value}).");
        }
    }
}
