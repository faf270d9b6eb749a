using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime;
using RateLimiting.AspNetCore;
using RateLimiting.Benchmarks.Infrastructure;
using RateLimiting.Benchmarks.Suite;
using RateLimiting.Redis.Store;

namespace RateLimiting.Benchmarks.Http;

/// <summary>
/// (f) Every master black-holed: our never-rejecting policy with FailureMode FailOpen, over HTTP
/// (wrk on 127.0.0.1, Kestrel) as in (b), measured twice in one run on the same endpoint: with Redis
/// answering, then with every node frozen (<see cref="ClusterBlackHole"/>), once the black hole has
/// lasted a few seconds under load. The application has the library's default OperationTimeout,
/// the deadline a decision waits for Redis before the failure mode answers. After SIGCONT, probes
/// poll until Redis decides for every master again, and time it.
/// </summary>
internal static class BlackHoleScenario
{
    private const string Id = "f";
    private const string KeyPrefix = "rl-blackhole";
    private const double RateTarget = 0.90;
    private const double P50DifferenceTargetMilliseconds = 1;

    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    // Between probe rounds: once fail-open answers are instant, the poll must not become a load of its own.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(10);

    public static async Task RunAsync(string redisConfiguration, BenchCluster cluster, SuiteOptions options, ResultTable table)
    {
        cluster.FlushAll();
        var noOpScriptSha = cluster.LoadScript(BenchApp.NoOpScript);
        var blackHole = ClusterBlackHole.Find(cluster);
        var mastersBefore = cluster.CurrentMasters();
        var operationTimeout = new RedisStoreOptions().OperationTimeout;
        // Every decision ends within OperationTimeout, so requests that wrk abandons at its deadline
        // are answered (and counted) within this, and the next run starts on a quiet server.
        var settleTime = operationTimeout * 2;
        var probeKeys = ProbeKeys(cluster);
        await using var app = await BenchApp.StartAsync(redisConfiguration, KeyPrefix, overLimitCache: true, noOpScriptSha, operationTimeout);
        var url = new Uri(app.BaseAddress, BenchApp.FailOpenPath);
        var script = Path.Combine(Path.GetTempPath(), $"rl-bench-blackhole-{Environment.ProcessId}.lua");
        await File.WriteAllTextAsync(script, WrkTool.ClientKeysScript);
        using var probes = new HttpClient { Timeout = ProbeTimeout };
        try
        {
            // Connections, a limiter per partition, and the JIT, as (b) does.
            var (passes, compiled, settled) = await SteadyState.WarmUpAsync(
                () => MeasureAsync(app, url, script, options, options.HttpWarmup, settleTime),
                options.BlackHoleWarmupDeadline);
            var warmup = string.Create(CultureInfo.InvariantCulture,
                $"warmed up in {passes} x {options.HttpWarmup.TotalSeconds:0} s{(settled ? string.Empty : $", still compiling at the {options.BlackHoleWarmupDeadline.TotalSeconds:0} s deadline")}");
            Console.Error.WriteLine($"bench: [{Id}] FailOpen endpoint: {warmup}, {compiled} methods compiled");
            var healthy = await MeasureAsync(app, url, script, options, options.BlackHoleDuration, settleTime);
            var healthyOpenings = app.BreakerOpenings;

            // The probes that time the way back are checked on both sides of it first (and their
            // connections are open and their code compiled by then, so that the timing is Redis's).
            var probesHealthy = await ProbeRoundAsync(probes, url, probeKeys, Stopwatch.GetTimestamp());

            Console.Error.WriteLine($"bench: [{Id}] freezing all {cluster.Nodes.Count} nodes (SIGSTOP to {blackHole.ProcessIds})");
            var statusesBefore = app.Statuses(BenchApp.FailOpenPath);
            var sourcesBefore = app.FailOpenSources;
            FailOpenRun blackHoleWarmup;
            FailOpenRun blackHoled;
            ProbeAnswer[] probesFrozen;
            long thawed;
            try
            {
                await blackHole.FreezeAsync();
                // What the application does in the first moments of an outage (e.g. counting failures
                // until a breaker opens) is not the steady state this measures.
                blackHoleWarmup = await MeasureAsync(app, url, script, options, options.BlackHoleWarmup, settleTime);
                blackHoled = await MeasureAsync(app, url, script, options, options.BlackHoleDuration, settleTime);
                probesFrozen = await ProbeRoundAsync(probes, url, probeKeys, Stopwatch.GetTimestamp());
            }
            finally
            {
                thawed = Stopwatch.GetTimestamp();
                await blackHole.ThawAsync();
            }

            var blackHoleResponses = app.Statuses(BenchApp.FailOpenPath) - statusesBefore;
            var blackHoleSources = app.FailOpenSources - sourcesBefore;
            Console.Error.WriteLine($"bench: [{Id}] nodes continued (SIGCONT); waiting until Redis decides for every master again");
            var recovery = await WaitForStoreAsync(probes, url, probeKeys, thawed);
            var mastersAfter = cluster.CurrentMasters();

            var blackHoleSocketErrors = blackHoleWarmup.Wrk.SocketErrors + blackHoled.Wrk.SocketErrors;
            Report(table, options, operationTimeout, warmup, healthy, healthyOpenings, blackHoled, blackHoleResponses, blackHoleSources, blackHoleSocketErrors);
            var probeCheck = probesHealthy.All(a => a.Failure is null && a.DecidedByStore) && probesFrozen.All(a => a.Failure is null && !a.DecidedByStore)
                ? "each probe decided by Redis before the freeze and admitted fail-open during it"
                : "WARNING: the probes did not see Redis decide before the freeze and fail-open admit during it";
            ReportRecovery(table, recovery, probeCheck, mastersBefore, mastersAfter);
        }
        finally
        {
            File.Delete(script);
            cluster.FlushAll();
        }
    }

