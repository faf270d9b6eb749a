using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>A resilience scenario test: a fresh <see cref="ResilienceScenario"/> per test, disposed even when it fails.</summary>
public abstract class ResilienceScenarioTests : IAsyncLifetime
{
    private ResilienceScenario? _scenario;

    protected ResilienceScenarioTests(ITestOutputHelper output) => Output = output;

    protected ITestOutputHelper Output { get; }

    private protected ResilienceScenario Scenario => _scenario!;

    public virtual async Task InitializeAsync() => _scenario = await CreateScenarioAsync();

    public virtual async Task DisposeAsync()
    {
        if (_scenario is not null)
        {
            await _scenario.DisposeAsync();
        }
    }

    private protected abstract Task<ResilienceScenario> CreateScenarioAsync();
}
