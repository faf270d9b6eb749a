using RateLimiting.Policies;

namespace RateLimiting.Tests.Infrastructure;

/// <summary>Compiles policies as the registry does, for tests that decide without one.</summary>
internal static class TestPolicies
{
    public static CompiledPolicy Compile(SlidingWindowPolicyOptions options, string name = "p", int rejectionStatusCode = 429)
    {
        var errors = new List<string>();
        return CompiledPolicy.TryCompile(name, options, new RateLimitingOptions { RejectionStatusCode = rejectionStatusCode }, PolicyRegistry.SectionName, errors)
            ?? throw new ArgumentException(string.Join(" ", errors), nameof(options));
    }
}
