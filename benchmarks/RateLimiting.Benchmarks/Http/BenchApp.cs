using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RateLimiting.Policies;
using RateLimiting.Redis.Connection;
using ConnectionMultiplexer = StackExchange.Redis.ConnectionMultiplexer;
using RedisKey = StackExchange.Redis.RedisKey;
using RedisValue = StackExchange.Redis.RedisValue;

namespace RateLimiting.Benchmarks.Http;

/// <summary>
/// The application wrk loads: Kestrel on a free loopback port, logging off, one GET endpoint
/// answering "hello" eight times over: without a limiter, with ASP.NET Core's in-memory sliding
/// window (never rejecting, and exhausted), with our policy that never rejects (FailClosed, and the
/// same policy FailOpen), with a chain of that policy and a global one that never rejects either,
/// with our policy on an exhausted partition, and after one round trip to Redis that decides
/// nothing (the ceiling).
/// </summary>
internal sealed class BenchApp : IAsyncDisposable
{
    public const string NoLimiterPath = "/none";
    public const string AspNetCorePath = "/aspnetcore";
    public const string OursPath = "/ours";
    public const string FailOpenPath = "/ours-fail-open";
    public const string ChainPath = "/ours-chain";
    public const string ExhaustedPath = "/exhausted";
    public const string AspNetCoreExhaustedPath = "/aspnetcore-exhausted";
    public const string RoundTripPath = "/round-trip";

    /// <summary>
    /// What the round-trip endpoint runs: a script that returns a reply shaped like the limiter's
    /// at once, so the endpoint pays the client and one round trip to Redis, and nothing else.
    /// </summary>
    public const string NoOpScript = "return {0, 0, 0, 0, 0, 0}";

    /// <summary>The policy of <see cref="FailOpenPath"/>: its name is part of the keys it writes, which (f) places on each master.</summary>
    public const string FailOpenPolicy = "ours-fail-open";

    private const string AspNetCorePolicy = "aspnetcore-sliding";
    private const string OursPolicy = "ours";
    private const string GlobalPolicy = "global";
    private const string ChainPolicy = "ours-chain";
    private const string ExhaustedPolicy = "exhausted";
    private const string AspNetCoreExhaustedPolicy = "aspnetcore-exhausted";
    private const int NeverReached = 1_000_000_000;

    private readonly WebApplication _app;

    private readonly Dictionary<string, StatusCounter> _statuses;
    private readonly DecisionSourceCounter _failOpenSources;
    private readonly ConnectionMultiplexer _roundTrips;

    private BenchApp(WebApplication app, Uri baseAddress, Dictionary<string, StatusCounter> statuses, DecisionSourceCounter failOpenSources, ConnectionMultiplexer roundTrips)
    {
        _app = app;
        BaseAddress = baseAddress;
        _statuses = statuses;
        _failOpenSources = failOpenSources;
        _roundTrips = roundTrips;
    }

    public Uri BaseAddress { get; }

    /// <summary>Gets the responses of one endpoint so far, by status.</summary>
    public StatusCounts Statuses(string path) => _statuses[path].Snapshot();

    /// <summary>Gets how many times the store's circuit breakers opened so far.</summary>
    public long BreakerOpenings => _app.Services.GetRequiredService<RedisConnection>().Breakers.Openings;

    /// <summary>Gets the admissions of <see cref="FailOpenPath"/> so far, by who decided them.</summary>
    public DecisionSourceCounts FailOpenSources => _failOpenSources.Snapshot();

