using System.Diagnostics;
using System.Globalization;
using RateLimiting.Benchmarks.Infrastructure;
using RateLimiting.Benchmarks.Suite;

namespace RateLimiting.Benchmarks.Http;

/// <summary>
/// (b) and (c): requests per second with wrk on 127.0.0.1 against <see cref="BenchApp"/>: no
/// limiter, ASP.NET Core's in-memory sliding window, ours never rejecting (10,000 clients by
/// X-Api-Key, spread over all masters) with batching and without, at wrk's connections and four
/// times as many, a chain of that policy and a global one, and ours on an exhausted partition (every request a 429) with and without the
/// over-limit cache. Every variant is warmed up, then measured in rounds of
/// alternating order; the best round counts. wrk, Kestrel and Redis share the same cores.
/// </summary>
internal static class HttpThroughputScenario
{
    private static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(500);

    // (b) and (c) measure speed, not the failure mode: a slow moment of a noisy machine must show as
    // a slow response (the policies are FailClosed, so as a 503 otherwise), not as a fast failure.
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(string redisConfiguration, BenchCluster cluster, SuiteOptions options, ResultTable table)
    {
        cluster.FlushAll();
        var noOpScriptSha = cluster.LoadScript(BenchApp.NoOpScript);
        await using var cached = await BenchApp.StartAsync(redisConfiguration, "rl-cache", overLimitCache: true, noOpScriptSha, OperationTimeout);
        await using var uncached = await BenchApp.StartAsync(redisConfiguration, "rl-nocache", overLimitCache: false, noOpScriptSha, OperationTimeout);
        await using var unbatched = await BenchApp.StartAsync(redisConfiguration, "rl-single", overLimitCache: true, noOpScriptSha, OperationTimeout, batching: false);
        var script = Path.Combine(Path.GetTempPath(), $"rl-bench-{Environment.ProcessId}.lua");
        await File.WriteAllTextAsync(script, WrkTool.ClientKeysScript);
        try
        {
            var many = options.WrkConnections * 4;
            HttpVariant Variant(string id, string name, BenchApp app, string path, int status, int connections = 0)
                => new(id, connections == 0 ? name : $"{name}, {connections} connections", app, path, status, connections == 0 ? options.WrkConnections : connections);
            var none = Variant("b", "HTTP: no limiter", cached, BenchApp.NoLimiterPath, 200);
            var aspNetCore = Variant("b", "HTTP: ASP.NET Core in-memory sliding window", cached, BenchApp.AspNetCorePath, 200);
            var ours = Variant("b", "HTTP: ours, never rejects (Header:X-Api-Key)", cached, BenchApp.OursPath, 200);
            var oursAlone = Variant("b", "HTTP: ours, Redis:Batching off (one call per decision)", unbatched, BenchApp.OursPath, 200);
            var chain = Variant("b", "HTTP: ours, chain of two (ours, then Global), never rejects", cached, BenchApp.ChainPath, 200);
            var withCache = Variant("c", "HTTP: ours, exhausted partition, over-limit cache on", cached, BenchApp.ExhaustedPath, 429);
            var withoutCache = Variant("c", "HTTP: ours, exhausted partition, over-limit cache off", uncached, BenchApp.ExhaustedPath, 429);
            var roundTrip = Variant("b", "HTTP: one Redis round trip that decides nothing", cached, BenchApp.RoundTripPath, 200);
            var aspNetCoreExhausted = Variant("c", "HTTP: ASP.NET Core in-memory sliding window, exhausted", cached, BenchApp.AspNetCoreExhaustedPath, 429);
            var noneMany = Variant("b", "HTTP: no limiter", cached, BenchApp.NoLimiterPath, 200, many);
            var oursMany = Variant("b", "HTTP: ours, never rejects", cached, BenchApp.OursPath, 200, many);
            var oursAloneMany = Variant("b", "HTTP: ours, Redis:Batching off", unbatched, BenchApp.OursPath, 200, many);
            var roundTripMany = Variant("b", "HTTP: one Redis round trip that decides nothing", cached, BenchApp.RoundTripPath, 200, many);
            HttpVariant[] variants = [none, aspNetCore, ours, oursAlone, chain, withCache, withoutCache, aspNetCoreExhausted, roundTrip, noneMany, oursMany, oursAloneMany, roundTripMany];

            // Connections, limiters per partition, the exhausting first request, and the JIT until
            // tiered compilation has finished with every variant's code.
            foreach (var variant in variants)
            {
                var (passes, compiled, settled) = await SteadyState.WarmUpAsync(
                    () => RunAsync(cluster, variant, script, options, options.HttpWarmup, record: false),
                    options.WarmupDeadline);
                Console.Error.WriteLine($"bench: [{variant.Id}] {variant.Name}: warmed up in {passes} x {options.HttpWarmup.TotalSeconds:0} s, {compiled} methods compiled{(settled ? string.Empty : ", still compiling at the deadline")}");
            }

            for (var round = 0; round < options.HttpRounds; round++)
            {
                foreach (var variant in round % 2 == 0 ? variants : variants.Reverse())
                {
                    await RunAsync(cluster, variant, script, options, options.HttpDuration, record: true);
                }
            }

            var how = string.Create(CultureInfo.InvariantCulture,
                $"wrk -t{options.WrkThreads} -c{options.WrkConnections} (or as named), best of {options.HttpRounds} x {options.HttpDuration.TotalSeconds:0} s");
            Report(table, none, how);
            Report(table, aspNetCore, string.Empty);
            Report(table, ours, string.Empty);
            Report(table, oursAlone, string.Empty);
            Report(table, chain, "two decisions per request, one after the other; the second on one partition (one master) for every request");
            Report(table, roundTrip, "EVALSHA of a script returning at once, StackExchange.Redis called directly: the ceiling of any limiter that makes one Redis call per request");
            table.AddRatio("b", "ASP.NET Core in-memory / no limiter", Rate(aspNetCore), Rate(none));
            table.AddRatio("b", "ours / no limiter", Rate(ours), Rate(none), 0.7, "decisions for one master batched while a call to it is in flight");
            table.AddRatio("b", "Batching off / no limiter", Rate(oursAlone), Rate(none), note: "every request its own Redis call");
            table.AddRatio("b", "round trip / no limiter", Rate(roundTrip), Rate(none), note: "the one-call-per-request ceiling on this machine with this client");
            table.AddRatio("b", "ours / round trip", Rate(ours), Rate(roundTrip), note: "above 1: past the one-call-per-request ceiling");
            table.AddRatio("b", "ours / Batching off", Rate(ours), Rate(oursAlone), note: "what batching gains");
            table.AddRatio("b", "chain of two / one policy", Rate(chain), Rate(ours), note: "what a second link costs: a second store call per request");
            Report(table, noneMany, string.Empty);
            Report(table, oursMany, string.Empty);
            Report(table, oursAloneMany, string.Empty);
            Report(table, roundTripMany, string.Empty);
            table.AddRatio("b", $"ours / no limiter, {many} connections", Rate(oursMany), Rate(noneMany));
            table.AddRatio("b", $"ours / round trip, {many} connections", Rate(oursMany), Rate(roundTripMany));
            table.AddRatio("b", $"ours / Batching off, {many} connections", Rate(oursMany), Rate(oursAloneMany));
            Report(table, withCache, "every response a 429 (problem+json)");
            Report(table, withoutCache, string.Empty);
            Report(table, aspNetCoreExhausted, "reference: a 429 with an empty body, no headers");
            table.AddRatio("c", "exhausted, cache on / no limiter", Rate(withCache), Rate(none), 0.95, "no Redis call while the cache knows the partition is over");
            table.AddRatio("c", "exhausted, cache off / no limiter", Rate(withoutCache), Rate(none), note: "a Redis call per rejection");
            table.AddRatio("c", "ASP.NET Core exhausted / no limiter", Rate(aspNetCoreExhausted), Rate(none), note: "what any 429 costs here");
        }
        finally
        {
            File.Delete(script);
            cluster.FlushAll();
        }
    }

