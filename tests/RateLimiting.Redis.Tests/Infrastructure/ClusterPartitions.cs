using RateLimiting.Redis.Store;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// Partition values whose window keys (<see cref="RedisKeyLayout"/>) live where a scenario needs
/// them: on a given master, or all in one slot. Found by trying <c>{tag}-0</c>, <c>{tag}-1</c>, ...
/// with the client-side slot rule (<see cref="HashSlot"/>); tests that depend on the slot confirm
/// it with <c>CLUSTER KEYSLOT</c>.
/// </summary>
internal static class ClusterPartitions
{
    // A slot holds 1/16384 of the candidates: this many tries find dozens of partitions per slot.
    private const int MaxCandidates = 5_000_000;

    public static int SlotOf(RedisKeyLayout keys, string policy, string partition) => HashSlot.Of(keys.For(policy, partition).Entries);

    /// <summary><paramref name="count"/> partitions whose keys <paramref name="master"/> serves.</summary>
    public static string[] OnMaster(RedisKeyLayout keys, string policy, ClusterNodeInfo master, int count, string tag)
        => Find(keys, policy, tag, count, slot => master.ServesSlot(slot));

    /// <summary><paramref name="count"/> partitions whose keys all hash to one slot (the slot of <c>{tag}-0</c>).</summary>
    public static (int Slot, string[] Partitions) InOneSlot(RedisKeyLayout keys, string policy, int count, string tag)
    {
        var slot = SlotOf(keys, policy, $"{tag}-0");
        return (slot, Find(keys, policy, tag, count, candidate => candidate == slot));
    }

    /// <summary>A plain key (no hash tag) that <paramref name="master"/> serves, for clients other than the store.</summary>
    public static string KeyOn(ClusterNodeInfo master, string tag)
    {
        for (var i = 0; i < MaxCandidates; i++)
        {
            var key = $"{tag}-{i}";
            if (master.ServesSlot(HashSlot.Of(key)))
            {
                return key;
            }
        }

        throw new InvalidOperationException($"No key for '{tag}' on the master at port {master.Port} in {MaxCandidates} tries.");
    }

    private static string[] Find(RedisKeyLayout keys, string policy, string tag, int count, Func<int, bool> wanted)
    {
        var found = new List<string>(count);
        for (var i = 0; i < MaxCandidates && found.Count < count; i++)
        {
            var partition = $"{tag}-{i}";
            if (wanted(SlotOf(keys, policy, partition)))
            {
                found.Add(partition);
            }
        }

        return found.Count == count
            ? [.. found]
            : throw new InvalidOperationException($"Only {found.Count} of {count} partitions found for '{tag}' in {MaxCandidates} tries.");
    }
}
