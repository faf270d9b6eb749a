using System.Text;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the
/// text between the first '{' and the next '}', if not empty), modulo 16384.
/// </summary>
/// <remarks>An independent copy of the rule, so tests can predict slots without asking Redis.</remarks>
public static class HashSlot
{
    public const int Count = 16384;

    public static int Of(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var bytes = Encoding.UTF8.GetBytes(key).AsSpan();
        var open = bytes.IndexOf((byte)'{');
        if (open >= 0)
        {
            var length = bytes[(open + 1)..].IndexOf((byte)'}');
            if (length > 0)
            {
                bytes = bytes.Slice(open + 1, length);
            }
        }

        return Crc16(bytes) % Count;
    }

    private static int Crc16(ReadOnlySpan<byte> bytes)
    {
        var crc = 0;
        foreach (var b in bytes)
        {
            crc ^= b << 8;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }

        return crc & 0xFFFF;
    }
}
