using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace RateLimiting.Policies;

/// <summary>A configuration section the policy registry reloads from.</summary>
internal sealed class PolicyConfigurationSource
{
    private readonly IConfiguration _section;

    public PolicyConfigurationSource(IConfiguration section) => _section = section;

    public IChangeToken GetReloadToken() => _section.GetReloadToken();
}
