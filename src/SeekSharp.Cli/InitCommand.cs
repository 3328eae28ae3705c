using System.CommandLine;
using SeekSharp.Formats;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tensors.Weights;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp init</c>: a randomly initialised checkpoint for a config (N(0, 0.006²), norms 1; architecture.md §16).</summary>
internal static class InitCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var config = new Option<string?>("--config") { Description = "A Hugging Face config.json." };
        var preset = new Option<string?>("--preset") { Description = $"Or a named config: {string.Join(", ", Presets.Names)}." };
        var output = new Option<string>("--out") { Description = "Folder to write config.json and model.safetensors into.", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0UL };
        var dtype = new Option<string>("--dtype") { Description = "Stored precision: f32, bf16, or the block formats q8 (Q8_0) and q4 (Q4_0) for inference.", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "bf16", "q8", "q4");
        var threads = new Option<int>("--threads") { Description = "Threads that generate and quantise rows (q8, q4).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var std = new Option<float>("--std") { Description = "Standard deviation of the initial weights.", DefaultValueFactory = _ => ModelInitializer.DefaultStd };
        var command = new Command("init", "Write a randomly initialised checkpoint.") { config, preset, output, seed, dtype, std, threads };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var (cfg, source) = InfoCommand.ConfigFrom(r.GetValue(config), r.GetValue(preset));
            if (!(r.GetValue(std) > 0)) throw new UsageException($"--std must be positive, got {r.GetValue(std)}.");
            var accounting = ModelAccounting.For(cfg);
            var format = r.GetValue(dtype) switch
            {
                "bf16" => WeightFormat.BF16,
                "q8" => WeightFormat.Q8_0,
                "q4" => WeightFormat.Q4_0,
                _ => WeightFormat.F32,
            };
            if (r.GetValue(threads) < 1) throw new UsageException($"--threads must be at least 1, got {r.GetValue(threads)}.");
            long needed = RandomCheckpoint.DataBytes(cfg, format);
            string outDir = Path.GetFullPath(r.GetValue(output)!);
            Directory.CreateDirectory(outDir);
            long free = new DriveInfo(outDir).AvailableFreeSpace;
            if (needed > free - (256L << 20))
                throw new UsageException($"{source} in {format.Name()} is {needed / 1e9:F1} GB of weights; {outDir} has {free / 1e9:F1} GB free.");
            using var pool = new WorkerPool(r.GetValue(threads));
            var sw = System.Diagnostics.Stopwatch.StartNew();
            // Tensor by tensor, straight to disk: memory stays at a few MiB whatever the model's size.
            RandomCheckpoint.Write(cfg, r.GetValue(output)!, format, r.GetValue(seed), r.GetValue(std), pool);
            long bytes = new FileInfo(Path.Combine(r.GetValue(output)!, SafetensorsWriter.SingleFileName)).Length;
            stderr.WriteLine($"wrote {r.GetValue(output)}: {accounting.CheckpointParameters / 1e6:F1}M parameters ({format.Name()}, {bytes / 1e9:F2} GB), seed {r.GetValue(seed)}, in {sw.Elapsed.TotalSeconds:F1} s");
            return CliRunner.Ok;
        }));
        return command;
    }
}
