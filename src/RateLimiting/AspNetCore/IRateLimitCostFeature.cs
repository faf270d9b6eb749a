namespace RateLimiting.AspNetCore;

/// <summary>
/// A request feature of every rate-limited request (<c>HttpContext.Features.Get&lt;IRateLimitCostFeature&gt;()</c>):
/// cost added here before the response completes, for example the tokens a request consumed, is
/// charged after the response to every policy that admitted the request, in one store call each.
/// </summary>
public interface IRateLimitCostFeature
{
    /// <summary>Adds <paramref name="cost"/> to what this request is charged after its response.</summary>
    /// <param name="cost">At least 1.</param>
    void AddCost(int cost);
}
