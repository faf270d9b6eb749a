using Microsoft.Extensions.Options;
using RateLimiting.Internal;
using RateLimiting.Redis.Internal.Connection;

namespace RateLimiting.Redis.Internal;

/// <summary>Validates <c>RateLimiting:Redis</c> at start-up, every error in one message; never echoes the configuration string, which may hold a password.</summary>
internal sealed class RedisOptionsValidator : IValidateOptions<RedisRateLimitingOptions>
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
            else if (RedisConnection.CheckConfiguration(redis.Configuration) is { } problem)
            {
                errors.Add($"{Key}:Configuration is not a valid StackExchange.Redis configuration string: {problem}");
            }
        }

        if (!PolicyNames.IsValid(redis.KeyPrefix))
        {
            errors.Add($"{Key}:KeyPrefix must be 1 to 64 characters of letters, digits, '.', '_', '-' or ':'.");
        }

        if (redis.OperationTimeout < TimeSpan.FromMilliseconds(1) || redis.OperationTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{Key}:OperationTimeout must be between 1 millisecond and 1 minute (was {redis.OperationTimeout}).");
        }

        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
