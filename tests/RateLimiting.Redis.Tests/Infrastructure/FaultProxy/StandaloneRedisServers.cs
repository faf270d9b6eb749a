namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// Three standalone Redis servers for the fault-proxy tests, each holding <see cref="WhoAmIKey"/>
/// = <c>node-&lt;index&gt;</c>, so a test can tell which server answered. Started once per test class.
/// </summary>
public sealed class StandaloneRedisServers : IAsyncLifetime
{
    public const string WhoAmIKey = "fault-proxy:whoami";
    private const int ServerCount = 3;

    private readonly List<RedisServerProcess> _servers = [];

    public IReadOnlyList<int> Ports => [.. _servers.Select(server => server.Port)];

    public static string NameOf(int index) => $"node-{index}";

    public async Task InitializeAsync()
    {
        try
        {
            for (var index = 0; index < ServerCount; index++)
            {
                var server = await RedisServerProcess.StartAsync();
                _servers.Add(server);
                await using var connection = await RespConnection.ConnectAsync(server.Port);
                await connection.ExecuteAsync("SET", WhoAmIKey, NameOf(index));
            }
        }
        catch
        {
            await DisposeAsync(); // idempotent, in case xunit disposes a fixture whose initialization failed too
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _servers.Clear();
    }
}
