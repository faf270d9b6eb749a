using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>A resilience scenario test: a fresh <see cref="ResilienceScenario"/> per test, disposed even when it fails.</summary>
public abstract class ResilienceScenarioTests : IAsyncLifetime
{
    private const int MaxLogLines = 300;

    private ResilienceScenario? _scenario;

    protected ResilienceScenarioTests(ITestOutputHelper output) => Output = output;

    protected ITestOutputHelper Output { get; }

    private protected ResilienceScenario Scenario => _scenario!;

    public virtual async Task InitializeAsync() => _scenario = await CreateScenarioAsync();

    public virtual async Task DisposeAsync()
    {
        if (_scenario is not null)
        {
            // The store's log, so that a failed run's output tells what the layer did.
            foreach (var line in _scenario.Logs.Lines(LogLevel.Information, _scenario.CreatedAt).Take(MaxLogLines))
            {
                Output.WriteLine(line);
            }

            await _scenario.DisposeAsync();
        }
    }

    private protected abstract Task<ResilienceScenario> CreateScenarioAsync();
}
