using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>Keeps every log entry (rendered message, exception text and event name) for assertions.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<CapturedLogEntry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

    /// <summary>The entries of <paramref name="minimum"/> or above, one per line (of an exception, its first line), each with its time since <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public IEnumerable<string> Lines(LogLevel minimum, long since)
        => Entries.Where(entry => entry.Level >= minimum)
            .Select(entry => $"{ScenarioFigures.Milliseconds(Stopwatch.GetElapsedTime(since, entry.At))}ms {entry.Level} {entry.EventId.Name}: {entry.Text.Split('\n', 2)[0].TrimEnd()}");

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<CapturedLogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => entries.Enqueue(new(category, eventId, logLevel, Stopwatch.GetTimestamp(), formatter(state, exception) + " " + exception));
    }
}

/// <summary>One captured log entry; <see cref="At"/> is a Stopwatch timestamp.</summary>
public sealed record CapturedLogEntry(string Category, EventId EventId, LogLevel Level, long At, string Text);
