using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using RateLimiting.AspNetCore;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Tests.Policies;

/// <summary>A policy's overrides, block and CountWhen as configuration gives them, and every way they can be wrong.</summary>
public sealed class PolicyOverridesTests
{
    private const string Key = "RateLimiting:Policies:p";
    private const string Secret = "sk_live_must_not_be_echoed";

    private const string ContractJson = """
        {
          "RateLimiting": {
            "Policies": {
              "per-client": {
                "PermitLimit": 100, "Window": "01:00:00", "PartitionBy": "Header:X-Api-Key",
                "Overrides": [
                  { "When": "Header:X-Plan=pro", "PermitLimit": 1000 },
                  { "When": "Claim:plan=enterprise", "PermitLimit": 100000 },
                  { "When": "ClientIp=10.0.0.0/8", "Exempt": true },
                  { "When": "Header:X-Api-Key=blocked-key", "Deny": true }
                ]
              }
            }
          }
        }
        """;

    public static TheoryData<Action<SlidingWindowPolicyOptions>, string> Invalid => new()
    {
        { p => p.Overrides = [new RateLimitOverrideOptions { PermitLimit = 5 }], $"{Key}:Overrides:0:When is required" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = $"Header:X-Api-Key:{Secret}", PermitLimit = 5 }], $"{Key}:Overrides:0:When does not parse" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=", PermitLimit = 5 }], $"{Key}:Overrides:0:When does not parse: the value after '=' is empty" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = $"Global={Secret}", PermitLimit = 5 }], $"{Key}:Overrides:0:When does not parse: its source must be one of" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = $"Custom={Secret}", PermitLimit = 5 }], $"{Key}:Overrides:0:When does not parse: its source must be one of" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = $"Cookie:{Secret}=x", PermitLimit = 5 }], $"{Key}:Overrides:0:When does not parse: its source must be one of" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "ClientIp=10.0.0.0/33", Exempt = true }], $"{Key}:Overrides:0:When does not parse: the value of ClientIp" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "ClientIp=10.0.0.1/8", Exempt = true }], $"{Key}:Overrides:0:When does not parse: the value of ClientIp" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "ClientIp=10", Exempt = true }], $"{Key}:Overrides:0:When does not parse: the value of ClientIp" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "ClientIp=2001:db8::/129", Exempt = true }], $"{Key}:Overrides:0:When does not parse: the value of ClientIp" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = $"ClientIp={Secret}", Exempt = true }], $"{Key}:Overrides:0:When does not parse: the value of ClientIp" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro" }], $"{Key}:Overrides:0 has nothing to override" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Exempt = true, PermitLimit = 5 }], $"{Key}:Overrides:0:PermitLimit cannot be set with {Key}:Overrides:0:Exempt" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Deny = true, Window = TimeSpan.FromSeconds(1) }], $"{Key}:Overrides:0:Window cannot be set with {Key}:Overrides:0:Deny" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Deny = true, Exempt = true }], $"{Key}:Overrides:0:Exempt and {Key}:Overrides:0:Deny cannot both be set" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 0 }], $"{Key}:Overrides:0:PermitLimit must be at least 1" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Window = TimeSpan.Zero }], $"{Key}:Overrides:0:Window must be between" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 5, Limits = [new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(1) }] }], $"{Key}:Overrides:0:PermitLimit cannot be set with {Key}:Overrides:0:Limits" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Limits = [new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(1) }, new() { PermitLimit = 5, Window = TimeSpan.FromHours(1) }] }], $"{Key}:Overrides:0:Limits:1:PermitLimit (5) must be larger than {Key}:Overrides:0:Limits:0:PermitLimit" },
        { p => p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 5 }, null!], $"{Key}:Overrides:1 has no settings" },
        { p => p.CountWhen = new RateLimitCountWhenOptions(), $"{Key}:CountWhen:StatusCodes is required" },
        { p => p.CountWhen = new RateLimitCountWhenOptions { StatusCodes = [] }, $"{Key}:CountWhen:StatusCodes is required" },
        { p => p.CountWhen = new RateLimitCountWhenOptions { StatusCodes = [401, 99] }, $"{Key}:CountWhen:StatusCodes:1 must be between 100 and 599 (was 99)" },
        { p => p.Block = new SlidingWindowBlockOptions { AfterRejections = 0, Within = TimeSpan.FromMinutes(1), For = TimeSpan.FromMinutes(1) }, $"{Key}:Block:AfterRejections must be at least 1 (was 0)" },
        { p => p.Block = new SlidingWindowBlockOptions { AfterRejections = 3, For = TimeSpan.FromMinutes(1) }, $"{Key}:Block:Within must be between 1 millisecond and 365 days" },
        { p => p.Block = new SlidingWindowBlockOptions { AfterRejections = 3, Within = TimeSpan.FromMinutes(1), For = TimeSpan.FromSeconds(-1) }, $"{Key}:Block:For must be between 1 millisecond and 365 days" },
        {
            p =>
            {
                (p.PermitLimit, p.Window) = (0, TimeSpan.Zero);
                p.Limits = [new() { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) }, new() { PermitLimit = 1000, Window = TimeSpan.FromHours(1) }];
                p.Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 5 }];
            },
            $"{Key}:Overrides:0:PermitLimit cannot override a policy of several windows: give every window in {Key}:Overrides:0:Limits"
        },
    };

    [Fact]
    public void Bind_TheContractFromJson_FirstMatchDecidesEachRequest()
    {
        var policy = Compile(new ConfigurationBuilder().AddJsonStream(Json(ContractJson)), out var errors)!.Policies["per-client"];
        Assert.Empty(errors);

        Assert.Equal((-1, OverrideAction.Limits, 100), Resolve(policy, Request()));
        Assert.Equal((0, OverrideAction.Limits, 1000), Resolve(policy, Request(plan: "pro")));
        Assert.Equal((1, OverrideAction.Limits, 100000), Resolve(policy, Request(claimPlan: "enterprise")));
        Assert.Equal((0, OverrideAction.Limits, 1000), Resolve(policy, Request(plan: "pro", claimPlan: "enterprise")));
        Assert.Equal(2, Resolve(policy, Request(ip: "10.255.0.1")).Override);
        Assert.Equal(OverrideAction.Exempt, Resolve(policy, Request(ip: "::ffff:10.1.2.3")).Action);
        Assert.Equal(-1, Resolve(policy, Request(ip: "11.0.0.1")).Override);
        Assert.Equal((3, OverrideAction.Deny), Resolve(policy, Request(key: "blocked-key")) is var (i, a, _) ? (i, a) : default);
        Assert.Equal(-1, Resolve(policy, Request(key: "blocked-key-2")).Override);
        Assert.Equal(-1, Resolve(policy, Request(plan: "PRO")).Override);
    }

    [Fact]
    public void Bind_EnvironmentVariables_ChangeOneOverride()
    {
        var prefix = $"RL_TEST_{Guid.NewGuid():N}_";
        var variables = new Dictionary<string, string>
        {
            [prefix + "RateLimiting__Policies__per-client__Overrides__0__When"] = "Header:X-Plan=gold",
            [prefix + "RateLimiting__Policies__per-client__Overrides__0__PermitLimit"] = "5000",
        };
        foreach (var (name, value) in variables)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        try
        {
            var builder = new ConfigurationBuilder().AddJsonStream(Json(ContractJson)).AddEnvironmentVariables(prefix);

            var policy = Compile(builder, out var errors)!.Policies["per-client"];

            Assert.Empty(errors);
            Assert.Equal((0, OverrideAction.Limits, 5000), Resolve(policy, Request(plan: "gold")));
            Assert.Equal(-1, Resolve(policy, Request(plan: "pro")).Override);
            Assert.Equal(1, Resolve(policy, Request(claimPlan: "enterprise")).Override);
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }
        }
    }

    [Fact]
    public void Compile_OverrideOfTheWindowOnly_KeepsThePolicysLimit()
    {
        var options = WithPolicy(p => p.Overrides = [new RateLimitOverrideOptions { When = "Query:tier=slow", Window = TimeSpan.FromHours(2) }]);

        var policy = PolicyRegistry.Compile(options, out _)!.Policies["p"];

        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString("?tier=slow");
        Assert.Equal([new RateLimitWindow(10, TimeSpan.FromHours(2))], policy.Resolve(context).Policy.Limits);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Compile_InvalidOverrideBlockOrCountWhen_NamesItsKeyAndNeverEchoesItsValue(Action<SlidingWindowPolicyOptions> configure, string expected)
    {
        var snapshot = PolicyRegistry.Compile(WithPolicy(configure), out var errors);

        Assert.Null(snapshot);
        Assert.Contains(errors, error => error.StartsWith(expected, StringComparison.Ordinal));
        Assert.DoesNotContain(errors, error => error.Contains(Secret, StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_OverridesBlockOrCountWhenOnAChain_Rejected()
    {
        var options = WithPolicy(_ => { });
        options.Policies["c"] = new SlidingWindowPolicyOptions
        {
            Chain = ["p"],
            Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Exempt = true }],
            Block = new SlidingWindowBlockOptions { AfterRejections = 3, Within = TimeSpan.FromMinutes(1), For = TimeSpan.FromMinutes(1) },
            CountWhen = new RateLimitCountWhenOptions { StatusCodes = [401] },
        };

        Assert.Null(PolicyRegistry.Compile(options, out var errors));
        Assert.Contains("RateLimiting:Policies:c:Overrides cannot be set on a chain: each policy of RateLimiting:Policies:c:Chain has its own.", errors);
        Assert.Contains("RateLimiting:Policies:c:Block cannot be set on a chain: each policy of RateLimiting:Policies:c:Chain has its own.", errors);
        Assert.Contains("RateLimiting:Policies:c:CountWhen cannot be set on a chain: each policy of RateLimiting:Policies:c:Chain has its own.", errors);
    }

    [Fact]
    public void Bind_BlockFromEnvironmentStyleKeys_AppliesToEveryPlan()
    {
        var builder = new ConfigurationBuilder().AddJsonStream(Json(ContractJson)).AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimiting:Policies:per-client:Block:AfterRejections"] = "3",
            ["RateLimiting:Policies:per-client:Block:Within"] = "00:10:00",
            ["RateLimiting:Policies:per-client:Block:For"] = "01:00:00",
        });

        var policy = Compile(builder, out var errors)!.Policies["per-client"];

        Assert.Empty(errors);
        var expected = new RateLimitBlock(3, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1));
        Assert.Equal(expected, policy.Block);
        Assert.Equal(expected, policy.Resolve(Request(plan: "pro")).Policy.Block);
    }

    [Theory]
    [InlineData(399)]
    [InlineData(600)]
    public void Compile_DeniedStatusCodeOutOfRange_Named(int status)
    {
        var options = WithPolicy(_ => { });
        options.DeniedStatusCode = status;

        Assert.Null(PolicyRegistry.Compile(options, out var errors));
        Assert.Contains($"RateLimiting:DeniedStatusCode must be between 400 and 599 (was {status}).", errors);
    }

    private static (int Override, OverrideAction Action, int PermitLimit) Resolve(CompiledPolicy policy, HttpContext context)
    {
        var (index, action, applied) = policy.Resolve(context);
        return (index, action, applied.Limits[0].PermitLimit);
    }

    private static DefaultHttpContext Request(string? plan = null, string? claimPlan = null, string ip = "192.0.2.1", string key = "k")
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse(ip);
        context.Request.Headers["X-Api-Key"] = key;
        if (plan is not null)
        {
            context.Request.Headers["X-Plan"] = plan;
        }

        if (claimPlan is not null)
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("plan", claimPlan)], "test"));
        }

        return context;
    }

    private static RateLimitingOptions WithPolicy(Action<SlidingWindowPolicyOptions> configure)
    {
        var options = new RateLimitingOptions();
        var policy = new SlidingWindowPolicyOptions { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), PartitionBy = "Header:X-Api-Key" };
        configure(policy);
        options.Policies["p"] = policy;
        return options;
    }

    private static MemoryStream Json(string json) => new(Encoding.UTF8.GetBytes(json));

    private static PolicyRegistry.Snapshot? Compile(IConfigurationBuilder builder, out List<string> errors)
    {
        var options = new RateLimitingOptions();
        SlidingWindowLimiterServices.BindStrictly(builder.Build().GetSection(PolicyRegistry.SectionName), options);
        return PolicyRegistry.Compile(options, out errors);
    }
}
