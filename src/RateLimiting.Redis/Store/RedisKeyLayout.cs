using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using RateLimiting.Internal;

namespace RateLimiting.Redis.Internal;

/// <summary>
/// Names the two keys of a (policy, partition) window: <c>{prefix}:{{policy}:{digest}}:e</c> and
/// <c>…:t</c>. Both share one hash tag, so the script always runs on one slot. The partition value
/// is user input (API keys, IPs, claims): it is never written raw, only as a SHA-256 digest of its
/// UTF-16 code units, which keeps braces out of the tag, bounds the key length, keeps secrets out of
/// Redis and, unlike UTF-8, is lossless for lone surrogates.
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
            throw new ArgumentException("A key prefix is 1 to 64 characters of letters, digits, '.', '_', '-' or ':'.", nameof(prefix));
        }

        _prefix = prefix;
    }

    public (string Entries, string Totals) For(string policy, string partition)
    {
        if (!PolicyNames.IsValid(policy))
        {
            throw new ArgumentException("A policy name is 1 to 64 characters of letters, digits, '.', '_', '-' or ':'.", nameof(policy));
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(MemoryMarshal.AsBytes(partition.AsSpan()), hash);
        Span<char> digest = stackalloc char[DigestChars];
        Base64Url.EncodeToChars(hash[..DigestBytes], digest);

        // prefix ":{" policy ":" digest "}:e"
        var length = _prefix.Length + 2 + policy.Length + 1 + DigestChars + 3;
        var entries = string.Create(length, (_prefix, policy, digest.ToString()), static (span, state) =>
        {
            var (prefix, policy, digest) = state;
            var at = 0;
            Append(span, ref at, prefix);
            Append(span, ref at, ":{");
            Append(span, ref at, policy);
            Append(span, ref at, ":");
            Append(span, ref at, digest);
            Append(span, ref at, "}:e");
        });
        var totals = string.Create(length, entries, static (span, entries) =>
        {
            entries.AsSpan(0, entries.Length - 1).CopyTo(span);
            span[^1] = 't';
        });
        return (entries, totals);
    }

    private static void Append(Span<char> span, ref int at, string value)
    {
        value.AsSpan().CopyTo(span[at..]);
        at += value.Length;
    }
}
