using Microsoft.Extensions.Options;

namespace RateLimiting.Policies;

/// <summary>Validates the policies at start-up, with every error in one message.</summary>
internal sealed class PolicyOptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : RateLimitingOptions
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
        => PolicyRegistry.Compile(options, out var errors) is null ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}