    private static double Rate(HttpVariant variant) => variant.Best?.Wrk.RequestsPerSecond ?? 0;

    private static async Task RunAsync(BenchCluster cluster, HttpVariant variant, string script, SuiteOptions options, TimeSpan duration, bool record)
    {
        var before = variant.App.Statuses(variant.Path);
        var serverCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var redisCpu = cluster.CpuSeconds();
        var wrkCpu = ChildProcessCpu.Read();
        var started = Stopwatch.GetTimestamp();
        var result = await WrkTool.RunAsync(variant.Url, script, options.WrkThreads, variant.Connections, duration);
        var run = new HttpRun(
            result,
            Stopwatch.GetElapsedTime(started),
            Process.GetCurrentProcess().TotalProcessorTime - serverCpu,
            TimeSpan.FromSeconds(cluster.CpuSeconds() - redisCpu),
            ChildProcessCpu.Read() - wrkCpu);

        // Requests wrk abandoned at its deadline still complete in the server; let them, so that
        // the next run starts on a quiet server.
        await Task.Delay(SettleTime);
        var counted = variant.App.Statuses(variant.Path) - before;
        if (!record)
        {
            return;
        }

        variant.Runs.Add(run);
        variant.Responses += counted;
        variant.SocketErrors += result.SocketErrors;
    }

    private static void Report(ResultTable table, HttpVariant variant, string how)
    {
        var best = variant.Best;
        var responses = variant.Responses;
        var aborted = responses.Aborted > 0 ? $" ({responses.Aborted} aborted by wrk at its deadline)" : string.Empty;
        var check = responses.Unexpected(variant.ExpectedStatus) == 0 && variant.SocketErrors == 0
            ? $"all {responses.Total:N0} responses {variant.ExpectedStatus}{aborted}"
            : $"WARNING: responses 200: {responses.Ok:N0}, 429: {responses.TooManyRequests:N0}, other: {responses.Other:N0} (last {responses.LastOther}){aborted}; wrk socket errors: {variant.SocketErrors:N0}";
        var runs = string.Join(" / ", variant.Runs.Select(r => r.Wrk.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture)));
        var detail = best is null
            ? string.Empty
            : string.Create(CultureInfo.InvariantCulture,
                $"p50 {best.Wrk.P50.TotalMilliseconds:0.00} ms, p99 {best.Wrk.P99.TotalMilliseconds:0.00} ms; CPU µs/request: server {best.PerRequest(best.ServerCpu):0}, Redis {best.PerRequest(best.RedisCpu):0}, wrk {(best.WrkCpu is { } w ? best.PerRequest(w).ToString("0", CultureInfo.InvariantCulture) : "?")}; {best.CoresBusy:0.00} cores busy");
        var note = string.Join("; ", new[] { how, $"rounds {runs}", detail, check }.Where(s => s.Length > 0));
        table.Add(variant.Id, variant.Name, best?.Wrk.RequestsPerSecond ?? 0, "requests/s", note);
    }
}
