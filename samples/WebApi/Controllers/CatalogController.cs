using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;

namespace WebApi.Controllers;

/// <summary>The controller flavour of the chain: the attribute names the chain like any policy.</summary>
[ApiController]
[Route("api/catalog/items")]
[EnableRateLimiting("per-client-then-global")]
public sealed class CatalogController : ControllerBase
{
    /// <summary>One catalog item: cost 1 in each policy of the chain.</summary>
    [HttpGet("{sku}")]
    public IActionResult Get(string sku) => Ok(new { sku, price = 12 });
}
