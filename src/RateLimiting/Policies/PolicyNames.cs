namespace RateLimiting.Policies;

/// <summary>
/// Policy names appear raw in Redis hash tags and in structured-field response headers, so they are
/// restricted to an alphabet that needs no escaping in either.
/// </summary>
internal static class PolicyNames
{
    /// <summary>
    /// What <see cref="IsValid"/> accepts, worded for messages: the one statement of the rule, for
    /// every message about a name (a policy's, a key prefix's) to quote rather than restate. The XML
    /// doc of <see cref="RateLimitingOptions.Policies"/> cannot quote a constant, so it repeats the
    /// rule for IntelliSense, and a test holds the two equal.
    /// </summary>
    public const string Rule = "1 to 64 characters of letters, digits, '.', '_', '-' or ':'";

    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':'))
            {
                return false;
            }
        }

        return true;
    }
}
