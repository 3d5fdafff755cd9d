using System.Text.RegularExpressions;

namespace Pasar.Server.Platform.Http;

/// <summary>Collects field errors for a validation problem; field names are the JSON (camelCase) ones.</summary>
internal sealed partial class RequestValidator
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public RequestValidator Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }

        list.Add(message);
        return this;
    }

    public RequestValidator Required(string field, object? value)
    {
        if (value is null || (value is string s && string.IsNullOrWhiteSpace(s)))
        {
            Add(field, $"{field} is required.");
        }

        return this;
    }

    public RequestValidator Text(string field, string? value, int min, int max, bool required = true)
    {
        if (value is null)
        {
            return required ? Required(field, value) : this;
        }

        var length = value.Trim().Length;
        if (length < min || length > max)
        {
            Add(field, min > 0 ? $"{field} must be {min} to {max} characters." : $"{field} must be at most {max} characters.");
        }
        else if (value.Any(char.IsControl))
        {
            Add(field, $"{field} must not contain control characters.");
        }

        return this;
    }

    public RequestValidator Range(string field, long? value, long min, long max, bool required = true)
    {
        if (value is null)
        {
            return required ? Required(field, value) : this;
        }

        if (value < min || value > max)
        {
            Add(field, $"{field} must be between {min} and {max}.");
        }

        return this;
    }

    public RequestValidator Currency(string field, string? value)
    {
        if (value is null)
        {
            return Required(field, value);
        }

        if (!CurrencyPattern().IsMatch(value))
        {
            Add(field, $"{field} must be an ISO-4217 code such as SGD.");
        }

        return this;
    }

    public RequestValidator HttpUrl(string field, string? value)
    {
        if (value is null)
        {
            return this;
        }

        if (value.Length > 2048 || !Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            Add(field, $"{field} must be an absolute http(s) URL of at most 2048 characters.");
        }

        return this;
    }

    public IDictionary<string, string[]> Errors => _errors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyPattern();
}
