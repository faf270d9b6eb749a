using System.Globalization;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// Moves hash slots from one master to another with their keys, in the steps of
/// <c>redis-cli --cluster reshard</c>: <see cref="OpenAsync"/> (IMPORTING on the target, then
/// MIGRATING on the source), <see cref="MigrateKeysAsync"/> (GETKEYSINSLOT and MIGRATE), then
/// <see cref="AssignAsync"/> (SETSLOT NODE on the target, the source and every other master).
/// A scenario may run the steps one by one and hold a state in between (<c>ReshardingTests</c>), or
/// move many slots at once with <see cref="MoveAsync"/>.
/// </summary>
/// <remarks>
/// Each step sends its commands for all the slots in one pipeline per node. redis-cli moves one slot
/// at a time, every SETSLOT a round trip and a nodes-file save: 1.3 s per 1,000 slots on the idle
/// 2-core test machine (Redis 7.0.15), some 20 s for a whole cluster. Pipelined, 4,461 slots moved
/// in 0.9 s there, and <c>NodeReplacementTests</c> moves all 16,384 under load in 3.5 to 5 s. The
/// work per slot stays: a target that takes a slot it imported broadcasts a PONG to every node, so
/// a fast move is a burst that slows the nodes down while it lasts.
/// </remarks>
internal static class SlotMigration
{
    private const string MigrateTimeoutMilliseconds = "5000";

    /// <summary>GETKEYSINSLOT's page size, and so the largest MIGRATE.</summary>
    public const int KeysPerMigrate = 100;

    /// <summary>Opens <paramref name="slots"/> for migration: IMPORTING on the target first, so that the ASKs the source then answers are accepted.</summary>
    public static async Task OpenAsync(AdminNode source, AdminNode target, IReadOnlyCollection<int> slots)
    {
        await ExecuteOnEveryAsync(target, slots, slot => ["CLUSTER", "SETSLOT", Text(slot), "IMPORTING", source.Id]);
        await ExecuteOnEveryAsync(source, slots, slot => ["CLUSTER", "SETSLOT", Text(slot), "MIGRATING", target.Id]);
    }

    /// <summary>Up to <paramref name="count"/> keys the source still holds in <paramref name="slot"/>.</summary>
    public static async Task<string[]> KeysInSlotAsync(AdminNode source, int slot, int count = KeysPerMigrate)
        => [.. ((object?[])(await source.ExecuteAsync("CLUSTER", "GETKEYSINSLOT", Text(slot), Text(count)))!).Cast<string>()];

    /// <summary>Moves <paramref name="keys"/> (of open slots) from the source to the target, TTLs included.</summary>
    public static async Task MigrateKeysAsync(AdminNode source, AdminNode target, IReadOnlyCollection<string> keys)
        => await source.ExecuteAsync(["MIGRATE", "127.0.0.1", Text(target.Port), "", "0", MigrateTimeoutMilliseconds, "KEYS", .. keys]);

    /// <summary>
    /// Gives <paramref name="slots"/> to the target on the target, the source, then
    /// <paramref name="otherMasters"/>, as redis-cli does; the keys must have moved already.
    /// </summary>
    public static async Task AssignAsync(AdminNode target, AdminNode source, IEnumerable<AdminNode> otherMasters, IReadOnlyCollection<int> slots)
    {
        await ExecuteOnEveryAsync(target, slots, slot => ["CLUSTER", "SETSLOT", Text(slot), "NODE", target.Id]);
        foreach (var node in otherMasters.Prepend(source))
        {
            // The target's gossip can win the race: a master that learns it lost its last slot turns
            // into the target's replica (cluster-allow-replica-migration, the default), which refuses
            // SETSLOT. It has the new owner already, so that refusal is no failure.
            await ExecuteOnEveryAsync(node, slots, slot => ["CLUSTER", "SETSLOT", Text(slot), "NODE", target.Id], error => error.Contains("only with masters", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Moves <paramref name="slots"/> with their keys from the source to the target: opens them,
    /// migrates the keys of every slot that holds some until none is left, and assigns them.
    /// Returns how many keys moved.
    /// </summary>
    public static async Task<int> MoveAsync(AdminNode source, AdminNode target, IEnumerable<AdminNode> otherMasters, IReadOnlyCollection<int> slots)
    {
        await OpenAsync(source, target, slots);

        // Counted once the slots are open: a migrating source creates no key in them any more (a
        // command on a missing key is ASKed to the target), so an empty slot stays empty.
        var counts = await ExecuteOnEveryAsync(source, slots, slot => ["CLUSTER", "COUNTKEYSINSLOT", Text(slot)]);
        var moved = 0;
        foreach (var slot in slots.Where((_, index) => (long)counts[index]! > 0))
        {
            for (var keys = await KeysInSlotAsync(source, slot); keys.Length > 0; keys = await KeysInSlotAsync(source, slot))
            {
                await MigrateKeysAsync(source, target, keys);
                moved += keys.Length;
            }
        }

        await AssignAsync(target, source, otherMasters, slots);
        return moved;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>One command per slot on <paramref name="node"/>, pipelined; an error reply <paramref name="tolerated"/> does not select throws, naming the first.</summary>
    private static async Task<object?[]> ExecuteOnEveryAsync(AdminNode node, IReadOnlyCollection<int> slots, Func<int, string[]> command, Func<string, bool>? tolerated = null)
    {
        var commands = slots.Select(command).ToArray();
        await using var connection = await RespConnection.ConnectAsync(node.Port);
        var replies = await connection.ExecuteAllAsync(commands);
        var failed = replies
            .Select((reply, index) => (Error: reply as InvalidOperationException, Command: commands[index]))
            .Where(pair => pair.Error is not null && tolerated?.Invoke(pair.Error.Message) != true)
            .ToArray();
        return failed.Length == 0
            ? replies
            : throw new InvalidOperationException(
                $"{failed.Length} of {commands.Length} commands failed on the node at port {node.Port}; the first, '{string.Join(' ', failed[0].Command)}': {failed[0].Error!.Message}",
                failed[0].Error);
    }
}
