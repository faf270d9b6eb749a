using System.Diagnostics;
using System.Net;
using RateLimiting.Policies;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;
using RateLimiting.Time;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// Scaling in: every slot of one master moves to another with its keys while nothing asks for
/// them, then the emptied master stops. The store still names that master as their owner (no
/// decision met a MOVED reply), and the client lost its connection to it: decisions queued together
/// for it must reach the slots' new owner rather than wait for a node that is gone.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class ScaleInTests : ResilienceScenarioTests
{
    private const int Partitions = 8;
    private const int DecisionsEach = 8;
    private const int Limit = 100;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    public ScaleInTests(ITestOutputHelper output)
        : base(output)
    {
    }

    // A deadline far above what a busy machine needs: a decision that waits for the stopped master
    // fails, one sent to the new owner does not.
    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(
        FailureMode.FailClosed,
        Limit,
        TimeSpan.FromHours(1),
        options => options.OperationTimeout = TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Store_MasterEmptiedThenStopped_DecisionsQueuedForItAreDecidedByTheNewOwner()
    {
        // Arrange: one decision per partition while the leaving master owns them all.
        var cluster = Scenario.Cluster;
        var masters = (await cluster.MastersAsync()).OrderBy(master => master.Port).ToArray();
        var (leaving, heir) = (masters[0], masters[1]);
        var partitions = Scenario.PartitionsOn([leaving], Partitions, "scale-in")[0];
        await Scenario.WaitUntilStoreBackedAsync(partitions, Generous, Stopwatch.GetTimestamp());
        foreach (var partition in partitions)
        {
            Assert.Equal(Limit - 1, (await Scenario.Store.DecideAsync(Request(partition), CancellationToken.None)).Remaining);
        }

        var generation = Scenario.Connection.Supervisor.Current!;
        var multiplexer = generation.Multiplexer;
        var leavingBreaker = Scenario.Connection.Breakers.For(multiplexer, Scenario.Keys.For(ResilienceScenario.Policy, partitions[0]).Entries);
        var leavingEndPoint = new IPEndPoint(IPAddress.Loopback, leaving.Port);
        Assert.Equal(leavingEndPoint.ToString(), leavingBreaker.EndPoint?.ToString());

        var slots = leaving.SlotRanges.SelectMany(range => Enumerable.Range(range.Start, range.End - range.Start + 1)).ToArray();
        await SlotMigration.MoveAsync(cluster.AdminNodeOf(leaving), cluster.AdminNodeOf(heir), masters[2..].Select(cluster.AdminNodeOf), slots);
        await cluster.KillNodeAsync(leaving.Port);
        await Poll.UntilAsync(() => Task.FromResult(multiplexer.GetServer(leavingEndPoint).IsConnected), connected => !connected, Generous);
        Scenario.CountingStore.Reset();

        // Act: all at once, so that most wait behind a call in flight for the master they were queued for.
        var decisions = await Task.WhenAll(partitions.SelectMany(partition => Enumerable.Repeat(partition, DecisionsEach)).Select(async partition =>
        {
            try
            {
                return (partition, Decision: (RateLimitDecision?)await Scenario.Store.DecideAsync(Request(partition), CancellationToken.None), Error: (Exception?)null);
            }
            catch (Exception ex) when (ex is RateLimitStoreUnavailableException or TimeoutException or RedisException)
            {
                return (partition, Decision: (RateLimitDecision?)null, Error: ex);
            }
        }));

        // Assert: every decision answered by Redis, each partition counted on from its moved window.
        Assert.All(decisions, d => Assert.Null(d.Error));
        Assert.All(decisions, d => Assert.True(d.Decision!.Value.IsAllowed));
        foreach (var partition in partitions)
        {
            var remaining = decisions.Where(d => d.partition == partition).Select(d => d.Decision!.Value.Remaining).Order().ToArray();
            Assert.Equal(Enumerable.Range(Limit - 1 - DecisionsEach, DecisionsEach), remaining);
        }

        // Act and assert again, on the batcher: decisions queued for the stopped master behind one
        // in flight (which is sent alone, routed by its slot) are handed back to their callers.
        var batcher = Scenario.Connection.Batcher!;
        var handedBackBefore = batcher.DecidedAlone;
        var members = partitions.SelectMany(partition => Enumerable.Repeat(partition, DecisionsEach)).Select(Member).ToArray();
        foreach (var member in members)
        {
            batcher.Enqueue(leavingBreaker, generation, member);
        }

        var replies = await Task.WhenAll(members.Select(member => member.Reply)).WaitAsync(Generous);
        Assert.NotNull(replies[0]);
        Assert.Contains(null, replies);
        Assert.Equal(replies.Count(reply => reply is null), batcher.DecidedAlone - handedBackBefore);
    }

    /// <summary>A decision of cost 1 at the server's clock, as the store queues it.</summary>
    private BatchMember Member(string partition)
    {
        var (entries, totals) = Scenario.Keys.For(ResilienceScenario.Policy, partition);
        return new BatchMember(SlidingWindowScripts.Decide, [entries, totals], [0, 1, Limit, (long)TimeSpan.FromHours(1).TotalMicroseconds], MonotonicClock.Instance.GetCurrentInstant());
    }

    private static RateLimitRequest Request(string partition) => new(ResilienceScenario.Policy, partition, Limit, TimeSpan.FromHours(1), 1);
}
