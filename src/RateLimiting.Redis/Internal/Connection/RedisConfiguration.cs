using StackExchange.Redis;

namespace RateLimiting.Redis.Internal.Connection;

/// <summary>Turns <see cref="RedisStoreOptions"/> into the client's configuration; the one place for connection settings (TLS, credentials).</summary>
internal static class RedisConfiguration
{
    public static ConfigurationOptions Create(RedisStoreOptions options)
    {
        var configuration = ConfigurationOptions.Parse(options.Configuration!);

        // Keep retrying in the background instead of failing start-up: the policy's failure mode
        // answers until Redis is reachable.
        configuration.AbortOnConnectFail = false;
        return configuration;
    }

    /// <summary>Null when <paramref name="configuration"/> parses; else what is wrong, without echoing it.</summary>
    public static string? Check(string configuration)
    {
        try
        {
            var parsed = ConfigurationOptions.Parse(configuration);
            return parsed.EndPoints.Count == 0 ? "it names no endpoint." : null;
        }
        catch (ArgumentException ex)
        {
            // StackExchange.Redis names the offending keyword, never its value.
            return ex.Message;
        }
    }
}
