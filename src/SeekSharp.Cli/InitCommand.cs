using System.CommandLine;
using SeekSharp.Formats;
using SeekSharp.Model;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp init</c>: a randomly initialised checkpoint for a config (N(0, 0.006²), norms 1; spec §16).</summary>
internal static class InitCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var config = new Option<string?>("--config") { Description = "A Hugging Face config.json." };
        var preset = new Option<string?>("--preset") { Description = $"Or a named config: {string.Join(", ", Presets.Names)}." };
        var output = new Option<string>("--out") { Description = "Folder to write config.json and model.safetensors into.", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0UL };
        var dtype = new Option<string>("--dtype") { Description = "Stored precision: f32 or bf16.", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "bf16");
        var std = new Option<float>("--std") { Description = "Standard deviation of the initial weights.", DefaultValueFactory = _ => ModelInitializer.DefaultStd };
        var command = new Command("init", "Write a randomly initialised checkpoint.") { config, preset, output, seed, dtype, std };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var (cfg, source) = InfoCommand.ConfigFrom(r.GetValue(config), r.GetValue(preset));
            if (!(r.GetValue(std) > 0)) throw new UsageException($"--std must be positive, got {r.GetValue(std)}.");
            var accounting = ModelAccounting.For(cfg);
            if (accounting.CheckpointParameters > 4_000_000_000L)
                throw new UsageException($"{source} has {accounting.CheckpointParameters / 1e9:F1}B parameters: too many to initialise in memory here.");
            var model = DeepSeekModel.Create(cfg);
            ModelInitializer.Initialize(model, r.GetValue(seed), r.GetValue(std));
            var type = r.GetValue(dtype) == "bf16" ? TensorDType.BF16 : TensorDType.F32;
            ModelSaver.Save(model, r.GetValue(output)!, type);
            stderr.WriteLine($"wrote {r.GetValue(output)}: {accounting.CheckpointParameters / 1e6:F1}M parameters ({type}), seed {r.GetValue(seed)}");
            return CliRunner.Ok;
        }));
        return command;
    }
}
