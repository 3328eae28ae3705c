using System.CommandLine;
using SeekSharp.Formats.Gguf;
using SeekSharp.Model;
using SeekSharp.Model.Gguf;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp export gguf --model DIR --out FILE.gguf [--type f32|f16|q8_0|q4_0] [--mtp]</c>: the model as a llama.cpp
/// deepseek2 GGUF (docs/gguf.md).
/// </summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "The model to export. " + CliCommon.ModelFolderHelp, Required = true };
        var output = new Option<string>("--out") { Description = "The GGUF file to write (written to a temporary name, then renamed).", Required = true };
        var type = new Option<string>("--type")
        {
            Description = "Type of the large matrices: f32, f16, q8_0 or q4_0 (norms, router and expert bias stay F32). Default f32.",
            DefaultValueFactory = _ => "f32",
        };
        type.AcceptOnlyFromAmong("f32", "f16", "q8_0", "q4_0");
        var mtp = new Option<bool>("--mtp") { Description = "Also write the MTP layer as blk.N.nextn.* tensors (llama.cpp builds without deepseek2 MTP support refuse them)." };
        var gguf = new Command("gguf", "Write a model as a llama.cpp deepseek2 GGUF file with its tokenizer.") { model, output, type, mtp };
        gguf.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            string from = ModelPath.Resolve(r.GetValue(model)!), to = r.GetValue(output)!;
            if (Path.GetFullPath(from) == Path.GetFullPath(to)) throw new UsageException("--out must differ from --model.");
            var t = r.GetValue(type) switch
            {
                "f16" => GgufTensorType.F16,
                "q8_0" => GgufTensorType.Q8_0,
                "q4_0" => GgufTensorType.Q4_0,
                _ => GgufTensorType.F32,
            };
            using var ctrlC = CliCommon.CtrlC();
            int count = GgufExporter.Export(from, to, t, r.GetValue(mtp), ctrlC.Token);
            stderr.WriteLine($"wrote {to}: deepseek2, {t}, {count} tensors, {new FileInfo(to).Length / (1024.0 * 1024):F1} MiB");
            foreach (string caveat in DeepSeek2Metadata.LlamaCppCaveats(ModelConfig.Load(from), r.GetValue(mtp)))
                stderr.WriteLine("warning: " + caveat);
            stdout.WriteLine(to);
            return CliRunner.Ok;
        }));
        return new Command("export", "Write a model in another format (gguf).") { gguf };
    }
}
