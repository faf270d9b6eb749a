using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace RateLimiting.Policies;

/// <summary>
/// Finds every configuration key that would not bind (unknown names, unconvertible values) before
/// binding, so that start-up fails with one message naming all of them: a typo must not silently
/// disable a quota, and the binder alone stops at the first problem.
/// </summary>
internal static class ConfigurationKeyCheck
{
    /// <summary>Binds what binds and returns an error for every key that does not.</summary>
    public static List<string> BindStrictly(IConfiguration section, object options)
    {
        var errors = new List<string>();
        var bad = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var emptyLists = new List<string>();
        var path = section is IConfigurationSection { Path.Length: > 0 } named ? named.Path : PolicyRegistry.SectionName;
        Collect(section, options.GetType(), path, errors, bad, emptyLists);
        if (bad.Count > 0)
        {
            // Bind the rest, so that validation reports its own errors in the same message.
            var good = section.AsEnumerable(makePathsRelative: true)
                .Where(pair => pair.Value is not null && !bad.Any(key => IsAtOrBelow(pair.Key, key)));
            section = new ConfigurationBuilder().AddInMemoryCollection(good).Build();
        }

        section.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        foreach (var relative in emptyLists)
        {
            SetEmptyList(options, relative.Split(':'));
        }

        return errors;
    }

    /// <summary>
    /// Sets the list at <paramref name="path"/> to an empty one: the binder takes an empty JSON array
    /// for no list, and validation must see what was written (<c>"Limits": []</c> is an empty list of
    /// windows, not the one-window form).
    /// </summary>
    private static void SetEmptyList(object options, string[] path)
    {
        object? target = options;
        for (var i = 0; i < path.Length - 1 && target is not null; i++)
        {
            target = target switch
            {
                System.Collections.IDictionary dictionary => dictionary.Contains(path[i]) ? dictionary[path[i]] : null,
                System.Collections.IList list => list[int.Parse(path[i], System.Globalization.CultureInfo.InvariantCulture)],
                _ => target.GetType().GetProperty(path[i], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.GetValue(target),
            };
        }

        var property = target?.GetType().GetProperty(path[^1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is { CanWrite: true } && property.GetValue(target) is null)
        {
            property.SetValue(target, Activator.CreateInstance(property.PropertyType));
        }
    }

    private static bool IsAtOrBelow(string key, string bad)
        => key.Equals(bad, StringComparison.OrdinalIgnoreCase) || key.StartsWith(bad + ":", StringComparison.OrdinalIgnoreCase);

    private static void Collect(IConfiguration section, Type type, string path, List<string> errors, HashSet<string> bad, List<string> emptyLists, string relative = "")
    {
        foreach (var child in section.GetChildren())
        {
            var key = $"{path}:{child.Key}";
            var relativeKey = relative.Length == 0 ? child.Key : $"{relative}:{child.Key}";
            var before = errors.Count;
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                errors.Add($"{key} is not a known setting.");
            }
            else
            {
                CollectValue(child, property.PropertyType, key, errors, bad, emptyLists, relativeKey);
            }

            if (errors.Count > before && !bad.Any(b => IsAtOrBelow(b, relativeKey)))
            {
                bad.Add(relativeKey);
            }
        }
    }

    private static void CollectValue(IConfigurationSection section, Type type, string key, List<string> errors, HashSet<string> bad, List<string> emptyLists, string relative)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (typeof(Delegate).IsAssignableFrom(type) || type.IsInterface)
        {
            errors.Add($"{key} can only be set in code.");
        }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            foreach (var entry in section.GetChildren())
            {
                CollectValue(entry, type.GetGenericArguments()[1], $"{key}:{entry.Key}", errors, bad, emptyLists, $"{relative}:{entry.Key}");
            }
        }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            // Items are keyed by their index (Limits:0, Limits:1): an environment variable such as
            // RateLimiting__Policies__tiered__Limits__0__PermitLimit overrides one item's setting.
            // An empty JSON array arrives as an empty value, which the binder would take for no list.
            var items = section.GetChildren().ToList();
            if (items.Count == 0 && section.Value is { Length: > 0 } value)
            {
                errors.Add($"{key} is a list, not the single value '{value}'.");
            }
            else if (items.Count == 0)
            {
                emptyLists.Add(relative);
            }

            foreach (var item in items)
            {
                if (!int.TryParse(item.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"{key}:{item.Key}: {key} is a list, whose items are numbered from 0.");
                }
                else
                {
                    CollectValue(item, type.GetGenericArguments()[0], $"{key}:{item.Key}", errors, bad, emptyLists, $"{relative}:{item.Key}");
                }
            }
        }
        else if (type == typeof(string) || type.IsPrimitive || type.IsEnum || type == typeof(TimeSpan))
        {
            if (section.GetChildren().Any())
            {
                errors.Add($"{key} takes a single value, not a section.");
            }
            else if (section.Value is { } value && !IsConvertible(value, type))
            {
                errors.Add($"{key}: '{value}' is not a valid {(type.IsEnum ? string.Join(", ", Enum.GetNames(type)) : type.Name)} value.");
            }
        }
        else
        {
            Collect(section, type, key, errors, bad, emptyLists, relative);
        }
    }

    private static bool IsConvertible(string value, Type type)
    {
        if (type.IsEnum)
        {
            return Enum.TryParse(type, value, ignoreCase: true, out var parsed) && Enum.IsDefined(type, parsed!);
        }

        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or NotSupportedException or ArgumentException or OverflowException)
        {
            return false;
        }
    }
}
