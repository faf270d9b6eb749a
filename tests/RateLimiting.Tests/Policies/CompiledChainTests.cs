using RateLimiting.Policies;

namespace RateLimiting.Tests.Policies;

public sealed class CompiledChainTests
{
    private const string Key = "RateLimiting:Policies:both";

    [Fact]
    public void Compile_ChainOfPolicies_KeepsTheLinksInOrder()
    {
        var options = WithChain("global", "per-client");

        var snapshot = PolicyRegistry.Compile(options, out var errors);

        Assert.Empty(errors);
        Assert.Equal(["global", "per-client"], snapshot!.Chains["both"].Links);
        Assert.Equal(["global", "per-client"], snapshot.Policies.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Compile_EmptyChain_NamesTheKey()
        => Assert.Equal([$"{Key}:Chain is empty: name the policies to apply, in order."], Errors(WithChain()));

    [Fact]
    public void Compile_UnknownOrBlankLink_NamesItsKey()
        => Assert.Equal(
            [$"{Key}:Chain:1: no policy 'nope' is declared.", $"{Key}:Chain:2: no policy ' ' is declared."],
            Errors(WithChain("per-client", "nope", " ")));

    [Fact]
    public void Compile_LinkIsAChain_NamesItsKey()
    {
        var options = WithChain("per-client", "inner");
        options.Policies["inner"] = new SlidingWindowPolicyOptions { Chain = ["global"] };

        Assert.Equal([$"{Key}:Chain:1: 'inner' is a chain itself; a chain links policies that decide."], Errors(options));
    }

    [Fact]
    public void Compile_ChainLinksItself_NamesItsKey()
        => Assert.Equal([$"{Key}:Chain:0: 'both' is a chain itself; a chain links policies that decide."], Errors(WithChain("both")));

    [Fact]
    public void Compile_DuplicateLinkInAnotherCase_NamesTheSecond()
        => Assert.Equal(
            [$"{Key}:Chain:2: 'PER-CLIENT' is linked twice, which would count each request twice."],
            Errors(WithChain("per-client", "global", "PER-CLIENT")));

    [Fact]
    public void Compile_ChainWithItsOwnSettings_NamesEachSetting()
    {
        var options = WithChain("per-client");
        var chain = options.Policies["both"];
        chain.PermitLimit = 5;
        chain.Limits = [new SlidingWindowLimitOptions { PermitLimit = 1, Window = TimeSpan.FromSeconds(1) }];
        chain.PartitionBy = "Global";
        chain.FailureMode = FailureMode.FailClosed;
        chain.Shadow = true;
        chain.CostSelector = _ => 2;

        var errors = Errors(options);

        Assert.Equal(
            [.. new[] { "PermitLimit", "Limits", "PartitionBy", "FailureMode", "Shadow", "CostSelector" }
                .Select(setting => $"{Key}:{setting} cannot be set on a chain: each policy of {Key}:Chain has its own.")],
            errors);
    }

    [Fact]
    public void Compile_InvalidChainName_QuotesTheRule()
    {
        var options = WithChain("per-client");
        options.Policies["has space"] = options.Policies["both"];
        options.Policies.Remove("both");

        Assert.Equal([$"RateLimiting:Policies:has space: a policy name is {PolicyNames.Rule}."], Errors(options));
    }

    [Fact]
    public void Compile_SeveralProblems_AllInOneMessage()
    {
        var options = WithChain("nope", "nope");
        options.Policies["both"].Shadow = true;
        options.Policies["per-client"].PermitLimit = 0;

        var errors = Errors(options);

        Assert.Equal(4, errors.Count);
        Assert.Contains($"{Key}:Chain:0: no policy 'nope' is declared.", errors);
        Assert.Contains($"{Key}:Chain:1: no policy 'nope' is declared.", errors);
        Assert.Contains($"{Key}:Shadow cannot be set on a chain: each policy of {Key}:Chain has its own.", errors);
        Assert.Contains("RateLimiting:Policies:per-client:PermitLimit must be at least 1 (was 0).", errors);
    }

    /// <summary>Policies <c>per-client</c> and <c>global</c>, and the chain <c>both</c> of <paramref name="links"/>.</summary>
    private static RateLimitingOptions WithChain(params string[] links)
    {
        var options = new RateLimitingOptions();
        options.Policies["per-client"] = new SlidingWindowPolicyOptions { PermitLimit = 10, Window = TimeSpan.FromSeconds(1), PartitionBy = "Header:X-Api-Key" };
        options.Policies["global"] = new SlidingWindowPolicyOptions { PermitLimit = 1000, Window = TimeSpan.FromSeconds(1), PartitionBy = "Global" };
        options.Policies["both"] = new SlidingWindowPolicyOptions { Chain = [.. links] };
        return options;
    }

    private static List<string> Errors(RateLimitingOptions options)
    {
        Assert.Null(PolicyRegistry.Compile(options, out var errors));
        return errors;
    }
}
