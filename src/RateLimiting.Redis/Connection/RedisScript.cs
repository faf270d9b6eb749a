using System.Security.Cryptography;
using System.Text;

namespace RateLimiting.Redis.Connection;

/// <summary>A Lua script and its SHA1, so calls send the 40-byte hash instead of the source.</summary>
internal sealed class RedisScript
{
    public RedisScript(string source)
    {
        Source = source;
        Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(source));
    }

    public string Source { get; }

    public byte[] Sha1 { get; }

    public static RedisScript FromResource(string name)
    {
        using var stream = typeof(RedisScript).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded script '{name}' is missing.");
        using var reader = new StreamReader(stream);
        return new RedisScript(reader.ReadToEnd());
    }
}
