namespace RateLimiting.Policies;

/// <summary>
/// Policy names appear raw in Redis hash tags and in structured-field response headers, so they are
/// restricted to an alphabet that needs no escaping in either.
/// </summary>
internal static class PolicyNames
{
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
