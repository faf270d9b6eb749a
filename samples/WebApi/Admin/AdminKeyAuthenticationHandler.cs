using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace WebApi.Admin;

/// <summary>
/// The sample's stand-in for real operator authentication (OpenID Connect, client certificates):
/// a request is an operator's when its <c>X-Admin-Key</c> header equals the configured
/// <c>Admin:Key</c>. Without a configured key nobody is.
/// </summary>
internal sealed class AdminKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IConfiguration configuration)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AdminKey";
    public const string Policy = "rate-limit-admin";
    private const string Header = "X-Admin-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var expected = configuration["Admin:Key"];
        if (string.IsNullOrEmpty(expected) || !Request.Headers.TryGetValue(Header, out var given))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given.ToString()), Encoding.UTF8.GetBytes(expected)))
        {
            return Task.FromResult(AuthenticateResult.Fail("Wrong admin key."));
        }

        var admin = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, Policy)], SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(admin, SchemeName)));
    }
}
