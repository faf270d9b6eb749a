using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>A Lua script and its SHA1, so calls send the 40-byte hash instead of the source.</summary>
internal sealed class RedisScript
{
    public RedisScript(string source)
    {
        Source = source;
        Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(source));
        Sha1Hex = Convert.ToHexStringLower(Sha1);
    }

    public string Source { get; }

    public byte[] Sha1 { get; }

    /// <summary>Gets the SHA1 as EVALSHA takes it in text.</summary>
    public string Sha1Hex { get; }

    /// <summary>
    /// A script's reply: our scripts return integer arrays, so a reply of another shape is a fault,
    /// not an answer. One was seen, twice in 40,000 decisions, while a proxy answered MOVED naming
    /// the node itself on 2.13.23.
    /// </summary>
    public static long[] IntegersOf(RedisResult result)
    {
        try
        {
            return (long[]?)result ?? throw new InvalidCastException("A nil reply.");
        }
        catch (InvalidCastException ex)
        {
            throw new RedisException("Redis answered the rate-limit script with a reply of another shape.", ex);
        }
    }

    /// <summary>The text of a script embedded in this assembly.</summary>
    public static string ReadResource(string name)
    {
        using var stream = typeof(RedisScript).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded script '{name}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
