using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Tests.Infrastructure;

namespace RateLimiting.Tests.Policies;

public sealed class PolicyWindowsTests
{
    private const string Key = "RateLimiting:Policies:tiered";

    [Fact]
    public void Compile_LimitsLongestFirst_WindowsShortestFirstWithTheirHeaderNames()
    {
        var policy = TestPolicies.Compile(Tiered(Limit(1000, TimeSpan.FromHours(1)), Limit(10, TimeSpan.FromSeconds(1))), "tiered");

        Assert.Equal([new RateLimitWindow(10, TimeSpan.FromSeconds(1)), new RateLimitWindow(1000, TimeSpan.FromHours(1))], policy.Limits);
        Assert.Equal(["tiered-1s", "tiered-1h"], policy.ItemNames);
        Assert.Equal("\"tiered-1s\";q=10;w=1, \"tiered-1h\";q=1000;w=3600", policy.PolicyHeaderValue);
    }

    [Fact]
    public void Compile_OneWindowForm_OneWindowNamedAfterThePolicy()
    {
        var policy = TestPolicies.Compile(new SlidingWindowPolicyOptions { PermitLimit = 5, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" }, "single");

        Assert.Equal([new RateLimitWindow(5, TimeSpan.FromMinutes(1))], policy.Limits);
        Assert.Equal(["single"], policy.ItemNames);
    }

    [Fact]
    public void Compile_LimitsOfOneWindow_NamedAfterThePolicy()
    {
        var policy = TestPolicies.Compile(Tiered(Limit(10, TimeSpan.FromSeconds(1))), "tiered");

        Assert.Equal(["tiered"], policy.ItemNames);
    }

    [Theory]
    [InlineData(1_000, "tiered-1s")]
    [InlineData(90_000, "tiered-90s")]
    [InlineData(1_500, "tiered-1500ms")]
    [InlineData(120_000, "tiered-2m")]
    [InlineData(3_600_000, "tiered-1h")]
    [InlineData(129_600_000, "tiered-36h")]
    [InlineData(86_400_000, "tiered-1d")]
    [InlineData(1, "tiered-1ms")]
    public void ItemNames_SeveralWindows_LengthInItsLargestWholeUnit(long milliseconds, string expected)
    {
        RateLimitWindow[] windows = [new(1, TimeSpan.FromTicks(1)), new(2, TimeSpan.FromMilliseconds(milliseconds))];

        var names = PolicyWindows.ItemNames("tiered", windows);

        Assert.Equal(expected, names[1]);
    }

    [Fact]
    public void ItemNames_SubMillisecondWindow_InMicroseconds()
        => Assert.Equal("tiered-1500us", PolicyWindows.ItemNames("tiered", [new(1, TimeSpan.FromTicks(15_000)), new(2, TimeSpan.FromSeconds(1))])[0]);

    [Fact]
    public void Compile_LimitsWithOneWindowForm_NamesEveryKeySet()
    {
        var options = Tiered(Limit(10, TimeSpan.FromSeconds(1)));
        options.PermitLimit = 5;
        options.Window = TimeSpan.FromMinutes(1);

        var errors = Errors(options);

        Assert.Equal([$"{Key}:PermitLimit and {Key}:Window cannot be set with {Key}:Limits: give every window in {Key}:Limits."], errors);
    }

    [Fact]
    public void Compile_LimitsWithOnlyWindowSet_NamesThatKey()
    {
        var options = Tiered(Limit(10, TimeSpan.FromSeconds(1)));
        options.Window = TimeSpan.FromMinutes(1);

        var errors = Errors(options);

        Assert.Equal([$"{Key}:Window cannot be set with {Key}:Limits: give every window in {Key}:Limits."], errors);
    }

    [Fact]
    public void Compile_EmptyLimits_NamesTheKey()
    {
        var errors = Errors(Tiered());

        Assert.Equal([$"{Key}:Limits is empty: give at least one window, each with a PermitLimit and a Window."], errors);
    }

    [Fact]
    public void Compile_InvalidWindows_NamesEachItemsKeys()
    {
        var errors = Errors(Tiered(Limit(0, TimeSpan.FromSeconds(1)), null!, Limit(5, TimeSpan.Zero)));

        Assert.Equal(
            [
                $"{Key}:Limits:0:PermitLimit must be at least 1 (was 0).",
                $"{Key}:Limits:1 has no settings.",
                $"{Key}:Limits:2:Window must be between 1 millisecond and 365 days (was 00:00:00).",
            ],
            errors);
    }

    [Fact]
    public void Compile_EqualWindows_NamesBoth()
    {
        var errors = Errors(Tiered(Limit(10, TimeSpan.FromSeconds(1)), Limit(20, TimeSpan.FromMilliseconds(1000))));

        Assert.Equal([$"{Key}:Limits:1:Window equals {Key}:Limits:0:Window (00:00:01): each window must differ."], errors);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(5)]
    public void Compile_LongerWindowAdmittingNoMore_NamesBothLimits(int longerLimit)
    {
        var errors = Errors(Tiered(Limit(10, TimeSpan.FromSeconds(1)), Limit(longerLimit, TimeSpan.FromHours(1))));

        var error = Assert.Single(errors);
        Assert.StartsWith($"{Key}:Limits:1:PermitLimit ({longerLimit}) must be larger than {Key}:Limits:0:PermitLimit (10): ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_LongerWindowAdmittingNoMoreGivenLongestFirst_NamesEachByItsConfiguredIndex()
    {
        var errors = Errors(Tiered(Limit(1000, TimeSpan.FromHours(1)), Limit(5000, TimeSpan.FromMinutes(1)), Limit(10, TimeSpan.FromSeconds(1))));

        var error = Assert.Single(errors);
        Assert.StartsWith($"{Key}:Limits:0:PermitLimit (1000) must be larger than {Key}:Limits:1:PermitLimit (5000): ", error, StringComparison.Ordinal);
    }

    private static SlidingWindowPolicyOptions Tiered(params SlidingWindowLimitOptions[] limits)
        => new() { Limits = [.. limits], PartitionBy = "Global" };

    private static SlidingWindowLimitOptions Limit(int permitLimit, TimeSpan window)
        => new() { PermitLimit = permitLimit, Window = window };

    private static List<string> Errors(SlidingWindowPolicyOptions tiered)
    {
        var options = new RateLimitingOptions();
        options.Policies["tiered"] = tiered;

        Assert.Null(PolicyRegistry.Compile(options, out var errors));
        return errors;
    }
}
