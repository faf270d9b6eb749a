using System.Globalization;
using RateLimiting.Store;

namespace RateLimiting.AspNetCore;

/// <summary>
/// The syntax of the IETF rate-limit header values (draft-ietf-httpapi-ratelimit-headers, structured
/// fields), apart from <c>RateLimitResponse</c>, which writes them, so that a compiled policy can
/// format its <c>RateLimit-Policy</c> value once without calling back into the response writer.
/// </summary>
internal static class RateLimitHeaderValues
{
    /// <summary><c>"name";q=100;w=3600</c> per window, comma-separated: the quota and the window in seconds.</summary>
    /// <param name="itemNames">One name per window.</param>
    /// <param name="windows">The windows.</param>
    /// <param name="temporaryLimit">The limit that replaces the longest window's for a while; 0 for none.</param>
    public static string Policy(string[] itemNames, RateLimitWindow[] windows, int temporaryLimit = 0)
        => string.Join(", ", windows.Select((window, i) => string.Create(
            CultureInfo.InvariantCulture,
            $"\"{itemNames[i]}\";q={(temporaryLimit > 0 && i == windows.Length - 1 ? temporaryLimit : window.PermitLimit)};w={Seconds(window.Window)}")));

    /// <summary><c>"name";r=42;t=17</c>: the remaining quota and the seconds until it resets.</summary>
    public static string State(string name, int remaining, TimeSpan resetAfter)
        => string.Create(CultureInfo.InvariantCulture, $"\"{name}\";r={remaining};t={Seconds(resetAfter)}");

    /// <summary>Whole seconds, rounded up so that a client waiting them is never early.</summary>
    public static long Seconds(TimeSpan value) => Math.Max(0, (long)Math.Ceiling(value.TotalSeconds));
}
