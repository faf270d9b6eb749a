using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using RateLimiting.AspNetCore;

namespace WebApi.Controllers;

/// <summary>The controller flavour of the same policy.</summary>
[ApiController]
[Route("api/orders")]
[EnableRateLimiting("per-client")]
public sealed class OrdersController : ControllerBase
{
    /// <summary>Lists orders: cost 1.</summary>
    [HttpGet]
    public IActionResult List() => Ok(new[] { new { id = 1, item = "book" } });

    /// <summary>Exports every order: heavier, cost 5.</summary>
    [HttpGet("export")]
    [RateLimitCost(5)]
    public IActionResult Export() => Ok(new { exported = 1 });

    /// <summary>Health-style probe that is never limited.</summary>
    [HttpGet("ping")]
    [DisableRateLimiting]
    public IActionResult Ping() => Ok("pong");
}
