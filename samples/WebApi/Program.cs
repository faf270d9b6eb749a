using Microsoft.AspNetCore.Authentication;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using RateLimiting.Telemetry;
using WebApi.Admin;

var builder = WebApplication.CreateBuilder(args);

// Policies come from appsettings.json ("RateLimiting"); every value can be overridden with
// environment variables such as RateLimiting__Redis__Configuration.
builder.Services.AddRedisSlidingWindowLimiter();
builder.Services.AddHealthChecks().AddRedisSlidingWindowLimiter();
builder.Services.AddControllers();

// The admin API (usage, reset, temporary limits) is mapped behind an authorization policy; this
// sample's operators authenticate with a key (Admin:Key, e.g. Admin__Key=... in the environment).
builder.Services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, AdminKeyAuthenticationHandler>(AdminKeyAuthenticationHandler.SchemeName, null);
builder.Services.AddAuthorization(options => options.AddPolicy(AdminKeyAuthenticationHandler.Policy, policy => policy
    .AddAuthenticationSchemes(AdminKeyAuthenticationHandler.SchemeName)
    .RequireRole(AdminKeyAuthenticationHandler.Policy)));

// Metrics, traces and logs go to an OpenTelemetry collector when OTEL_EXPORTER_OTLP_ENDPOINT is set;
// the exporter reads it and the other OTEL_* variables itself. Without it nothing is wired: the
// exporter would default to localhost:4317, and collecting only to discard would cost every request.
if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    builder.Services.AddOpenTelemetry()
        .WithMetrics(metrics => metrics
            .AddMeter(RateLimitingTelemetry.MeterName)
            // ASP.NET Core's meters, Microsoft.AspNetCore.RateLimiting's among them.
            .AddAspNetCoreInstrumentation())
        .WithTracing(tracing => tracing
            .AddSource(RateLimitingTelemetry.ActivitySourceName)
            .AddAspNetCoreInstrumentation())
        .UseOtlpExporter();
}

var app = builder.Build();

app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

// Minimal API: cost 1 per request.
app.MapGet("/api/hello", () => TypedResults.Ok(new { message = "hello" }))
    .RequireRateLimiting("per-client");

// A heavier endpoint: each request consumes 10 permits of the same quota.
app.MapGet("/api/report", () => TypedResults.Ok(new { report = "quarterly numbers" }))
    .RequireRateLimiting("per-client")
    .WithRateLimitCost(10);

// Two windows of one quota, decided together: 10 per second and 1,000 per hour per client.
app.MapGet("/api/search", (string? q) => TypedResults.Ok(new { query = q, results = Array.Empty<string>() }))
    .RequireRateLimiting("tiered");

// A chain: the client's own quota, then a cap shared by every client. A request the cap refuses
// costs the client nothing.
app.MapGet("/api/catalog", () => TypedResults.Ok(new[] { new { sku = "book", price = 12 } }))
    .RequireRateLimiting("per-client-then-global");

// Failed logins only: 5 per 15 minutes per client IP. A successful login costs nothing; a sixth
// failure within the window is rejected before the password is checked.
app.MapPost("/api/login", (LoginAttempt attempt) => attempt.Password == "demo" ? Results.Ok(new { user = attempt.User }) : Results.Unauthorized())
    .RequireRateLimiting("login");

app.MapGet("/", () => "RateLimiting sample: try GET /api/hello, /api/report, /api/search, /api/catalog, /api/orders, POST /api/login, /health").DisableRateLimiting();
app.MapHealthChecks("/health").DisableRateLimiting();

app.MapControllers();
app.MapRateLimitAdmin("/admin/rate-limits", authorizationPolicy: AdminKeyAuthenticationHandler.Policy);

app.Run();

/// <summary>The sample's entry point, visible to the integration tests.</summary>
public partial class Program;

/// <summary>The body of <c>POST /api/login</c>.</summary>
/// <param name="User">Who logs in.</param>
/// <param name="Password">The sample accepts <c>demo</c>.</param>
public sealed record LoginAttempt(string User, string Password);
