namespace RateLimiting.Benchmarks.Http;

/// <summary>One endpoint wrk loads, and the status every response must have.</summary>
internal sealed class HttpVariant
{
    public HttpVariant(string id, string name, BenchApp app, string path, int expectedStatus, int connections)
    {
        Connections = connections;
        Id = id;
        Name = name;
        App = app;
        Path = path;
        Url = new Uri(app.BaseAddress, path);
        ExpectedStatus = expectedStatus;
    }

    /// <summary>Gets the measurement it belongs to, b or c.</summary>
    public string Id { get; }

    public string Name { get; }

    /// <summary>Gets how many connections wrk keeps open.</summary>
    public int Connections { get; }

    public BenchApp App { get; }

    public string Path { get; }

    public Uri Url { get; }

    public int ExpectedStatus { get; }

    public List<HttpRun> Runs { get; } = [];

    /// <summary>Gets the responses of the measured runs, by status.</summary>
    public StatusCounts Responses { get; set; }

    /// <summary>Gets wrk's socket errors (connect, read, write, timeout) over the measured runs.</summary>
    public long SocketErrors { get; set; }

    public HttpRun? Best => Runs.MaxBy(r => r.Wrk.RequestsPerSecond);
}