    private static async Task<FailOpenRun> MeasureAsync(BenchApp app, Uri url, string script, SuiteOptions options, TimeSpan duration, TimeSpan settleTime)
    {
        var statuses = app.Statuses(BenchApp.FailOpenPath);
        var sources = app.FailOpenSources;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var compiled = JitInfo.GetCompiledMethodCount();
        var wrk = await WrkTool.RunAsync(url, script, options.WrkThreads, options.WrkConnections, duration);
        var serverCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var compiledDuring = JitInfo.GetCompiledMethodCount() - compiled;
        await Task.Delay(settleTime);
        return new FailOpenRun(wrk, app.Statuses(BenchApp.FailOpenPath) - statuses, app.FailOpenSources - sources, serverCpu, compiledDuring);
    }

    /// <summary>One partition (X-Api-Key) on each master, so that the probes hear from every master.</summary>
    private static string[] ProbeKeys(BenchCluster cluster)
    {
        var keys = new RedisKeyLayout(KeyPrefix);
        var byMaster = new string?[cluster.Masters.Count];
        for (var i = 0; byMaster.Any(k => k is null); i++)
        {
            if (i > 100_000)
            {
                throw new InvalidOperationException("Could not find a probe partition on every master.");
            }

            var partition = "probe-" + i.ToString(CultureInfo.InvariantCulture);
            var master = cluster.MasterOf(keys.For(BenchApp.FailOpenPolicy, partition).Entries);
            byMaster[master] ??= partition;
        }

        return [.. byMaster.Select(k => k!)];
    }

