using System.CommandLine;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Server;
using SeekSharp.Server.Http;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp serve</c>: an OpenAI-compatible HTTP server (src/SeekSharp.Server, docs/serve.md). Prints one line on
/// stdout saying where it listens, loads the model (the default one without --model) while /health answers 503, and
/// runs until Ctrl+C or SIGTERM, then stops taking requests, finishes or cancels those in flight and exits.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string?>("--model") { Description = CliCommon.ModelFolderHelp + " Default: the shipped default model." };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer folder or file, when the model folder has none." };
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port; 0 picks a free one.", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require \"Authorization: Bearer KEY\" on every request but /health." };
        var parallel = new Option<int>("--parallel") { Description = "Requests decoded together in one forward (slots).", DefaultValueFactory = _ => 4 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; past that the answer is 429.", DefaultValueFactory = _ => 64 };
        var context = new Option<int?>("--context") { Description = "Positions per request, prompt and reply (default 4096, or the model's maximum if smaller)." };
        var cache = new Option<int>("--prompt-cache-mb") { Description = "MiB of finished requests' KV caches kept to skip prefilling shared prefixes; 0 = off.", DefaultValueFactory = _ => 512 };
        var quantize = new Option<string?>("--quantize") { Description = "Quantise the weights on load: q8 or q4." };
        var speculative = new Option<string>("--speculative") { Description = "mtp: draft with the MTP module and verify in the batch (needs one); off: plain decoding.", DefaultValueFactory = _ => "off" };
        var timeout = new Option<double?>("--request-timeout") { Description = "Seconds a generating request may take from its arrival, queueing included; past it, 504 request_timeout. Default: no limit." };
        var threads = CliCommon.ThreadsOption();
        quantize.AcceptOnlyFromAmong("q8", "q4");
        speculative.AcceptOnlyFromAmong("mtp", "off");
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (chat completions, completions, models, tokenize, metrics).")
        {
            model, tokenizer, host, port, apiKey, parallel, queue, context, cache, quantize, speculative, timeout, threads,
        };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            string dir = r.GetValue(model) is { } given ? ModelPath.Resolve(given) : DefaultModel.Locate();
            if (r.GetValue(threads) <= 0) throw new UsageException($"--threads must be positive, got {r.GetValue(threads)}.");
            if (r.GetValue(cache) < 0) throw new UsageException($"--prompt-cache-mb must be 0 or more, got {r.GetValue(cache)}.");
            if (r.GetValue(timeout) is { } seconds && !(seconds > 0 && seconds <= 86400))
                throw new UsageException($"--request-timeout must be more than 0 and at most 86400 seconds, got {seconds}.");
            var options = new ServerOptions
            {
                ModelDirectory = dir,
                TokenizerPath = r.GetValue(tokenizer),
                Host = r.GetValue(host)!,
                Port = r.GetValue(port),
                ApiKey = r.GetValue(apiKey),
                Parallel = r.GetValue(parallel),
                QueueLimit = r.GetValue(queue),
                Context = r.GetValue(context),
                PromptCacheBytes = (long)r.GetValue(cache) << 20,
                Quantization = r.GetValue(quantize) switch
                {
                    "q8" => SeekSharp.Tensors.Quantization.QuantType.Q8_0,
                    "q4" => SeekSharp.Tensors.Quantization.QuantType.Q4_0,
                    _ => null,
                },
                Speculative = r.GetValue(speculative) == "mtp" ? SpeculativeMode.Mtp : SpeculativeMode.Off,
                Threads = r.GetValue(threads),
                RequestTimeout = r.GetValue(timeout) is { } s ? TimeSpan.FromSeconds(s) : null,
            };
            return Serve(options, stdout, stderr).GetAwaiter().GetResult();
        }));
        return command;
    }

    private static async Task<int> Serve(ServerOptions options, TextWriter stdout, TextWriter stderr)
    {
        await using var server = await OpenAiServer.StartAsync(options, stderr);
        stdout.WriteLine($"listening on {server.Address}");
        stdout.Flush();
        var shutdown = server.WaitForShutdownAsync();
        try
        {
            await server.Ready;
        }
        catch (Exception) when (shutdown.IsCompleted)
        {
            stderr.WriteLine("stopped");
            return CliRunner.Cancelled;
        }
        await shutdown;
        stderr.WriteLine("stopped");
        return CliRunner.Ok;
    }
}
