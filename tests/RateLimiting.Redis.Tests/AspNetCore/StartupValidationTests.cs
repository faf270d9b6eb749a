using RateLimiting.Redis.Tests.Infrastructure;

namespace RateLimiting.Redis.Tests.AspNetCore;

[Collection(RedisClusterCollection.Name)]
public sealed class StartupValidationTests
{
    private const string Policy = "RateLimiting:Policies:per-client";
    private readonly RedisClusterFixture _cluster;

    public StartupValidationTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Theory]
    [InlineData(Policy + ":PermitLimit", "0", Policy + ":PermitLimit")]
    [InlineData(Policy + ":PermitLimit", "-5", Policy + ":PermitLimit")]
    [InlineData(Policy + ":PermitLimit", "many", Policy + ":PermitLimit")]
    [InlineData(Policy + ":Window", "00:00:00", Policy + ":Window")]
    [InlineData(Policy + ":Window", "-01:00:00", Policy + ":Window")]
    [InlineData(Policy + ":PermitLimt", "5", Policy + ":PermitLimt")]
    [InlineData(Policy + ":PartitionBy", "Cookie:session", Policy + ":PartitionBy")]
    [InlineData(Policy + ":PartitionBy", "Custom", Policy + ":PartitionBy")]
    [InlineData(Policy + ":FallbackPartitionBy", "Header", Policy + ":FallbackPartitionBy")]
    [InlineData(Policy + ":FailureMode", "FailSometimes", Policy + ":FailureMode")]
    [InlineData("RateLimiting:Redis:Configuration", "", "RateLimiting:Redis:Configuration")]
    [InlineData("RateLimiting:Redis:Configuration", "127.0.0.1:7000,colour=blue", "RateLimiting:Redis:Configuration")]
    [InlineData("RateLimiting:Redis:KeyPrefix", "{rl}", "RateLimiting:Redis:KeyPrefix")]
    [InlineData("RateLimiting:Redis:Colour", "blue", "RateLimiting:Redis:Colour")]
    [InlineData("RateLimiting:Polices:other:PermitLimit", "5", "RateLimiting:Polices")]
    [InlineData("RateLimiting:Policies:bad{name}:PermitLimit", "5", "RateLimiting:Policies:bad{name}")]
    public async Task Start_Misconfigured_FailsNamingTheKey(string key, string value, string expected)
    {
        await using var app = new SampleApp(_cluster, new() { [key] = value });

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.True(error.ToString().Contains(expected, StringComparison.Ordinal), error.ToString());
    }

    [Fact]
    public async Task Start_SeveralMistakes_OneMessageNamesEveryKey()
    {
        await using var app = new SampleApp(_cluster, new()
        {
            [Policy + ":PermitLimit"] = "0",
            [Policy + ":Window"] = "00:00:00",
            [Policy + ":Windw"] = "00:01:00",
            ["RateLimiting:Redis:Configuration"] = "",
        });

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains(Policy + ":Windw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MissingConfigurationString_NeverEchoesSecrets()
    {
        await using var app = new SampleApp(_cluster, new()
        {
            ["RateLimiting:Redis:Configuration"] = "127.0.0.1:7000,password=hunter2,colour=blue",
        });

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains("RateLimiting:Redis:Configuration", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.ToString(), StringComparison.Ordinal);
    }
}
