using System.Globalization;
using System.Text.RegularExpressions;
using RateLimiting.Testing;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>Runs wrk against a loopback URL for a fixed time and parses what it prints.</summary>
internal static partial class WrkTool
{
    /// <summary>
    /// A wrk script that sends 10,000 pre-built requests, each with its own <c>X-Api-Key</c>, in turn:
    /// the partitions of a per-client policy spread over all masters, at the cost of a table lookup
    /// per request (building requests in Lua would make wrk the bottleneck).
    /// </summary>
    public const string ClientKeysScript = """
        local requests = {}
        local next = 0
        init = function(args)
          for i = 1, 10000 do
            requests[i] = wrk.format("GET", nil, { ["X-Api-Key"] = "client-" .. i })
          end
        end
        request = function()
          next = next % #requests + 1
          return requests[next]
        end
        """;

    public static async Task<WrkResult> RunAsync(Uri url, string scriptPath, int threads, int connections, TimeSpan duration)
    {
        string[] arguments =
        [
            "-t", threads.ToString(CultureInfo.InvariantCulture),
            "-c", connections.ToString(CultureInfo.InvariantCulture),
            "-d", $"{(int)Math.Ceiling(duration.TotalSeconds)}s",
            "--timeout", "5s",
            "--latency",
            "-s", scriptPath,
            url.ToString(),
        ];
        var result = await ExternalProcess.RunAsync("wrk", arguments, duration + TimeSpan.FromSeconds(30));
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"wrk {string.Join(' ', arguments)} failed: {result.Output}");
        }

        var output = result.StandardOutput;
        var socketErrors = SocketErrors().Match(output) is { Success: true } errors
            ? Enumerable.Range(1, 4).Sum(i => long.Parse(errors.Groups[i].Value, CultureInfo.InvariantCulture))
            : 0;
        return new WrkResult(
            double.Parse(Required(RequestsPerSecond(), output), CultureInfo.InvariantCulture),
            long.Parse(Required(RequestCount(), output), CultureInfo.InvariantCulture),
            socketErrors,
            Latency(output, "50"),
            Latency(output, "99"));
    }

    public static async Task<string> VersionAsync()
    {
        // wrk -v prints its version and usage, and exits non-zero.
        var result = await ExternalProcess.RunAsync("wrk", ["-v"], TimeSpan.FromSeconds(10));
        return (result.StandardOutput + result.StandardError).Split('\n')[0].Trim();
    }

    private static TimeSpan Latency(string output, string percentile)
    {
        var match = Regex.Match(output, $@"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline, TimeSpan.FromSeconds(1));
        if (!match.Success)
        {
            return TimeSpan.Zero;
        }

        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "us" => TimeSpan.FromMicroseconds(value),
            "ms" => TimeSpan.FromMilliseconds(value),
            _ => TimeSpan.FromSeconds(value),
        };
    }

    private static string Required(Regex pattern, string output)
        => pattern.Match(output) is { Success: true } match
            ? match.Groups[1].Value
            : throw new InvalidOperationException($"Unexpected wrk output:{Environment.NewLine}{output}");

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in ")]
    private static partial Regex RequestCount();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}
