namespace RateLimiting.AspNetCore;

/// <summary>The partition of a request; the cost is part of it because the middleware always asks for one permit.</summary>
internal readonly record struct PolicyPartitionKey(string Partition, int Cost);
