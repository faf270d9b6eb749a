using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using RateLimiting.Policies;

namespace RateLimiting.Redis.Store;

/// <summary>
/// Names the keys of a (policy, partition) window: <c>{prefix}:{{policy}:{digest}}:e</c>,
/// <c>…:t</c>, <c>…:b</c> for its block state when its policy blocks, and <c>…:o</c> for a temporary
/// limit. All share one hash tag,
/// so the script always runs on one slot. The partition value is user input (API keys, IPs,
/// claims): it is never written raw, only as a SHA-256 digest of its UTF-16 code units, which keeps
/// braces out of the tag, bounds the key length, keeps secrets out of Redis and, unlike UTF-8, is
/// lossless for lone surrogates.
/// </summary>
internal sealed class RedisKeyLayout
{
    private const int DigestBytes = 16;
    private const int DigestChars = 22;

    private readonly string _prefix;

    public RedisKeyLayout(string prefix)
    {
        if (!PolicyNames.IsValid(prefix))
        {
            throw new ArgumentException($"A key prefix is {PolicyNames.Rule}.", nameof(prefix));
        }

        _prefix = prefix;
    }

    public (string Entries, string Totals) For(string policy, string partition)
    {
        if (!PolicyNames.IsValid(policy))
        {
            throw new ArgumentException($"A policy name is {PolicyNames.Rule}.", nameof(policy));
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(MemoryMarshal.AsBytes(partition.AsSpan()), hash);

        // prefix ":{" policy ":" digest "}:e", then the same with 't': two strings, nothing else.
        Span<char> key = stackalloc char[_prefix.Length + 2 + policy.Length + 1 + DigestChars + 3];
        var at = 0;
        Append(key, ref at, _prefix);
        Append(key, ref at, ":{");
        Append(key, ref at, policy);
        Append(key, ref at, ":");
        Base64Url.EncodeToChars(hash[..DigestBytes], key[at..]);
        at += DigestChars;
        Append(key, ref at, "}:e");
        var entries = new string(key);
        key[^1] = 't';
        return (entries, new string(key));
    }

    /// <summary>The block state's key, beside <paramref name="totals"/>.</summary>
    public static string BlockOf(string totals) => string.Concat(totals.AsSpan(0, totals.Length - 1), "b");

    /// <summary>The temporary limit's key, beside <paramref name="totals"/>; sliding-window.lua names it so too.</summary>
    public static string TemporaryLimitOf(string totals) => string.Concat(totals.AsSpan(0, totals.Length - 1), "o");

    private static void Append(Span<char> span, ref int at, string value)
    {
        value.AsSpan().CopyTo(span[at..]);
        at += value.Length;
    }
}
