using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace RateLimiting.AspNetCore;

/// <summary>
/// Reads a partition value from a request, parsed once from the <c>PartitionBy</c> syntax
/// (<c>Header:X-Api-Key</c>, <c>Claim:sub</c>, <c>ClientIp</c>, <c>Route:tenant</c>, <c>Query:key</c>,
/// <c>Global</c>, <c>Custom</c>).
/// </summary>
internal sealed class PartitionSource
{
    /// <summary>Longer values are replaced by their digest, so that hostile input cannot grow memory.</summary>
    private const int MaxRawLength = 128;

    private readonly Func<HttpContext, string?> _read;
    private readonly string _tag;

    private PartitionSource(string tag, Func<HttpContext, string?> read)
    {
        _tag = tag;
        _read = read;
    }

    public static string Syntax => "Header:{name}, Claim:{type}, ClientIp, Route:{name}, Query:{name}, Global or Custom";

    /// <summary>Parses <paramref name="spec"/>; null with an error when it is not a known source.</summary>
    public static PartitionSource? TryParse(string? spec, Func<HttpContext, string?>? custom, out string? error)
    {
        error = null;
        var (kind, argument) = Split(spec);
        Func<HttpContext, string?>? read = kind.ToUpperInvariant() switch
        {
            "HEADER" when argument.Length > 0 => context => context.Request.Headers.TryGetValue(argument, out var values) && values.Count > 0 ? values.ToString() : null,
            "CLAIM" when argument.Length > 0 => context => context.User.FindFirst(argument)?.Value,
            "ROUTE" when argument.Length > 0 => context => context.Request.RouteValues.TryGetValue(argument, out var value) ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null,
            "QUERY" when argument.Length > 0 => context => context.Request.Query.TryGetValue(argument, out var values) && values.Count > 0 ? values.ToString() : null,
            "CLIENTIP" when argument.Length == 0 => context => context.Connection.RemoteIpAddress?.ToString(),
            "GLOBAL" when argument.Length == 0 => static _ => string.Empty,
            "CUSTOM" when argument.Length == 0 && custom is not null => custom,
            _ => null,
        };

        if (read is null)
        {
            error = kind.Equals("Custom", StringComparison.OrdinalIgnoreCase)
                ? "'Custom' needs a PartitionKeySelector set in code"
                : $"'{spec}' is not a partition source; use {Syntax}";
            return null;
        }

        return new PartitionSource(kind.ToUpperInvariant() + ":" + argument, read);
    }

    /// <summary>
    /// The partition for this request, tagged with its source so that equal values from different
    /// sources (an API key that looks like an IP) never share a window; null when the request has none.
    /// </summary>
    public string? Read(HttpContext context)
    {
        var value = _read(context);
        return value is null ? null : Format(value);
    }

    /// <summary>The partition a request whose source reads <paramref name="value"/> is decided in.</summary>
    public string Format(string value)
    {
        if (value.Length <= MaxRawLength)
        {
            return string.Concat(_tag, "=", value);
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(MemoryMarshal.AsBytes(value.AsSpan()), hash);
        return string.Concat(_tag, "#", Base64Url.EncodeToString(hash));
    }

    internal static (string Kind, string Argument) Split(string? spec)
    {
        spec = spec?.Trim() ?? string.Empty;
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (spec, string.Empty) : (spec[..colon].Trim(), spec[(colon + 1)..].Trim());
    }
}
