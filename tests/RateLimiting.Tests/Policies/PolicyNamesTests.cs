using System.Text.RegularExpressions;
using System.Xml.Linq;
using RateLimiting.Policies;
using RateLimiting.Tests.Infrastructure;

namespace RateLimiting.Tests.Policies;

public sealed class PolicyNamesTests
{
    [Theory]
    [InlineData("per-client", true)]
    [InlineData("api.v2:orders_read", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("{tag}", false)]
    public void IsValid_Name_FollowsTheRule(string name, bool valid)
        => Assert.Equal(valid, PolicyNames.IsValid(name));

    [Fact]
    public void IsValid_SixtyFiveCharacters_IsRejected()
        => Assert.False(PolicyNames.IsValid(new string('a', 65)));

    [Fact]
    public void TryCompile_InvalidName_ErrorQuotesTheRule()
    {
        var errors = new List<string>();

        CompiledPolicy.TryCompile("has space", new SlidingWindowPolicyOptions { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" }, new RateLimitingOptions(), PolicyRegistry.SectionName, errors);

        Assert.Equal(["RateLimiting:Policies:has space: a policy name is " + PolicyNames.Rule + "."], errors);
    }

    [Fact]
    public void Rule_XmlDocOfPolicies_StatesTheSameRule()
    {
        // The doc cannot quote a constant, so it repeats the rule for IntelliSense; this keeps the copy true.
        var docs = XDocument.Load(Path.Combine(AppContext.BaseDirectory, "RateLimiting.xml"));
        var summary = docs.Descendants("member")
            .Single(member => (string?)member.Attribute("name") == "P:RateLimiting.Policies.RateLimitingOptions.Policies")
            .Element("summary")!.Value;

        Assert.Contains(PolicyNames.Rule, Regex.Replace(summary, @"\s+", " "), StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_ValidName_Compiles()
        => Assert.Equal("per-client", TestPolicies.Compile(new SlidingWindowPolicyOptions { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" }, "per-client").Name);
}
