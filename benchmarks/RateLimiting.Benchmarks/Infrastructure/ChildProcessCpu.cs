using System.Globalization;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// CPU time of this process's children that have exited and been reaped (cutime + cstime of
/// <c>/proc/self/stat</c>): what the redis-benchmark processes of a run spent, in 10 ms ticks.
/// </summary>
internal static class ChildProcessCpu
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static TimeSpan? Read()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            // The command name (field 2) may hold spaces; the fields after it are space-separated.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state): cutime is field 16, cstime field 17.
            var ticks = long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
