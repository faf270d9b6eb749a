namespace RateLimiting.Redis.Connection;

/// <summary>
/// The calls bound for one master: at most one in flight, the others waiting for it in arrival
/// order, to go together in the next one.
/// </summary>
internal sealed class MasterQueue
{
    private readonly Queue<BatchMember> _waiting = new();
    private bool _inFlight;

    /// <summary>True when nothing was in flight: the caller sends <paramref name="member"/> at once. Otherwise it waits for a later call.</summary>
    public bool TryEnter(BatchMember member)
    {
        lock (_waiting)
        {
            if (_inFlight)
            {
                _waiting.Enqueue(member);
                return false;
            }

            _inFlight = true;
            return true;
        }
    }

    /// <summary>
    /// The next call's members, once the call in flight is answered: up to <paramref name="max"/> of
    /// those waiting that <paramref name="isLive"/> keeps, in arrival order (the others are dropped:
    /// their callers have stopped waiting); null, and nothing in flight, when none is left.
    /// </summary>
    public List<BatchMember>? Next(int max, Func<BatchMember, bool> isLive)
    {
        lock (_waiting)
        {
            List<BatchMember>? next = null;
            while (_waiting.Count > 0 && (next?.Count ?? 0) < max)
            {
                var member = _waiting.Dequeue();
                if (isLive(member))
                {
                    (next ??= new List<BatchMember>(Math.Min(max, _waiting.Count + 1))).Add(member);
                }
            }

            _inFlight = next is not null;
            return next;
        }
    }
}
