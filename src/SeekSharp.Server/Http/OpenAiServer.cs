using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Server.Metrics;
using SeekSharp.Server.Scheduling;
using SeekSharp.Tensors;

namespace SeekSharp.Server.Http;

/// <summary>
/// <c>seeksharp serve</c>'s HTTP side: ASP.NET Core minimal APIs over a <see cref="BatchScheduler"/>. It listens at
/// once (/health answers 503 while the model loads in the background, then 200), maps the OpenAI endpoints, and on
/// shutdown (Ctrl+C, SIGTERM, <see cref="StopAsync"/>) stops taking requests, lets those in flight finish for
/// <see cref="ServerOptions.ShutdownGrace"/>, cancels the rest, and frees the model.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ModelHost _host;
    private readonly WorkerPool _pool;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _loadCancel = new();
    private Task _loading = Task.CompletedTask;
    private Timer? _grace;
    private int _disposed;

    private OpenAiServer(WebApplication app, ServerOptions options, TextWriter log)
    {
        _app = app;
        _log = TextWriter.Synchronized(log);
        _host = new ModelHost(options, new ServerMetrics());
        _pool = new WorkerPool(options.Threads);
    }

    /// <summary>Where it listens, e.g. http://127.0.0.1:8080/ (the real port when 0 was asked).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Completes when the model is loaded and requests are served; faults with the reason when loading failed.</summary>
    public Task Ready => _loading;

    public ServerOptions Options => _host.Options;
    public ServerMetrics Metrics => _host.Metrics;

    /// <summary>The model, once loaded.</summary>
    public ServedModel? Model => _host.Model;

    internal BatchScheduler? Scheduler => _host.Scheduler;

    /// <summary>Starts listening and begins loading the model; await <see cref="Ready"/> for the model.</summary>
    /// <exception cref="InvalidInputException">Bad options, or the address cannot be listened on.</exception>
    public static async Task<OpenAiServer> StartAsync(ServerOptions options, TextWriter? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var ip = ParseHost(options.Host);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "seeksharp" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // RequestBody answers 413 past the limit; Kestrel's own limit is only a backstop, set higher so that a body
            // a little over the limit is still read to its end and the client reads the 413 instead of a reset connection.
            k.Limits.MaxRequestBodySize = Math.Max(4 * options.MaxRequestBytes, options.MaxRequestBytes + (1 << 20));
            k.Listen(ip, options.Port);
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + TimeSpan.FromSeconds(5));
        var app = builder.Build();
        var server = new OpenAiServer(app, options, log ?? TextWriter.Null);
        server.Map();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            await server.DisposeAsync();
            throw new InvalidInputException($"Cannot listen on {options.Host}:{options.Port}: {e.Message}", e);
        }
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address.EndsWith('/') ? address : address + "/");
        app.Lifetime.ApplicationStopping.Register(server.OnStopping);
        server._loading = Task.Run(async () =>
        {
            if (options.LoadGate is { } gate) await gate.WaitAsync(server._loadCancel.Token);
            server.Load();
        }, CancellationToken.None);   // loading ends on its own or through _loadCancel
        return server;
    }

    /// <summary>Waits until the host is asked to stop (Ctrl+C, SIGTERM, <see cref="StopAsync"/>) and has stopped.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops listening, lets requests in flight finish within the grace period, cancels the rest.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { await _app.StopAsync(); }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or InvalidOperationException) { }
        _loadCancel.Cancel();
        try { await _loading; }
        catch (Exception) { /* reported through Ready */ }
        _host.Scheduler?.Dispose();
        _host.Model?.Dispose();
        _pool.Dispose();
        if (_grace is not null) await _grace.DisposeAsync();
        await _app.DisposeAsync();
        _loadCancel.Dispose();
    }

    private void Map()
    {
        var host = _host;
        long limit = host.Options.MaxRequestBytes;
        _app.Use((http, next) => ErrorHandling.InvokeAsync(http, next, limit, _log));
        if (host.Options.ApiKey is { } key)
        {
            var check = new ApiKeyCheck(key);
            _app.Use((http, next) =>
            {
                if (!http.Request.Path.Equals("/health", StringComparison.OrdinalIgnoreCase) && !ChatPageEndpoint.IsPage(http.Request)) check.Require(http);
                return next();
            });
        }
        foreach (var path in ChatPageEndpoint.Paths) _app.MapMethods(path, ["GET", "HEAD"], (RequestDelegate)ChatPageEndpoint.HandleAsync);
        _app.MapGet("/health", (RequestDelegate)(http => HealthEndpoint.HandleAsync(http, host)));
        _app.MapGet("/metrics", (RequestDelegate)(http => MetricsEndpoint.HandleAsync(http, host)));
        _app.MapGet("/v1/models", (RequestDelegate)(http => ModelsEndpoint.ListAsync(http, host)));
        _app.MapGet("/v1/models/{id}", (RequestDelegate)(http => ModelsEndpoint.GetAsync(http, host)));
        _app.MapPost("/v1/chat/completions", (RequestDelegate)(http => ChatCompletionsEndpoint.HandleAsync(http, host)));
        _app.MapPost("/v1/completions", (RequestDelegate)(http => CompletionsEndpoint.HandleAsync(http, host)));
        _app.MapPost("/tokenize", (RequestDelegate)(http => TokenizeEndpoints.TokenizeAsync(http, host)));
        _app.MapPost("/detokenize", (RequestDelegate)(http => TokenizeEndpoints.DetokenizeAsync(http, host)));
    }

    private void Load()
    {
        var options = _host.Options;
        var clock = Stopwatch.StartNew();
        int lastDecile = 0;
        var progress = new InlineProgress(p =>
        {
            if (p.TotalBytes < 256L << 20) return;
            int decile = (int)(10 * p.BytesRead / p.TotalBytes);
            if (decile <= lastDecile || decile == 10) return;
            lastDecile = decile;
            _log.WriteLine($"loading {options.ModelDirectory}: {decile * 10}%");
        });
        var model = ServedModel.Load(options, _pool, progress, _loadCancel.Token);
        try
        {
            var scheduler = new BatchScheduler(model, new DecodeEngine(model.Model, _pool), options, _host.Metrics, line => _log.WriteLine(line));
            _host.SetLoaded(model, scheduler);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        var a = ModelAccounting.For(model.Model.Config);
        _log.WriteLine($"loaded {options.ModelDirectory} in {clock.Elapsed.TotalSeconds:F1} s: {a.MainParameters / 1e6:F1}M parameters; " +
            $"serving '{model.Id}' with {options.Parallel} slots, context {model.Context}, queue {options.QueueLimit}");
    }

    private void OnStopping()
    {
        _host.MarkStopping();
        _loadCancel.Cancel();
        _host.Scheduler?.StopAccepting();
        _grace = new Timer(_ => _host.Scheduler?.CancelAll(), null, _host.Options.ShutdownGrace, Timeout.InfiniteTimeSpan);
    }

    private static IPAddress ParseHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var ip) ? ip
        : throw new InvalidInputException($"--host must be an IP address (127.0.0.1, 0.0.0.0, ::1) or localhost, got '{host}'.");

    private sealed class InlineProgress(Action<ModelLoadProgress> report) : IProgress<ModelLoadProgress>
    {
        public void Report(ModelLoadProgress value) => report(value);
    }
}
