using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using RateLimiting.Admin;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Tests.AspNetCore;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Telemetry;

namespace RateLimiting.Redis.Tests.Observability;

[Collection(RedisClusterCollection.Name)]
public sealed class ObservabilityTests
{
    private const string ApiKey = "secret-api-key-4242";
    private const string Password = "pa55-w0rd-never-logged";
    private readonly RedisClusterFixture _cluster;

    public ObservabilityTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Decisions_RecordedAsMetricsAndSpans_WithoutPartitionValues()
    {
        var policy = "obs-" + Guid.NewGuid().ToString("N")[..8];
        var measurements = new ConcurrentQueue<(string Instrument, object Value, KeyValuePair<string, object?>[] Tags)>();
        var spans = new ConcurrentQueue<Activity>();
        using var activities = ListenToSpans(policy, spans);
        await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy(policy, 1, "Header:X-Api-Key"), Map(policy));
        using var meters = ListenToMeters(app, measurements);

        await app.GetAsync("/limited", ("X-Api-Key", ApiKey));
        await app.GetAsync("/limited", ("X-Api-Key", ApiKey));
        meters.RecordObservableInstruments();

        var decisions = measurements.Where(m => m.Instrument == "ratelimiting.decisions").ToList();
        Assert.Contains(decisions, m => Tag(m.Tags, "ratelimiting.result") == "acquired" && Tag(m.Tags, "ratelimiting.policy") == policy);
        Assert.Contains(decisions, m => Tag(m.Tags, "ratelimiting.result") == "rejected");
        Assert.Contains(measurements, m => m.Instrument == "ratelimiting.store.duration" && Tag(m.Tags, "ratelimiting.store.outcome") == "success");
        Assert.Contains(measurements, m => m.Instrument == "ratelimiting.failure_mode.active" && Equals(m.Value, 0));
        Assert.NotEmpty(spans);
        Assert.All(spans, span => Assert.Equal("ratelimiting.store.decide", span.OperationName));
        Assert.DoesNotContain(measurements.SelectMany(m => m.Tags), tag => $"{tag.Value}".Contains(ApiKey, StringComparison.Ordinal));
        Assert.DoesNotContain(spans.SelectMany(s => s.TagObjects), tag => $"{tag.Value}".Contains(ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AdminOperations_LoggedAndCounted_WithoutPartitionValues()
    {
        var policy = "adm-" + Guid.NewGuid().ToString("N")[..8];
        var measurements = new ConcurrentQueue<(string Instrument, object Value, KeyValuePair<string, object?>[] Tags)>();
        var logs = new CapturingLoggerProvider();
        await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy(policy, 1, "Header:X-Api-Key"), Map(policy), services => services.AddLogging(b => b.AddProvider(logs)));
        using var meters = ListenToMeters(app, measurements);
        var admin = app.Services.GetRequiredService<IRateLimitAdmin>();

        await admin.GetUsageAsync(policy, ApiKey);
        await admin.ResetAsync(policy, ApiKey);

        var operations = measurements.Where(m => m.Instrument == "ratelimiting.admin.operations").Select(m => (Tag(m.Tags, "ratelimiting.policy"), Tag(m.Tags, "ratelimiting.admin.operation"), Tag(m.Tags, "ratelimiting.store.outcome")));
        Assert.Equal([(policy, "usage", "success"), (policy, "reset", "success")], operations);
        Assert.Equal(2, logs.Entries.Count(e => e.EventId.Name == "AdminOperated" && e.Text.Contains(policy, StringComparison.Ordinal)));
        Assert.DoesNotContain(logs.Entries, e => e.Text.Contains(ApiKey, StringComparison.Ordinal));
        Assert.DoesNotContain(measurements.SelectMany(m => m.Tags), tag => $"{tag.Value}".Contains(ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task HealthCheck_RedisDecides_Healthy()
    {
        await using var app = await TestApp.StartAsync(_cluster, TestApp.Policy("p", 10, "Global"), Map("p"), services => services.AddHealthChecks().AddRedisSlidingWindowLimiter());

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, report.Status);
    }

    [Fact]
    public async Task HealthCheck_RedisUnreachable_DegradedThenUnhealthy_AndLogsNoSecrets()
    {
        var logs = new CapturingLoggerProvider();
        var settings = TestApp.Policy("p", 10, "Header:X-Api-Key");
        settings["RateLimiting:Redis:Configuration"] = $"127.0.0.1:{UnusedPort()},password={Password},connectTimeout=200";
        settings["RateLimiting:Redis:OperationTimeout"] = "00:00:00.200";
        settings["RateLimiting:Redis:Resilience:UnhealthyAfter"] = "00:00:05";
        await using var app = await TestApp.StartAsync(_cluster, settings, Map("p"), services =>
        {
            services.AddHealthChecks().AddRedisSlidingWindowLimiter();
            services.AddLogging(logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        });
        var health = app.Services.GetRequiredService<HealthCheckService>();

        var status = await app.GetAsync("/limited", ("X-Api-Key", ApiKey));
        var first = await health.CheckHealthAsync();
        var later = await Poll.UntilAsync(() => health.CheckHealthAsync(), report => report.Status == HealthStatus.Unhealthy, TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HealthStatus.Degraded, first.Status);
        Assert.Equal(HealthStatus.Unhealthy, later.Status);
        Assert.Single(logs.Entries, entry => entry.EventId.Name == "FailureModeEntered");
        Assert.DoesNotContain(logs.Entries, entry => entry.Text.Contains(Password, StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, entry => entry.Text.Contains(ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Telemetry_RedisUnreachable_OpenBreakerShownByGaugesOutcomeAndHealth()
    {
        var settings = TestApp.Policy("p", 10, "Global");
        settings["RateLimiting:Redis:Configuration"] = $"127.0.0.1:{UnusedPort()},connectTimeout=200";
        settings["RateLimiting:Redis:OperationTimeout"] = "00:00:00.200";
        var measurements = new ConcurrentQueue<(string Instrument, object Value, KeyValuePair<string, object?>[] Tags)>();
        await using var app = await TestApp.StartAsync(_cluster, settings, Map("p"), services => services.AddHealthChecks().AddRedisSlidingWindowLimiter());
        using var meters = ListenToMeters(app, measurements);
        var breakers = app.Services.GetRequiredService<RedisConnection>().Breakers;

        await Poll.UntilAsync(async () => await app.GetAsync("/limited"), _ => breakers.OpenCount > 0, TimeSpan.FromSeconds(30));
        var status = await app.GetAsync("/limited");
        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        meters.RecordObservableInstruments();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(measurements, m => m.Instrument == "ratelimiting.store.duration" && Tag(m.Tags, "ratelimiting.store.outcome") == "unavailable");
        Assert.Contains(measurements, m => m.Instrument == "ratelimiting.redis.breakers.open" && Equals(m.Value, 1));
        Assert.Contains(measurements, m => m.Instrument == "ratelimiting.failure_mode.active" && Equals(m.Value, 1));
        Assert.NotEqual(HealthStatus.Healthy, report.Status);
        Assert.Equal("connection", report.Entries.Values.Single().Data["open_breakers"]);
    }

    private static Action<WebApplication> Map(string policy) => app => app.MapGet("/limited", () => "ok").RequireRateLimiting(policy);

    private static string? Tag(KeyValuePair<string, object?>[] tags, string name) => tags.FirstOrDefault(t => t.Key == name).Value as string;

    private static MeterListener ListenToMeters(WebApplication app, ConcurrentQueue<(string, object, KeyValuePair<string, object?>[])> measurements)
    {
        // Only this application's meters: other tests run their own applications at the same time.
        var factory = app.Services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == RateLimitingTelemetry.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => measurements.Enqueue((i.Name, v, t.ToArray())));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => measurements.Enqueue((i.Name, v, t.ToArray())));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => measurements.Enqueue((i.Name, v, t.ToArray())));
        listener.Start();
        return listener;
    }

    private static ActivityListener ListenToSpans(string policy, ConcurrentQueue<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RateLimitingTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("ratelimiting.policy"), policy))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
