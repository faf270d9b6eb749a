using System.Globalization;

namespace RateLimiting.Benchmarks.Suite;

/// <summary>The suite's command line: <c>--redis CONFIG [--quick] [--only abcdef] [--connections N] [--pinned DESCRIPTION]</c>.</summary>
internal sealed class SuiteOptions
{
    private const int DefaultWrkConnections = 64;

    private SuiteOptions(string redisConfiguration, bool quick, string only, string? pinned, int wrkConnections)
    {
        WrkConnections = wrkConnections;
        RedisConfiguration = redisConfiguration;
        Quick = quick;
        Only = only;
        Pinned = pinned;
    }

    /// <summary>Gets the StackExchange.Redis configuration string of the cluster under test.</summary>
    public string RedisConfiguration { get; }

    /// <summary>Gets a value indicating whether to run short (a smoke test of the harness; its figures mean little).</summary>
    public bool Quick { get; }

    /// <summary>Gets the measurements to run, letters a to f.</summary>
    public string Only { get; }

    /// <summary>Gets how eng/bench.sh --pin placed the processes on CPUs, or null when it did not.</summary>
    public string? Pinned { get; }

    public int[] StoreConcurrencyLevels => Quick ? [24, 96] : [24, 96, 384];

    public long StoreDecisionsPerRun => Quick ? 20_000 : 60_000;

    public int StoreRounds => Quick ? 1 : 2;

    /// <summary>Gets how many runs each of one window and two windows makes side by side, for their ratio.</summary>
    public int PairedRounds => Quick ? 2 : 6;

    public TimeSpan StoreRunDeadline => TimeSpan.FromSeconds(30);

    public int AllocationDecisions => Quick ? 5_000 : 20_000;

    public TimeSpan OpenLoopDuration => TimeSpan.FromSeconds(Quick ? 3 : 10);

    public TimeSpan HttpWarmup => TimeSpan.FromSeconds(Quick ? 1 : 2);

    /// <summary>Gets how long a variant may take to reach steady state (see <see cref="Infrastructure.SteadyState"/>).</summary>
    public TimeSpan WarmupDeadline => TimeSpan.FromSeconds(Quick ? 20 : 60);

    public TimeSpan HttpDuration => TimeSpan.FromSeconds(Quick ? 3 : 8);

    public int HttpRounds => Quick ? 1 : 2;

    /// <summary>Gets how long (f) keeps the cluster black-holed under load before its measured window starts.</summary>
    public TimeSpan BlackHoleWarmup => TimeSpan.FromSeconds(Quick ? 2 : 3);

    /// <summary>Gets how long (f)'s windows last, the healthy one and the black-holed one alike.</summary>
    public TimeSpan BlackHoleDuration => TimeSpan.FromSeconds(Quick ? 3 : 8);

    /// <summary>Gets how long (f) may take to reach steady state before its healthy window: (b) has compiled most of its code when both run.</summary>
    public TimeSpan BlackHoleWarmupDeadline => TimeSpan.FromSeconds(Quick ? 8 : 16);

    /// <summary>Gets the connections wrk keeps open, so the requests in flight (<c>--connections N</c>).</summary>
    public int WrkConnections { get; }

    public int WrkThreads => 1;

    public bool Runs(char measurement) => Only.Contains(measurement, StringComparison.Ordinal);

    public static SuiteOptions Parse(IReadOnlyList<string> args)
    {
        string? redis = null;
        var quick = false;
        var only = "abcdef";
        string? pinned = null;
        var connections = DefaultWrkConnections;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--redis" when i + 1 < args.Count:
                    redis = args[++i];
                    break;
                case "--quick":
                    quick = true;
                    break;
                case "--only" when i + 1 < args.Count:
                    only = args[++i];
                    break;
                case "--connections" when i + 1 < args.Count && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var n) && n > 0:
                    connections = n;
                    i++;
                    break;
                case "--pinned" when i + 1 < args.Count:
                    pinned = args[++i];
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: --redis CONFIG [--quick] [--only abcdef] [--connections N] [--pinned DESCRIPTION] | --micro [BenchmarkDotNet options]");
            }
        }

        if (string.IsNullOrWhiteSpace(redis))
        {
            throw new ArgumentException("--redis CONFIG is required (eng/bench.sh passes the cluster it starts).");
        }

        if (only.Length == 0 || only.Any(c => c is < 'a' or > 'f'))
        {
            throw new ArgumentException("--only takes letters a to f, e.g. --only ae.");
        }

        return new SuiteOptions(redis, quick, only, pinned, connections);
    }
}
