using System.Threading.RateLimiting;

namespace RateLimiting.Limiter;

/// <summary>
/// What <c>AttemptAcquire</c> returns: a decision needs the store, which is I/O, so there is none to
/// give synchronously. Not acquired, so that ASP.NET Core's middleware goes on to <c>AcquireAsync</c>,
/// which decides.
/// </summary>
internal sealed class UndecidedLease : RateLimitLease
{
    private UndecidedLease()
    {
    }

    public static UndecidedLease Instance { get; } = new();

    public override bool IsAcquired => false;

    public override IEnumerable<string> MetadataNames => [];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        return false;
    }
}