    /// <summary>
    /// Rounds of one probe per master at once, until a round that Redis decided entirely, or the
    /// deadline. No other load meanwhile: this times the way back, not throughput.
    /// </summary>
    private static async Task<StoreRecovery> WaitForStoreAsync(HttpClient client, Uri url, string[] probeKeys, long thawed)
    {
        TimeSpan? first = null;
        long probes = 0;
        long failed = 0;
        string? lastFailure = null;
        while (Stopwatch.GetElapsedTime(thawed) < RecoveryDeadline)
        {
            var answers = await ProbeRoundAsync(client, url, probeKeys, thawed);
            probes += answers.Length;
            foreach (var answer in answers)
            {
                if (answer.Failure is not null)
                {
                    failed++;
                    lastFailure = answer.Failure;
                }
                else if (answer.DecidedByStore && (first is null || answer.At < first))
                {
                    first = answer.At;
                }
            }

            if (answers.All(a => a.DecidedByStore))
            {
                return new StoreRecovery(first, answers.Max(a => a.At), probes, failed, lastFailure);
            }

            await Task.Delay(ProbeInterval);
        }

        return new StoreRecovery(first, null, probes, failed, lastFailure);
    }

    /// <summary>One probe per master, all at once; each answer's time is counted from <paramref name="since"/>.</summary>
    private static Task<ProbeAnswer[]> ProbeRoundAsync(HttpClient client, Uri url, string[] probeKeys, long since)
        => Task.WhenAll(probeKeys.Select(key => ProbeAsync(client, url, key, since)));

    private static async Task<ProbeAnswer> ProbeAsync(HttpClient client, Uri url, string apiKey, long since)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("X-Api-Key", apiKey);
        try
        {
            using var response = await client.SendAsync(request);
            var at = Stopwatch.GetElapsedTime(since);
            return response.StatusCode == HttpStatusCode.OK
                ? new ProbeAnswer(response.Headers.Contains(RateLimitResponse.StateHeader), at, null)
                : new ProbeAnswer(false, at, $"status {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return new ProbeAnswer(false, Stopwatch.GetElapsedTime(since), ex.GetType().Name + ": " + ex.Message);
        }
    }

    private static void Report(ResultTable table, SuiteOptions options, TimeSpan operationTimeout, string warmup, FailOpenRun healthy, long healthyOpenings, FailOpenRun blackHoled, StatusCounts blackHoleResponses, DecisionSourceCounts blackHoleSources, long blackHoleSocketErrors)
    {
        var how = string.Create(CultureInfo.InvariantCulture,
            $"wrk -t{options.WrkThreads} -c{options.WrkConnections}, 1 x {options.BlackHoleDuration.TotalSeconds:0} s");

        var healthyCheck = Check(healthy.Responses, healthy.Wrk.SocketErrors);
        if (healthyCheck is null)
        {
            // Not a failure of the harness: on a busy machine a decision can miss its deadline, and
            // the failure mode then answers; it only says how pure the healthy figure is.
            var failOpen = healthy.Sources.FailOpen > 0
                ? $", {healthy.Sources.FailOpen:N0} of them fail-open (a decision over the {operationTimeout.TotalMilliseconds:0} ms deadline)"
                : string.Empty;
            healthyCheck = $"all {healthy.Responses.Total:N0} responses 200, {healthy.Sources.Store:N0} decided by Redis (RateLimit headers){failOpen}; circuit breakers opened {healthyOpenings} times so far (warm-up included)";
        }

        table.Add(Id, "HTTP: ours FailOpen, Redis answering", healthy.Wrk.RequestsPerSecond, "requests/s", Note($"{how}, {warmup}", healthy, healthyCheck, healthy.Responses.Aborted));

        // Every response of the black hole counts, its warm-up included: all must be the failure
        // mode's admission, none an error, none a decision of a frozen Redis.
        var blackHoleCheck = Check(blackHoleResponses, blackHoleSocketErrors)
            ?? (blackHoleSources.Store > 0
                ? $"WARNING: {blackHoleSources.Store:N0} of {blackHoleResponses.Total:N0} responses decided by Redis while every node was frozen"
                : $"all {blackHoleResponses.Total:N0} responses of the black hole (warm-up included) 200, fail-open admissions (no RateLimit headers), none 500");
        var blackHow = string.Create(CultureInfo.InvariantCulture,
            $"every node SIGSTOPped (masters and replicas: connections open, nothing answered); {how}, from {options.BlackHoleWarmup.TotalSeconds:0} s into the black hole");
        table.Add(Id, "HTTP: ours FailOpen, every node black-holed", blackHoled.Wrk.RequestsPerSecond, "requests/s", Note(blackHow, blackHoled, blackHoleCheck, blackHoleResponses.Aborted));

        table.AddRatio(Id, "black-holed / healthy, requests/s", blackHoled.Wrk.RequestsPerSecond, healthy.Wrk.RequestsPerSecond, RateTarget,
            string.Create(CultureInfo.InvariantCulture, $"OperationTimeout {operationTimeout.TotalMilliseconds:0} ms (the default): the longest a decision waits for a frozen master"));
        table.AddAtMost(Id, "p50 black-holed minus healthy", (blackHoled.Wrk.P50 - healthy.Wrk.P50).TotalMilliseconds, "ms", P50DifferenceTargetMilliseconds,
            string.Create(CultureInfo.InvariantCulture,
                $"p50 {blackHoled.Wrk.P50.TotalMilliseconds:0.00} vs {healthy.Wrk.P50.TotalMilliseconds:0.00} ms; p99 {blackHoled.Wrk.P99.TotalMilliseconds:0.00} vs {healthy.Wrk.P99.TotalMilliseconds:0.00} ms"));
    }

