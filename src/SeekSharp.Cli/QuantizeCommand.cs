using System.CommandLine;
using SeekSharp.Model;

namespace SeekSharp.Cli;

/// <summary><c>seeksharp quantize --model DIR --out DIR --type q8|q4</c>: a block-quantised copy of a model for inference.</summary>
internal static class QuantizeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "The model to quantise. " + CliCommon.ModelFolderHelp, Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the quantised model.", Required = true };
        var type = new Option<string>("--type") { Description = "q8 (int8 blocks of 32 with a scale) or q4 (4-bit blocks of 32).", Required = true };
        type.AcceptOnlyFromAmong("q8", "q4");
        var threads = CliCommon.ThreadsOption();
        var command = new Command("quantize", "Write a block-quantised (Q8_0 or Q4_0) copy of a model.") { model, output, type, threads };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            string from = ModelPath.Resolve(r.GetValue(model)!), to = r.GetValue(output)!;
            if (Path.GetFullPath(from) == Path.GetFullPath(to)) throw new UsageException("--out must differ from --model.");
            using var pool = CliCommon.Pool(r.GetValue(threads));
            var quant = ModelQuantizer.Parse(r.GetValue(type)!);
            var m = CliCommon.LoadModel(from, stderr, new ModelLoadOptions { Quantization = quant, Pool = pool });
            ModelSaver.Save(m, to, Formats.TensorDType.F32);   // the few unquantised tensors (norms, router, kv_b) stay exact
            foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
                if (File.Exists(Path.Combine(from, file))) File.Copy(Path.Combine(from, file), Path.Combine(to, file), overwrite: true);
            long bytes = Directory.EnumerateFiles(to, "*.safetensors").Sum(f => new FileInfo(f).Length);
            stderr.WriteLine($"wrote {to}: {quant}, {bytes / (1024.0 * 1024):F1} MiB");
            stdout.WriteLine(to);
            return CliRunner.Ok;
        }));
        return command;
    }
}
