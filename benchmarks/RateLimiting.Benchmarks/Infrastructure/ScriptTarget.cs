using System.Net;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>The two keys of one (policy, partition) window and the master that owns their slot.</summary>
internal sealed record ScriptTarget(string Partition, string EntriesKey, string TotalsKey, IPEndPoint Master);
