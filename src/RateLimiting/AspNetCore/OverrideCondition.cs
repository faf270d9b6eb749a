using System.Net;
using Microsoft.AspNetCore.Http;

namespace RateLimiting.AspNetCore;

/// <summary>
/// The <c>When</c> of a policy override, parsed once: a partition source of the <c>PartitionBy</c>
/// syntax, <c>=</c>, and a value that the request's value must equal exactly (ordinal), or for
/// <c>ClientIp</c> an address or a CIDR range (IPv4 or IPv6) that it must fall in. A header, query
/// or claim with several values matches when any of them does.
/// </summary>
internal sealed class OverrideCondition
{
    public const string Syntax = "Header:{name}={value}, Claim:{type}={value}, Route:{name}={value}, Query:{name}={value} or ClientIp={address or CIDR range}";

    private readonly Func<HttpContext, bool> _matches;

    private OverrideCondition(Func<HttpContext, bool> matches) => _matches = matches;

    /// <summary>
    /// Parses <paramref name="when"/>; null with an error when it does not parse. The error never
    /// quotes the value: a deny-list entry's value may be a key that must not reach the logs.
    /// </summary>
    public static OverrideCondition? TryParse(string? when, out string? error)
    {
        error = null;
        var equals = when?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (equals < 0)
        {
            error = $"it must be a source, '=' and a value: {Syntax}";
            return null;
        }

        var (kind, argument) = PartitionSource.Split(when![..equals]);
        var expected = when[(equals + 1)..].Trim();
        if (expected.Length == 0)
        {
            error = "the value after '=' is empty";
            return null;
        }

        Func<HttpContext, bool>? matches = kind.ToUpperInvariant() switch
        {
            "HEADER" when argument.Length > 0 => context => AnyEquals(context.Request.Headers.TryGetValue(argument, out var values) ? values : default, expected),
            "QUERY" when argument.Length > 0 => context => AnyEquals(context.Request.Query.TryGetValue(argument, out var values) ? values : default, expected),
            "CLAIM" when argument.Length > 0 => context => context.User.HasClaim(claim => claim.Type == argument && string.Equals(claim.Value, expected, StringComparison.Ordinal)),
            "ROUTE" when argument.Length > 0 => context => context.Request.RouteValues.TryGetValue(argument, out var value)
                && string.Equals(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture), expected, StringComparison.Ordinal),
            "CLIENTIP" when argument.Length == 0 => TryParseRange(expected, out var range) ? context => InRange(context.Connection.RemoteIpAddress, range) : null,
            _ => null,
        };

        if (matches is null)
        {
            error = kind.Equals("ClientIp", StringComparison.OrdinalIgnoreCase) && argument.Length == 0
                ? "the value of ClientIp must be an IP address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32, with no bits set after the prefix"
                : $"its source must be one of {Syntax}";
        }

        return matches is null ? null : new OverrideCondition(matches);
    }

    public bool Matches(HttpContext context) => _matches(context);

    private static bool AnyEquals(Microsoft.Extensions.Primitives.StringValues values, string expected)
    {
        foreach (var value in values)
        {
            if (string.Equals(value, expected, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryParseRange(string text, out IPNetwork range)
    {
        range = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? text : text[..slash];
        // IPAddress.TryParse also takes legacy forms such as "10" for 0.0.0.10: an IPv4 address here has four parts.
        if (!address.Contains(':', StringComparison.Ordinal) && address.Count(c => c == '.') != 3)
        {
            return false;
        }

        if (slash >= 0)
        {
            // Bits after the prefix (10.0.0.1/8) are more likely a typo than a range: refused, not masked.
            return IPNetwork.TryParse(text, out range) && range.BaseAddress.Equals(IPAddress.Parse(address));
        }

        if (!IPAddress.TryParse(address, out var parsed))
        {
            return false;
        }

        range = new IPNetwork(parsed, parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    private static bool InRange(IPAddress? address, IPNetwork range)
    {
        if (address is null)
        {
            return false;
        }

        // Kestrel on a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
        if (address.IsIPv4MappedToIPv6 && range.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            address = address.MapToIPv4();
        }

        return range.Contains(address);
    }
}
