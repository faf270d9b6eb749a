using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using RateLimiting.Benchmarks.Infrastructure;
using StackExchange.Redis;

namespace RateLimiting.Benchmarks.Suite;

/// <summary>The machine and versions a run was measured on, printed above its table.</summary>
internal static class EnvironmentInfo
{
    public static async Task<string[]> DescribeAsync(BenchCluster cluster, string? pinned)
    {
        var build = typeof(EnvironmentInfo).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "?";
        var client = typeof(ConnectionMultiplexer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(ConnectionMultiplexer).Assembly.GetName().Version?.ToString();
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return
        [
            $"machine:   {Environment.ProcessorCount} cores ({CpuModel()}), {memory:0.0} GiB, {RuntimeInformation.OSDescription}",
            $".NET:      {RuntimeInformation.FrameworkDescription}, {build} build, {(GCSettings.IsServerGC ? "server" : "workstation")} GC",
            $"Redis:     {cluster.RedisVersion}, cluster of {cluster.Masters.Count} masters + {cluster.Nodes.Count - cluster.Masters.Count} replicas on 127.0.0.1 (ports {cluster.Nodes[0].Port}-{cluster.Nodes[^1].Port})",
            $"clients:   StackExchange.Redis {client}; {await RedisBenchmarkTool.VersionAsync()}; {await WrkTool.VersionAsync()}",
            $"CPUs:      {pinned ?? "shared: Redis, the harness (client and Kestrel), redis-benchmark and wrk run on all cores"}",
        ];
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo")
                .FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))?
                .Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}