    /// <param name="redisConfiguration">The cluster.</param>
    /// <param name="keyPrefix">Keeps this application's windows apart from another's.</param>
    /// <param name="overLimitCache">The value of <c>RateLimiting:OverLimitCache</c>.</param>
    /// <param name="noOpScriptSha">The SHA1 (hex) of <see cref="NoOpScript"/>, loaded on every master.</param>
    /// <param name="operationTimeout">The value of <c>RateLimiting:Redis:OperationTimeout</c>: how long a decision waits for Redis before the failure mode answers.</param>
    /// <param name="batching">The value of <c>RateLimiting:Redis:Batching</c>.</param>
    public static async Task<BenchApp> StartAsync(string redisConfiguration, string keyPrefix, bool overLimitCache, string noOpScriptSha, TimeSpan operationTimeout, bool batching = true)
    {
        // The round-trip endpoint's own multiplexer, configured as the store's is.
        var roundTrips = await ConnectionMultiplexer.ConnectAsync(redisConfiguration);
        var noOpSha = Convert.FromHexString(noOpScriptSha);
        RedisValue[] noOpArguments = [0, 1, NeverReached, 3_600_000_000L];

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddRedisSlidingWindowLimiter(options =>
        {
            options.Redis.Configuration = redisConfiguration;
            options.Redis.KeyPrefix = keyPrefix;
            options.Redis.OperationTimeout = operationTimeout;
            options.Redis.Batching = batching;
            options.OverLimitCache = overLimitCache;

            // FailClosed: a store failure answers 503, which the status check reports, instead of
            // admitting without Redis (FailOpen) and flattering the figure.
            options.Policies[OursPolicy] = new SlidingWindowPolicyOptions
            {
                PermitLimit = NeverReached,
                Window = TimeSpan.FromHours(1),
                PartitionBy = "Header:X-Api-Key",
                FailureMode = FailureMode.FailClosed,
            };
            // The same, admitting when the store cannot decide in time: what (f) black-holes. (f)
            // counts which admissions Redis decided, so that fail-open ones cannot flatter it unseen.
            options.Policies[FailOpenPolicy] = new SlidingWindowPolicyOptions
            {
                PermitLimit = NeverReached,
                Window = TimeSpan.FromHours(1),
                PartitionBy = "Header:X-Api-Key",
                FailureMode = FailureMode.FailOpen,
            };
            // A per-client quota, then a global cap: the ours policy itself, then one partition for
            // every request, on one master, in the same window and never reached either.
            options.Policies[GlobalPolicy] = new SlidingWindowPolicyOptions
            {
                PermitLimit = NeverReached,
                Window = TimeSpan.FromHours(1),
                PartitionBy = "Global",
                FailureMode = FailureMode.FailClosed,
            };
            options.Policies[ChainPolicy] = new SlidingWindowPolicyOptions { Chain = [OursPolicy, GlobalPolicy] };
            options.Policies[ExhaustedPolicy] = new SlidingWindowPolicyOptions
            {
                PermitLimit = 1,
                Window = TimeSpan.FromHours(1),
                PartitionBy = "Global",
                FailureMode = FailureMode.FailClosed,
            };
        });
        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddSlidingWindowLimiter(AspNetCorePolicy, window => Configure(window, NeverReached));
            options.AddSlidingWindowLimiter(AspNetCoreExhaustedPolicy, window => Configure(window, 1));
        });

        var app = builder.Build();
        // Per endpoint, so that requests of one run still completing when the next run starts
        // are not counted against the next one's endpoint.
        var statuses = new[] { NoLimiterPath, AspNetCorePath, OursPath, FailOpenPath, ChainPath, ExhaustedPath, AspNetCoreExhaustedPath, RoundTripPath }.ToDictionary(path => path, _ => new StatusCounter());
        var failOpenSources = new DecisionSourceCounter();
        app.Use(async (context, next) =>
        {
            await next(context);
            if (context.Request.Path.Value is { } path && statuses.TryGetValue(path, out var counter))
            {
                counter.Count(context.RequestAborted.IsCancellationRequested ? StatusCounter.Aborted : context.Response.StatusCode);
            }
        });
        app.UseRouting();
        app.UseRateLimiter();
        app.MapGet(NoLimiterPath, Hello);
        app.MapGet(AspNetCorePath, Hello).RequireRateLimiting(AspNetCorePolicy);
        app.MapGet(OursPath, Hello).RequireRateLimiting(OursPolicy);
        app.MapGet(FailOpenPath, (HttpContext context) =>
        {
            // Only here: the other endpoints pay nothing for it.
            failOpenSources.Count(context.Response);
            return Hello();
        }).RequireRateLimiting(FailOpenPolicy);
        app.MapGet(ChainPath, Hello).RequireRateLimiting(ChainPolicy);
        app.MapGet(ExhaustedPath, Hello).RequireRateLimiting(ExhaustedPolicy);
        app.MapGet(AspNetCoreExhaustedPath, Hello).RequireRateLimiting(AspNetCoreExhaustedPolicy);
        var database = roundTrips.GetDatabase();
        app.MapGet(RoundTripPath, async (HttpContext context) =>
        {
            // Keys of the limiter's shape, hash-tagged by client, so the calls spread over the masters as ours do.
            var client = context.Request.Headers["X-Api-Key"].ToString();
            await database.ScriptEvaluateAsync(noOpSha, [(RedisKey)$"rt:{{{client}}}:e", (RedisKey)$"rt:{{{client}}}:t"], noOpArguments);
            return Hello();
        });
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new BenchApp(app, new Uri(address), statuses, failOpenSources, roundTrips);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _roundTrips.CloseAsync();
        _roundTrips.Dispose();
    }

    private static string Hello() => "hello";

    private static void Configure(SlidingWindowRateLimiterOptions window, int permitLimit)
    {
        window.PermitLimit = permitLimit;
        window.Window = TimeSpan.FromHours(1);
        window.SegmentsPerWindow = 60;
        window.QueueLimit = 0;
    }
}
