using System.Reflection;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>The StackExchange.Redis this run uses (<c>-p:StackExchangeRedisVersion=…</c>), and what its line heals by itself.</summary>
internal static class RedisClient
{
    /// <summary>The package version, e.g. 2.13.23.</summary>
    public static Version Version { get; } = Version.Parse(
        typeof(ConnectionMultiplexer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+', '-')[0]);

    /// <summary>
    /// 2.11.8 and later reconnect a connection that answers a MOVED naming the node it was sent to,
    /// and resend the command once; 2.7–2.10 keep such a connection for good.
    /// </summary>
    public static bool HealsSelfMoved => Version >= new Version(2, 11, 8);

    /// <summary>The line the docs' table names: <c>2.7–2.10</c>, <c>2.11–2.13</c> or <c>3.x</c>.</summary>
    public static string Line => Version.Major >= 3 ? "3.x" : HealsSelfMoved ? "2.11–2.13" : "2.7–2.10";
}
