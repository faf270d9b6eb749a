using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// A minimal RESP2 client over one TCP connection, so a test sees exactly which bytes go through
/// one connection (a multiplexer would hide reconnects). Replies: simple and bulk strings as
/// <see cref="string"/>, nil as <see langword="null"/>, integers as <see cref="long"/>, arrays as
/// <c>object?[]</c>; an error reply throws <see cref="InvalidOperationException"/>, and a closed
/// connection an <see cref="IOException"/> (<see cref="EndOfStreamException"/> on a clean close).
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    /// <summary>How long <see cref="ExecuteAsync"/> waits for a reply before it fails.</summary>
    public static readonly TimeSpan ReplyDeadline = TimeSpan.FromSeconds(10);

    private readonly int _port;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private RespConnection(Socket socket, int port)
    {
        _port = port;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<RespConnection> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var deadline = new CancellationTokenSource(ReplyDeadline);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), deadline.Token);
            return new RespConnection(socket, port);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one command and reads its reply, failing after <see cref="ReplyDeadline"/>.</summary>
    public async Task<object?> ExecuteAsync(params string[] args)
    {
        await SendAsync(args);
        using var deadline = new CancellationTokenSource(ReplyDeadline);
        return await ReadReplyAsync(deadline.Token);
    }

    /// <summary>
    /// Sends <paramref name="commands"/> in one pipeline, then reads their replies in order, each
    /// within <see cref="ReplyDeadline"/>. An error reply is returned as the
    /// <see cref="InvalidOperationException"/> that <see cref="ExecuteAsync"/> would throw, so that
    /// one refused command neither hides the other replies nor leaves them unread on the connection.
    /// </summary>
    public async Task<object?[]> ExecuteAllAsync(IReadOnlyList<string[]> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var pipeline = new StringBuilder();
        foreach (var args in commands)
        {
            AppendCommand(pipeline, args);
        }

        await _stream.WriteAsync(Encoding.UTF8.GetBytes(pipeline.ToString()));
        var replies = new object?[commands.Count];
        using var deadline = new CancellationTokenSource();
        for (var i = 0; i < replies.Length; i++)
        {
            deadline.CancelAfter(ReplyDeadline);
            try
            {
                replies[i] = await ReadReplyAsync(deadline.Token);
            }
            catch (InvalidOperationException error)
            {
                replies[i] = error; // an error reply, read whole: the next reply starts where it ends
            }
        }

        return replies;
    }

    public async Task SendAsync(params string[] args)
    {
        var command = new StringBuilder();
        AppendCommand(command, args);
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(command.ToString()));
    }

    public async Task<object?> ReadReplyAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        var payload = line[1..];
        switch (line[0])
        {
            case '+':
                return payload;
            case '-':
                throw new InvalidOperationException($"Redis replied with an error: {payload}");
            case ':':
                return long.Parse(payload, CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(payload, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var bytes = await ReadExactlyAsync(length + 2, cancellationToken); // with its CRLF
                return Encoding.UTF8.GetString(bytes, 0, length);
            case '*':
                var count = int.Parse(payload, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    items[i] = await ReadReplyAsync(cancellationToken);
                }

                return items;
            default:
                throw new InvalidDataException($"Not a RESP2 reply: {line}");
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    private static void AppendCommand(StringBuilder command, string[] args)
    {
        command.Append(CultureInfo.InvariantCulture, $"*{args.Length}\r\n");
        foreach (var arg in args)
        {
            command.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (newline >= 0)
            {
                var line = Encoding.UTF8.GetString(_buffer, _start, newline);
                _start += newline + 2;
                return line;
            }

            await FillAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken);
            }

            var chunk = Math.Min(count - copied, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, copied, chunk);
            _start += chunk;
            copied += chunk;
        }

        return result;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidDataException("A RESP line is longer than the read buffer.");
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw new EndOfStreamException($"The server closed the connection (127.0.0.1:{_port}).");
        }

        _end += read;
    }
}
