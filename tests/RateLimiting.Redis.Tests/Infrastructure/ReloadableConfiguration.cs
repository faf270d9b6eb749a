using Microsoft.Extensions.Configuration;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>An in-memory configuration source whose changes raise a reload, like an edited appsettings.json.</summary>
public sealed class ReloadableConfiguration : IConfigurationSource
{
    private readonly Provider _provider = new();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    public void Set(IDictionary<string, string?> values)
    {
        foreach (var (key, value) in values)
        {
            _provider.Set(key, value);
        }

        _provider.RaiseReload();
    }

    private sealed class Provider : ConfigurationProvider
    {
        public void RaiseReload() => OnReload();
    }
}
