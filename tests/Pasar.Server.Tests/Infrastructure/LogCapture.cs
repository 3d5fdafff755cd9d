using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pasar.Server.Tests.Infrastructure;

/// <summary>
/// Records every line the server's logging would write (after its level filters), to assert what a log holds:
/// register it through <see cref="PasarApp.StartAsync"/>'s <c>services</c> hook with <see cref="Register"/>.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<Line> _lines = new();

    public sealed record Line(string Category, LogLevel Level, string Message, Exception? Exception)
    {
        /// <summary>The line as a console would write it, stack trace included.</summary>
        public string Text => Exception is null ? Message : Message + Environment.NewLine + Exception;
    }

    public IReadOnlyList<Line> Lines => [.. _lines];

    public long Bytes => _lines.Sum(l => (long)l.Text.Length);

    public void Clear() => _lines.Clear();

    public void Register(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture._lines.Enqueue(new Line(category, logLevel, formatter(state, exception), exception));
    }
}
