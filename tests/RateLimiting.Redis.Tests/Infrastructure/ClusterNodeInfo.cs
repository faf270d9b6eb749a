using System.Globalization;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>One line of CLUSTER NODES: who a node is, its role and the slots it serves.</summary>
public sealed class ClusterNodeInfo
{
    private ClusterNodeInfo(string id, int port, IReadOnlySet<string> flags, string? masterId, IReadOnlyList<(int Start, int End)> slotRanges)
    {
        Id = id;
        Port = port;
        Flags = flags;
        MasterId = masterId;
        SlotRanges = slotRanges;
    }

    public string Id { get; }

    public int Port { get; }

    /// <summary>As Redis prints them: <c>myself</c>, <c>master</c>, <c>slave</c>, <c>fail?</c>, <c>fail</c>, ...</summary>
    public IReadOnlySet<string> Flags { get; }

    /// <summary>For a replica, the id of its master; otherwise <see langword="null"/>.</summary>
    public string? MasterId { get; }

    /// <summary>Slot ranges served (inclusive); slots being migrated or imported are left out.</summary>
    public IReadOnlyList<(int Start, int End)> SlotRanges { get; }

    public bool IsMaster => Flags.Contains("master");

    public bool IsReplica => Flags.Contains("slave");

    /// <summary>The cluster agreed the node is down (<c>fail</c>, not merely suspected <c>fail?</c>).</summary>
    public bool IsFailed => Flags.Contains("fail");

    public int SlotCount => SlotRanges.Sum(range => range.End - range.Start + 1);

    public bool ServesSlot(int slot) => SlotRanges.Any(range => range.Start <= slot && slot <= range.End);

    /// <summary>Parses the output of CLUSTER NODES.</summary>
    public static IReadOnlyList<ClusterNodeInfo> ParseAll(string clusterNodes)
    {
        ArgumentNullException.ThrowIfNull(clusterNodes);
        return clusterNodes
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Parse)
            .ToArray();
    }

    // <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
    private static ClusterNodeInfo Parse(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 8)
        {
            throw new FormatException($"Not a CLUSTER NODES line: '{line}'.");
        }

        var address = fields[1].Split('@')[0];
        var port = int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        var flags = fields[2].Split(',').ToHashSet(StringComparer.Ordinal);
        var masterId = fields[3] == "-" ? null : fields[3];
        var slotRanges = fields
            .Skip(8)
            .Where(slot => !slot.StartsWith('['))
            .Select(ParseSlotRange)
            .ToArray();
        return new ClusterNodeInfo(fields[0], port, flags, masterId, slotRanges);
    }

    private static (int Start, int End) ParseSlotRange(string text)
    {
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return dash < 0
            ? (int.Parse(text, CultureInfo.InvariantCulture), int.Parse(text, CultureInfo.InvariantCulture))
            : (int.Parse(text[..dash], CultureInfo.InvariantCulture), int.Parse(text[(dash + 1)..], CultureInfo.InvariantCulture));
    }
}
