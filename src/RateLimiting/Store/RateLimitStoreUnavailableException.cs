using RateLimiting.Policies;

namespace RateLimiting.Store;

/// <summary>
/// Thrown by an <see cref="IRateLimitStore"/> that did not try to decide because it knows it cannot
/// right now (for example, a circuit breaker is open for the Redis master that owns the partition).
/// The policy's <see cref="FailureMode"/> answers at once, as it does for any other store failure.
/// </summary>
public sealed class RateLimitStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RateLimitStoreUnavailableException()
        : base("The rate-limit store is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message saying what is unavailable and why.</summary>
    /// <param name="message">The message.</param>
    public RateLimitStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure behind it.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The failure behind it.</param>
    public RateLimitStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
