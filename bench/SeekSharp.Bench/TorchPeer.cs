using System.Diagnostics;
using System.Text.Json;

namespace SeekSharp.Bench;

/// <summary>
/// The PyTorch peer of the training step: <c>/usr/bin/python3 bench/peers/train_step.py</c> as a child process that
/// loads the same checkpoint and tokens, then answers one command line on stdin with one JSON line on stdout (the
/// protocol is in train_step.py's docstring), so the bench can alternate its rounds with SeekSharp's.
/// </summary>
internal sealed class TorchPeer : IDisposable
{
    /// <summary>Debian's python3-torch installs for the system Python; a pyenv <c>python3</c> on PATH may lack it.</summary>
    public const string Python = "/usr/bin/python3";

    /// <summary>jemalloc with its decay off, when installed (libjemalloc2): see <see cref="Environment"/>.</summary>
    private const string Jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

    private readonly Process _process;

    /// <summary>The peer's first line: its torch version, threads and parameter count.</summary>
    public JsonElement Ready { get; }

    /// <summary>How the child was set up, in words (for the report's header).</summary>
    public string Setup { get; }

    private TorchPeer(Process process, JsonElement ready, string setup)
    {
        _process = process;
        Ready = ready;
        Setup = setup;
    }

    /// <summary>Null when <see cref="Python"/> imports torch; else why not, with the fix.</summary>
    public static string? Unavailable()
    {
        if (!File.Exists(Python)) return $"{Python} not found: apt-get install python3-torch";
        if (FindScript() is null) return "bench/peers/train_step.py not found above the working directory";
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Python, ["-c", "import torch"]) { RedirectStandardError = true, UseShellExecute = false })!;
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : $"{Python} cannot import torch: apt-get install python3-torch";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"{Python} does not run ({e.Message}): apt-get install python3-torch";
        }
    }

    /// <summary>Starts the peer on the checkpoint folder <paramref name="modelDir"/> and the int32 tokens in <paramref name="tokensFile"/>.</summary>
    public static TorchPeer Start(string modelDir, string tokensFile, int batch, int seqLen, int threads)
    {
        string script = FindScript() ?? throw new FileNotFoundException("bench/peers/train_step.py not found above the working directory");
        var psi = new ProcessStartInfo(Python,
            [script, "--model", modelDir, "--tokens", tokensFile, "--batch-size", $"{batch}", "--seq-len", $"{seqLen}", "--threads", $"{threads}"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        string setup = Environment(psi.Environment, threads);
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"{Python} did not start");
        var ready = ReadReply(process);
        return new TorchPeer(process, ready, setup);
    }

    /// <summary>
    /// The child's environment. OpenMP threads that wait passively: libgomp's default spin-wait collapses when the
    /// cores are shared (each of PyTorch's thousands of small parallel ops waits for a descheduled spinning thread; a
    /// step took 10–40 s instead of 2 on this 2-core VM under load). jemalloc with decay off: on this VM a page fault
    /// is expensive (the host reclaims freed pages), and glibc returns large blocks to the system on free, so every
    /// fresh 32 MB logits tensor faulted its pages in again. Both are what a PyTorch user tunes on such a machine.
    /// </summary>
    private static string Environment(IDictionary<string, string?> env, int threads)
    {
        env["OMP_WAIT_POLICY"] = "PASSIVE";
        env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = $"{threads}";
        var words = new List<string> { $"OMP_WAIT_POLICY=PASSIVE, {threads} OpenMP and OpenBLAS threads" };
        if (File.Exists(Jemalloc))
        {
            env["LD_PRELOAD"] = Jemalloc;
            env["MALLOC_CONF"] = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
            words.Add("jemalloc (decay off)");
        }
        else
        {
            env["MALLOC_MMAP_THRESHOLD_"] = $"{32 << 20}";
            env["MALLOC_TRIM_THRESHOLD_"] = $"{1L << 36}";
            words.Add("glibc malloc keeping freed memory (apt-get install libjemalloc2 for jemalloc)");
        }
        return string.Join(", ", words);
    }

    /// <summary>Sends one command line and returns the JSON reply.</summary>
    public JsonElement Command(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
        return ReadReply(_process);
    }

    /// <summary><paramref name="steps"/> training steps with or without MTP: per-step seconds and the parts' totals.</summary>
    public StepTimes[] Round(int steps, bool mtp)
    {
        var r = Command($"round {steps} {(mtp ? 1 : 0)}");
        var seconds = r.GetProperty("seconds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double fwd = r.GetProperty("forward").GetDouble(), bwd = r.GetProperty("backward").GetDouble(), opt = r.GetProperty("optimizer").GetDouble();
        double total = seconds.Sum();
        // The peer reports the parts summed over the round; spread them over its steps in proportion.
        return seconds.Select(s => new StepTimes(fwd * s / total, 0, bwd * s / total, opt * s / total)).ToArray();
    }

    private static JsonElement ReadReply(Process p)
    {
        string? line = p.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"the PyTorch peer exited (code {(p.HasExited ? p.ExitCode : -1)}); its error is above");
        var json = JsonDocument.Parse(line).RootElement.Clone();
        if (json.TryGetProperty("error", out var error)) throw new InvalidOperationException($"the PyTorch peer: {error.GetString()}");
        return json;
    }

    private static string? FindScript()
    {
        foreach (var start in new[] { System.Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string path = Path.Combine(dir.FullName, "bench", "peers", "train_step.py");
                if (File.Exists(path)) return path;
            }
        return null;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Close();
                if (!_process.WaitForExit(10_000)) _process.Kill();
            }
        }
        catch (IOException) { }
        _process.Dispose();
    }
}
