using Microsoft.Extensions.Logging;

namespace RateLimiting.Redis.Diagnostics;

/// <summary>
/// The <see cref="StackExchange.Redis.ConfigurationOptions.LoggerFactory"/> of the multiplexers the
/// store creates: it hears every connection failure the client logs, with its exception, from the
/// very first connect on, which the ConnectionFailed event (raised once per outage, often before
/// anyone can subscribe) does not offer. Only the exceptions are used, for diagnosis; the client's
/// own messages are not logged again.
/// </summary>
internal sealed class ClientFailureListener : ILoggerFactory, ILogger
{
    private readonly Action<Exception> _failed;

    public ClientFailureListener(Action<Exception> failed) => _failed = failed;

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is not null)
        {
            _failed(exception);
        }
    }
}
