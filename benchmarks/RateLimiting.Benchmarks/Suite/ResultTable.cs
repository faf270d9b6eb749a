using System.Globalization;
using System.Text;

namespace RateLimiting.Benchmarks.Suite;

/// <summary>The figures of one run, printed as one aligned table at the end (and as they come, to stderr).</summary>
internal sealed class ResultTable
{
    private readonly List<ResultRow> _rows = [];

    public IReadOnlyList<ResultRow> Rows => _rows;

    public void Add(string id, string measure, double value, string unit, string note = "", string format = "N0")
        => Add(new ResultRow(id, measure, value.ToString(format, CultureInfo.InvariantCulture), unit, string.Empty, note));

    /// <summary>Adds <paramref name="numerator"/> / <paramref name="denominator"/>, with "met" or "MISSED" when there is a target.</summary>
    public void AddRatio(string id, string measure, double numerator, double denominator, double? target = null, string note = "")
    {
        var ratio = denominator > 0 ? numerator / denominator : double.NaN;
        var targetText = target is { } t
            ? string.Create(CultureInfo.InvariantCulture, $">= {t:0.00} {(ratio >= t ? "met" : "MISSED")}")
            : string.Empty;
        Add(new ResultRow(id, measure, ratio.ToString("0.000", CultureInfo.InvariantCulture), "ratio", targetText, note));
    }

    /// <summary>Adds a figure held against an upper bound <paramref name="limit"/> (in its unit), with "met" or "MISSED".</summary>
    public void AddAtMost(string id, string measure, double value, string unit, double limit, string note = "", string format = "0.00")
    {
        var targetText = string.Create(CultureInfo.InvariantCulture, $"<= {limit:0.00} {(value <= limit ? "met" : "MISSED")}");
        Add(new ResultRow(id, measure, value.ToString(format, CultureInfo.InvariantCulture), unit, targetText, note));
    }

    public void Add(ResultRow row)
    {
        _rows.Add(row);
        Console.Error.WriteLine($"bench: [{row.Id}] {row.Measure}: {row.Value} {row.Unit} {row.Target} {row.Note}".TrimEnd());
    }

    public string Render()
    {
        string[] header = ["", "measure", "value", "unit", "target", "note"];
        var cells = _rows.Select(r => new[] { r.Id, r.Measure, r.Value, r.Unit, r.Target, r.Note }).ToList();
        var widths = Enumerable.Range(0, header.Length)
            .Select(c => Math.Max(header[c].Length, cells.Count == 0 ? 0 : cells.Max(row => row[c].Length)))
            .ToArray();
        var builder = new StringBuilder();
        AppendLine(builder, header, widths);
        AppendLine(builder, widths.Select(w => new string('-', w)).ToArray(), widths);
        string? lastId = null;
        foreach (var row in cells)
        {
            if (lastId is not null && row[0] != lastId)
            {
                builder.AppendLine();
            }

            AppendLine(builder, row, widths);
            lastId = row[0];
        }

        return builder.ToString();
    }

    private static void AppendLine(StringBuilder builder, string[] cells, int[] widths)
    {
        for (var c = 0; c < cells.Length; c++)
        {
            // Numbers right-aligned, text left-aligned; the last column is not padded.
            var cell = c == 2 ? cells[c].PadLeft(widths[c]) : c == cells.Length - 1 ? cells[c] : cells[c].PadRight(widths[c]);
            builder.Append(cell);
            if (c < cells.Length - 1)
            {
                builder.Append("  ");
            }
        }

        builder.AppendLine();
    }
}
