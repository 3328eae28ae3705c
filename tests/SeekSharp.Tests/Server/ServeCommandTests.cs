using System.Diagnostics;
using System.Net;
using SeekSharp.Tests.Cli;
using SeekSharp.Tests.Golden;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary><c>seeksharp serve</c> as a user runs it: a process that prints where it listens, serves, and stops on Ctrl+C (SIGINT).</summary>
public class ServeCommandTests
{
    [Fact]
    public async Task ServePrintsWhereItListensServesAndStopsOnSigint()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "SeekSharp.Cli.dll"), "serve", "--model", new GoldenCase("v3_yarn_f32").Dir,
            "--tokenizer", Path.Combine(TestUtil.DataDir, "tiny-tokenizer"), "--port", "0", "--threads", "1",
        }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.NotNull(line);
            Assert.Matches(@"^listening on http://127\.0\.0\.1:\d+/$", line);
            using var http = new HttpClient { BaseAddress = new Uri(line!["listening on ".Length..]) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while ((await http.GetAsync("health")).StatusCode != HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, "the model did not load");
                await Task.Delay(20);
            }
            var reply = await http.PostAsync("v1/chat/completions", new StringContent("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 3}"));
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            Assert.Equal("v3_yarn_f32", (await TestServer.JsonOf(reply)).GetProperty("model").GetString());   // the folder's name

            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, process.ExitCode);
            Assert.Null(await process.StandardOutput.ReadLineAsync());   // one line on stdout, nothing more
            string err = await stderr;
            Assert.Contains("loaded", err);
            Assert.EndsWith("stopped\n", err);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    [Fact]
    public void BadFlagsAreOneLineErrors()
    {
        var missing = CliTestHost.Run("serve", "--model", "/no/such/model", "--port", "0");
        Assert.Equal(1, missing.Code);
        Assert.StartsWith("error: ", missing.Err);
        Assert.Single(missing.Err.TrimEnd('\n').Split('\n'));

        string golden = new GoldenCase("v3_yarn_f32").Dir;
        var parallel = CliTestHost.Run("serve", "--model", golden, "--parallel", "0", "--port", "0");
        Assert.Equal(1, parallel.Code);
        Assert.Contains("--parallel", parallel.Err);

        var mtp = CliTestHost.Run("serve", "--model", golden, "--speculative", "maybe", "--port", "0");
        Assert.NotEqual(0, mtp.Code);
        Assert.Contains("maybe", mtp.Err + mtp.Out);

        var host = CliTestHost.Run("serve", "--model", golden, "--host", "example.com", "--port", "0");
        Assert.Equal(1, host.Code);
        Assert.Contains("--host", host.Err);

        var noTokenizer = CliTestHost.Run("serve", "--model", golden, "--port", "0");   // the golden folder has no tokenizer
        Assert.Equal(1, noTokenizer.Code);
        Assert.Contains("tokenizer", noTokenizer.Err);
        Assert.StartsWith("listening on", noTokenizer.Out);

        var help = CliTestHost.Run("serve", "--help");
        Assert.Equal(0, help.Code);
        foreach (var flag in new[] { "--model", "--host", "--port", "--api-key", "--parallel", "--context", "--quantize", "--speculative", "--threads" })
            Assert.Contains(flag, help.Out);
    }
}