    private static void ReportRecovery(ResultTable table, StoreRecovery recovery, string probeCheck, IReadOnlyList<IPEndPoint> mastersBefore, IReadOnlyList<IPEndPoint> mastersAfter)
    {
        var failover = mastersBefore.SequenceEqual(mastersAfter)
            ? "masters unchanged (no failover)"
            : $"WARNING: the masters changed, {string.Join(' ', mastersBefore)} before, {string.Join(' ', mastersAfter)} after";
        var everyMaster = recovery.EveryMaster is { } all
            ? string.Create(CultureInfo.InvariantCulture, $"Redis decided every master's probe {all.TotalMilliseconds:N0} ms after SIGCONT")
            : $"WARNING: Redis did not decide every master's probe within {RecoveryDeadline.TotalSeconds:0} s of SIGCONT";
        var failures = recovery.Failed > 0 ? $"; WARNING: {recovery.Failed:N0} probes failed (last: {recovery.LastFailure})" : string.Empty;
        var note = $"{everyMaster}; {recovery.Probes:N0} probes, one per master at a time, no other load; {probeCheck}; {failover}{failures}";
        table.Add(Id, "SIGCONT to the first decision by Redis", recovery.FirstStoreDecision?.TotalMilliseconds ?? double.NaN, "ms", note);
    }

    /// <summary>Null when every response was a 200 and wrk saw no socket error; otherwise what went wrong, as a WARNING.</summary>
    private static string? Check(StatusCounts responses, long socketErrors)
        => responses.Unexpected(200) == 0 && socketErrors == 0
            ? null
            : $"WARNING: responses 200: {responses.Ok:N0}, 429: {responses.TooManyRequests:N0}, other: {responses.Other:N0} (last {responses.LastOther}); wrk socket errors: {socketErrors:N0}";

    private static string Note(string how, FailOpenRun run, string check, long aborted)
    {
        var abortedText = aborted > 0 ? $" ({aborted:N0} aborted by wrk at its deadline)" : string.Empty;
        var detail = string.Create(CultureInfo.InvariantCulture,
            $"p50 {run.Wrk.P50.TotalMilliseconds:0.00} ms, p99 {run.Wrk.P99.TotalMilliseconds:0.00} ms; server CPU {run.CpuPerRequest:0} µs/request; {run.Compiled} methods compiled meanwhile");
        return $"{how}; {detail}; {check}{abortedText}";
    }
}
