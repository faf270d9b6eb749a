using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace RateLimiting.Policies;

/// <summary>
/// The compiled policies, replaced as a whole when configuration reloads. A reload that does not
/// validate is logged and ignored, so a typo in appsettings never disables a quota or fails requests.
/// </summary>
internal sealed partial class PolicyRegistry : IDisposable
{
    public const string SectionName = "RateLimiting";

    private readonly Func<RateLimitingOptions> _load;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _subscriptions = [];
    private volatile Snapshot _current;

    public PolicyRegistry(Func<RateLimitingOptions> load, IEnumerable<Func<IChangeToken>> changeTokens, ILogger<PolicyRegistry> logger)
    {
        _load = load;
        _logger = logger;
        var options = load();
        _current = Compile(options, out var errors) ?? throw new OptionsValidationException(SectionName, options.GetType(), errors);
        foreach (var changeToken in changeTokens)
        {
            _subscriptions.Add(ChangeToken.OnChange(changeToken, Reload));
        }
    }

    public RateLimitingOptions Options => _current.Options;

    /// <summary>Every policy and chain known at start-up.</summary>
    public IEnumerable<string> Names => _current.Policies.Keys.Concat(_current.Chains.Keys);

    /// <summary>
    /// The policies now. A request reads it once, so that it is decided and answered with one
    /// configuration. Endpoints keep the policies they were built with, so one removed by a reload
    /// keeps its last settings until restart (and one added needs a restart to be used).
    /// </summary>
    public Snapshot Current => _current;

    /// <summary>The current settings of policy <paramref name="name"/>.</summary>
    public CompiledPolicy Get(string name) => _current.Policies[name];

    /// <summary>Compiles every policy and chain; null with all errors when any is invalid.</summary>
    public static Snapshot? Compile(RateLimitingOptions options, out List<string> errors)
    {
        errors = [.. options.ConfigurationErrors];
        var policies = new Dictionary<string, CompiledPolicy>(StringComparer.OrdinalIgnoreCase);
        var chains = new Dictionary<string, CompiledChain>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policyOptions) in options.Policies)
        {
            if (policyOptions?.Chain is not null)
            {
                if (CompiledChain.TryCompile(name, policyOptions, options.Policies, SectionName, errors) is { } chain)
                {
                    chains.Add(name, chain);
                }
            }
            else if (CompiledPolicy.TryCompile(name, policyOptions, options, SectionName, errors) is { } compiled)
            {
                policies.Add(name, compiled);
            }
        }

        if (options.RejectionStatusCode is < 400 or > 599)
        {
            errors.Add($"{SectionName}:RejectionStatusCode must be between 400 and 599 (was {options.RejectionStatusCode}).");
        }

        if (options.DeniedStatusCode is < 400 or > 599)
        {
            errors.Add($"{SectionName}:DeniedStatusCode must be between 400 and 599 (was {options.DeniedStatusCode}).");
        }

        return errors.Count == 0 ? new Snapshot(options, policies, chains) : null;
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    private void Reload()
    {
        try
        {
            var options = _load();
            if (Compile(options, out var errors) is not { } compiled)
            {
                Log.ReloadRejected(_logger, string.Join(" ", errors));
                return;
            }

            var snapshot = compiled.WithoutLosing(_current);
            var broken = snapshot.BrokenLinks().ToList();
            if (broken.Count > 0)
            {
                Log.ReloadRejected(_logger, string.Join(" ", broken));
                return;
            }

            _current = snapshot;
            Log.PoliciesReloaded(_logger, compiled.Policies.Count + compiled.Chains.Count);
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException or FormatException)
        {
            Log.ReloadRejected(_logger, ex.Message);
        }
    }

    internal sealed record Snapshot(RateLimitingOptions Options, IReadOnlyDictionary<string, CompiledPolicy> Policies, IReadOnlyDictionary<string, CompiledChain> Chains)
    {
        /// <summary>This snapshot, keeping the last settings of what <paramref name="previous"/> had and this one removed: endpoints still use them.</summary>
        public Snapshot WithoutLosing(Snapshot previous)
        {
            var policies = new Dictionary<string, CompiledPolicy>(Policies, StringComparer.OrdinalIgnoreCase);
            var chains = new Dictionary<string, CompiledChain>(Chains, StringComparer.OrdinalIgnoreCase);
            foreach (var (name, policy) in previous.Policies)
            {
                if (!chains.ContainsKey(name))
                {
                    policies.TryAdd(name, policy);
                }
            }

            foreach (var (name, chain) in previous.Chains)
            {
                if (!policies.ContainsKey(name))
                {
                    chains.TryAdd(name, chain);
                }
            }

            return this with { Policies = policies, Chains = chains };
        }

        /// <summary>
        /// A chain kept from before a reload that links what the reload turned into a chain: its
        /// endpoints could not be decided, so such a reload is refused.
        /// </summary>
        public IEnumerable<string> BrokenLinks()
            => Chains.Values.SelectMany(chain => chain.Links.Where(link => !Policies.ContainsKey(link)).Select(link =>
                $"{SectionName}:Policies:{chain.Name} (removed by this reload, still used by its endpoints) links '{link}', which is now a chain itself."));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 10, EventName = "PoliciesReloaded", Level = LogLevel.Information, Message = "Rate-limit policies reloaded ({Count} policies).")]
        public static partial void PoliciesReloaded(ILogger logger, int count);

        [LoggerMessage(EventId = 11, EventName = "PolicyReloadRejected", Level = LogLevel.Error, Message = "Reloaded rate-limit configuration is invalid and was ignored; the previous policies stay in force. {Errors}")]
        public static partial void ReloadRejected(ILogger logger, string errors);
    }
}
