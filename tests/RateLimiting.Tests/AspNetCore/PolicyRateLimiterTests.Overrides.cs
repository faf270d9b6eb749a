using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using RateLimiting.AspNetCore;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Telemetry;

namespace RateLimiting.Tests.AspNetCore;

/// <summary>Overrides, exemptions, denials and the limit selector, as the middleware drives them.</summary>
public sealed partial class PolicyRateLimiterTests
{
    private const string SecretKey = "key-that-must-not-be-logged";

    [Fact]
    public async Task Override_HeaderMatches_DecidedWithItsLimitUnderTheSamePolicyAndItsQInTheHeader()
    {
        _options.Policies["p"].Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 1000 }];
        var asked = new List<RateLimitRequest>();
        _store.Answer = request =>
        {
            asked.Add(request);
            return Admitted(request, remaining: 5, admission: 1);
        };
        var policy = NewPolicy();

        using (await RequestAsync(policy))
        {
        }

        var basic = _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString();
        _context.Response.Headers.Clear();
        _context.Request.Headers["X-Plan"] = "pro";
        using var pro = await RequestAsync(policy);

        Assert.Equal([10, 1000], asked.Select(r => r.Limits[0].PermitLimit));
        Assert.All(asked, request => Assert.Equal(("p", TimeSpan.FromMinutes(1)), (request.Policy, request.Limits[0].Window)));
        Assert.Equal(asked[0].Partition, asked[1].Partition);
        Assert.Equal("\"p\";q=10;w=60", basic);
        Assert.Equal("\"p\";q=1000;w=60", _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString());
    }

    [Fact]
    public async Task Override_SeveralMatch_TheFirstWins()
    {
        _options.Policies["p"].Overrides =
        [
            new RateLimitOverrideOptions { When = "Header:X-Plan=free", Deny = true },
            new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Window = TimeSpan.FromHours(1) },
            new RateLimitOverrideOptions { When = "Header:X-Plan=pro", Exempt = true },
        ];
        _context.Request.Headers["X-Plan"] = "pro";

        using var lease = await RequestAsync(NewPolicy());

        Assert.True(lease.IsAcquired);
        Assert.Equal(1, _store.Calls);
        Assert.Equal("\"p\";q=10;w=3600", _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString());
    }

    [Fact]
    public async Task Override_Exempt_AdmittedWithoutStoreCallOrHeadersAndCountedAsExempt()
    {
        _options.Policies["p"].Overrides = [new RateLimitOverrideOptions { When = "ClientIp=10.0.0.0/8", Exempt = true }];
        _context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("10.20.30.40");
        using var decisions = new MetricCollector<long>(MeterFactory, RateLimitingTelemetry.MeterName, "ratelimiting.decisions");

        using var lease = await RequestAsync(NewPolicy());

        Assert.True(lease.IsAcquired);
        Assert.Equal(0, _store.Calls);
        Assert.Empty(_context.Response.Headers);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.Source, out var source));
        Assert.Equal(RateLimitDecisionSource.Override, source);
        Assert.Equal(RateLimitingMetrics.Results.Exempt, Assert.Single(decisions.GetMeasurementSnapshot()).Tags[RateLimitingMetrics.ResultTag]);
    }

    [Theory]
    [InlineData(null, StatusCodes.Status403Forbidden)]
    [InlineData(451, 451)]
    public async Task Override_Deny_RefusedWithoutStoreCallAsProblemJsonAndLoggedByIndexOnly(int? deniedStatusCode, int expectedStatus)
    {
        if (deniedStatusCode is { } status)
        {
            _options.DeniedStatusCode = status;
        }

        _options.Policies["p"].Overrides =
        [
            new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 100 },
            new RateLimitOverrideOptions { When = $"Header:X-Api-Key={SecretKey}", Deny = true },
        ];
        _context.Request.Headers["X-Api-Key"] = SecretKey;
        _context.Response.Body = new MemoryStream();
        var policy = NewPolicy();
        using var decisions = new MetricCollector<long>(MeterFactory, RateLimitingTelemetry.MeterName, "ratelimiting.decisions");

        using var lease = await RequestAsync(policy);
        await policy.OnRejected!(new OnRejectedContext { HttpContext = _context, Lease = lease }, CancellationToken.None);
        await _context.Response.BodyWriter.FlushAsync();

        Assert.False(lease.IsAcquired);
        Assert.Equal(0, _store.Calls);
        Assert.Equal(expectedStatus, _context.Response.StatusCode);
        Assert.Equal("application/problem+json", _context.Response.ContentType);
        Assert.False(_context.Response.Headers.ContainsKey(RateLimitResponse.StateHeader));
        Assert.False(_context.Response.Headers.ContainsKey("Retry-After"));
        using var body = JsonDocument.Parse(((MemoryStream)_context.Response.Body).ToArray());
        Assert.Equal("denied", body.RootElement.GetProperty("reason").GetString());
        Assert.Equal(expectedStatus, body.RootElement.GetProperty("status").GetInt32());
        Assert.Equal(RateLimitingMetrics.Results.Denied, Assert.Single(decisions.GetMeasurementSnapshot()).Tags[RateLimitingMetrics.ResultTag]);
        var log = Assert.Single(_logs.Collector.GetSnapshot(), record => record.Id.Name == "RequestDenied");
        Assert.Contains("override 1", log.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Collector.GetSnapshot(), record => record.Message.Contains(SecretKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Override_DenyInAShadowPolicy_Admitted()
    {
        _options.Policies["p"].Shadow = true;
        _options.Policies["p"].Overrides = [new RateLimitOverrideOptions { When = "Header:X-Api-Key=blocked", Deny = true }];
        _context.Request.Headers["X-Api-Key"] = "blocked";

        using var lease = await RequestAsync(NewPolicy());

        Assert.True(lease.IsAcquired);
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task LimitSelector_NoOverrideMatches_ItsWindowsDecide()
    {
        IReadOnlyList<RateLimitWindow> enterprise = [new RateLimitWindow(100_000, TimeSpan.FromHours(1))];
        _options.Policies["p"].Overrides = [new RateLimitOverrideOptions { When = "Header:X-Plan=pro", PermitLimit = 1000 }];
        _options.Policies["p"].LimitSelector = context => context.Request.Headers["X-Customer"] == "big" ? enterprise : null;
        var asked = new List<int>();
        _store.Answer = request =>
        {
            asked.Add(request.Limits[0].PermitLimit);
            return Admitted(request, remaining: 5, admission: 1);
        };
        var policy = NewPolicy();

        _context.Request.Headers["X-Customer"] = "big";
        using (await RequestAsync(policy))
        {
        }

        _context.Request.Headers["X-Plan"] = "pro";
        using (await RequestAsync(policy))
        {
        }

        _context.Request.Headers.Clear();
        using (await RequestAsync(policy))
        {
        }

        Assert.Equal([100_000, 1000, 10], asked);
    }

    [Fact]
    public async Task LimitSelector_InvalidWindows_ThrowsNamingThePolicy()
    {
        _options.Policies["p"].LimitSelector = _ => [new RateLimitWindow(0, TimeSpan.FromHours(1))];

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await RequestAsync(NewPolicy()));

        Assert.Contains("'p'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task Chain_FirstLinkExempt_OnlyTheSecondAsksTheStoreAndWritesHeaders()
    {
        _options = WithChain();
        _options.Policies["per-client"].Overrides = [new RateLimitOverrideOptions { When = "Header:X-Api-Key=internal", Exempt = true }];
        _context.Request.Headers["X-Api-Key"] = "internal";
        var asked = new List<string>();
        _store.Answer = request =>
        {
            asked.Add(request.Policy);
            return Admitted(request, remaining: 900, admission: 1);
        };

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.True(lease.IsAcquired);
        Assert.Equal(["global"], asked);
        Assert.Equal(["\"global\";q=1000;w=1"], Values(RateLimitResponse.PolicyHeader));
    }

    [Fact]
    public async Task Chain_SecondLinkDenies_FirstRefundedAndTheDenialAnswers()
    {
        _options = WithChain();
        _options.Policies["global"].Overrides = [new RateLimitOverrideOptions { When = "Header:X-Api-Key=blocked", Deny = true }];
        _context.Request.Headers["X-Api-Key"] = "blocked";
        _store.Answer = Admits(remaining: 7, admission: 5);

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.False(lease.IsAcquired);
        Assert.Equal(1, _store.Calls);
        Assert.Equal(5, Assert.Single(_store.Refunds).Admission);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.Decision, out var decision));
        Assert.Equal(RateLimitRejectReason.Denied, decision.Reason);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var policy));
        Assert.Equal("global", policy);
    }
}
