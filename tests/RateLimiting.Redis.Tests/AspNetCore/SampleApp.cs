using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NodaTime.Testing;
using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>
/// The sample WebApi against the test cluster, with its own key prefix so that tests never share
/// windows unless they mean to, and a fake clock so that every header value is exact.
/// </summary>
public sealed class SampleApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly FakeClock? _clock;

    public SampleApp(RedisClusterFixture cluster, Dictionary<string, string?>? settings = null, string? keyPrefix = null, FakeClock? clock = null)
    {
        _clock = clock;
        _settings = new Dictionary<string, string?>
        {
            ["RateLimiting:Redis:Configuration"] = cluster.ConfigurationString,
            ["RateLimiting:Redis:KeyPrefix"] = keyPrefix ?? NewKeyPrefix(),
            ["RateLimiting:Redis:OperationTimeout"] = "00:00:10",
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }
    }

    public ReloadableConfiguration Reloadable { get; } = new();

    /// <summary>
    /// The sample on Kestrel, on a free port of 127.0.0.1, for what the test server does not give:
    /// the raw request target, which alone tells a slash from an encoded <c>%2F</c>.
    /// </summary>
    public static SampleApp OnKestrel(RedisClusterFixture cluster, Dictionary<string, string?> settings)
    {
        var app = new SampleApp(cluster, settings);
        app.UseKestrel(options => options.Listen(System.Net.IPAddress.Loopback, 0));
        return app;
    }

    public static string NewKeyPrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A response header's values as one comma-separated string, as a structured-field list reads; null when absent.</summary>
    public static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    /// <summary>A client sending <c>X-Api-Key: {apiKey}</c>, the sample policies' partition.</summary>
    public HttpClient ClientWithKey(string apiKey)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration((_, configuration) =>
        {
            configuration.AddInMemoryCollection(_settings);
            configuration.Add(Reloadable);
        });
        if (_clock is not null)
        {
            builder.ConfigureServices(services => services.PostConfigure<RedisRateLimitingOptions>(options => options.Redis.Clock = _clock));
        }
    }
}
