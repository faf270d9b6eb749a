using System.Text;
using Microsoft.Extensions.Configuration;
using RateLimiting.AspNetCore;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Tests.Policies;

/// <summary>Limits and chains bound from configuration as an application gives it: JSON, in-memory keys, environment variables.</summary>
public sealed class PolicyConfigurationTests
{
    private const string Key = "RateLimiting:Policies:tiered";

    private const string TieredJson = """
        {
          "RateLimiting": {
            "Policies": {
              "tiered": {
                "PartitionBy": "Header:X-Api-Key",
                "Limits": [
                  { "PermitLimit": 1000, "Window": "01:00:00" },
                  { "PermitLimit": 10, "Window": "00:00:01" }
                ]
              },
              "global": { "PermitLimit": 5000, "Window": "00:00:01", "PartitionBy": "Global" },
              "both": { "Chain": [ "tiered", "global" ] }
            }
          }
        }
        """;

    [Fact]
    public void Bind_LimitsAndChainFromJson_CompileShortestFirstAndInOrder()
    {
        var snapshot = Compile(new ConfigurationBuilder().AddJsonStream(Json(TieredJson)), out var errors);

        Assert.Empty(errors);
        Assert.Equal([new RateLimitWindow(10, TimeSpan.FromSeconds(1)), new RateLimitWindow(1000, TimeSpan.FromHours(1))], snapshot!.Policies["tiered"].Limits);
        Assert.Equal(["tiered", "global"], snapshot.Chains["both"].Links);
    }

    [Fact]
    public void Bind_InMemoryKeyOverridesOneItem_OnlyThatSettingChanges()
    {
        var builder = new ConfigurationBuilder()
            .AddJsonStream(Json(TieredJson))
            .AddInMemoryCollection(new Dictionary<string, string?> { [$"{Key}:Limits:1:PermitLimit"] = "3" });

        var snapshot = Compile(builder, out var errors);

        Assert.Empty(errors);
        Assert.Equal([new RateLimitWindow(3, TimeSpan.FromSeconds(1)), new RateLimitWindow(1000, TimeSpan.FromHours(1))], snapshot!.Policies["tiered"].Limits);
    }

    [Fact]
    public void Bind_EnvironmentVariableOverridesOneItem_OnlyThatSettingChanges()
    {
        var prefix = $"RL_TEST_{Guid.NewGuid():N}_";
        var variable = prefix + "RateLimiting__Policies__tiered__Limits__0__PermitLimit";
        Environment.SetEnvironmentVariable(variable, "2000");
        try
        {
            var builder = new ConfigurationBuilder().AddJsonStream(Json(TieredJson)).AddEnvironmentVariables(prefix);

            var snapshot = Compile(builder, out var errors);

            Assert.Empty(errors);
            Assert.Equal([new RateLimitWindow(10, TimeSpan.FromSeconds(1)), new RateLimitWindow(2000, TimeSpan.FromHours(1))], snapshot!.Policies["tiered"].Limits);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void Bind_EnvironmentVariablesAlone_DeclareSeveralWindows()
    {
        var prefix = $"RL_TEST_{Guid.NewGuid():N}_";
        var variables = new Dictionary<string, string>
        {
            ["RateLimiting__Policies__tiered__PartitionBy"] = "Global",
            ["RateLimiting__Policies__tiered__Limits__0__PermitLimit"] = "3",
            ["RateLimiting__Policies__tiered__Limits__0__Window"] = "00:00:10",
            ["RateLimiting__Policies__tiered__Limits__1__PermitLimit"] = "5",
            ["RateLimiting__Policies__tiered__Limits__1__Window"] = "00:01:00",
        };
        foreach (var (name, value) in variables)
        {
            Environment.SetEnvironmentVariable(prefix + name, value);
        }

        try
        {
            var snapshot = Compile(new ConfigurationBuilder().AddEnvironmentVariables(prefix), out var errors);

            Assert.Empty(errors);
            Assert.Equal([new RateLimitWindow(3, TimeSpan.FromSeconds(10)), new RateLimitWindow(5, TimeSpan.FromMinutes(1))], snapshot!.Policies["tiered"].Limits);
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(prefix + name, null);
            }
        }
    }

    [Theory]
    [InlineData("Limits", "Limits is empty: give at least one window, each with a PermitLimit and a Window.")]
    [InlineData("Chain", "Chain is empty: name the policies to apply, in order.")]
    public void Bind_EmptyJsonArray_OneErrorNamingTheKey(string setting, string expected)
    {
        var partitionBy = setting == "Chain" ? string.Empty : """ "PartitionBy": "Global", """;
        var json = $$"""{ "RateLimiting": { "Policies": { "tiered": { {{partitionBy}} "{{setting}}": [] } } } }""";

        Compile(new ConfigurationBuilder().AddJsonStream(Json(json)), out var errors);

        // An empty list, not the one-window form: no error about PermitLimit or Window.
        Assert.Equal([$"{Key}:{expected}"], errors);
    }

    [Fact]
    public void Bind_LimitsNotAList_NamesTheKey()
    {
        var builder = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{Key}:PartitionBy"] = "Global",
            [$"{Key}:Limits"] = "5",
            ["RateLimiting:Policies:named:PartitionBy"] = "Global",
            ["RateLimiting:Policies:named:Limits:first:PermitLimit"] = "5",
        });

        Compile(builder, out var errors);

        Assert.Contains($"{Key}:Limits is a list, not the single value '5'.", errors);
        Assert.Contains("RateLimiting:Policies:named:Limits:first: RateLimiting:Policies:named:Limits is a list, whose items are numbered from 0.", errors);
    }

    [Fact]
    public void Bind_UnknownOrUnconvertibleItemSetting_NamesItsKey()
    {
        var builder = new ConfigurationBuilder().AddJsonStream(Json(TieredJson)).AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{Key}:Limits:0:Permits"] = "5",
            [$"{Key}:Limits:1:Window"] = "one second",
        });

        Compile(builder, out var errors);

        Assert.Contains($"{Key}:Limits:0:Permits is not a known setting.", errors);
        Assert.Contains($"{Key}:Limits:1:Window: 'one second' is not a valid TimeSpan value.", errors);
    }

    [Fact]
    public void Bind_LongerWindowAdmittingNoMore_NamesBothKeysAsConfigured()
    {
        var builder = new ConfigurationBuilder().AddJsonStream(Json(TieredJson)).AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{Key}:Limits:0:PermitLimit"] = "10",
        });

        Compile(builder, out var errors);

        var error = Assert.Single(errors);
        Assert.StartsWith($"{Key}:Limits:0:PermitLimit (10) must be larger than {Key}:Limits:1:PermitLimit (10): ", error, StringComparison.Ordinal);
    }

    private static MemoryStream Json(string json) => new(Encoding.UTF8.GetBytes(json));

    private static PolicyRegistry.Snapshot? Compile(IConfigurationBuilder builder, out List<string> errors)
    {
        var options = new RateLimitingOptions();
        SlidingWindowLimiterServices.BindStrictly(builder.Build().GetSection(PolicyRegistry.SectionName), options);
        return PolicyRegistry.Compile(options, out errors);
    }
}
