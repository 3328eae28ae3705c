using System.CommandLine;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp score</c>: runs a model on given token ids and writes raw float32 (little-endian, row-major) logits
/// [T, vocab], and optionally MTP logits [T−1, vocab] (depth 1), hidden states [layers+1, T, hidden] and any named
/// intermediate of the forward (--dump, docs/architecture.md §23).
/// </summary>
internal static class ScoreCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = CliCommon.ModelFolderHelp, Required = true };
        var tokens = new Option<string?>("--tokens") { Description = "Token ids, e.g. 1,2,3." };
        var tokensFile = new Option<string?>("--tokens-file") { Description = "A file of token ids (comma/whitespace separated, or a JSON array)." };
        var output = new Option<string?>("--out") { Description = "Where to write the logits [T, vocab] as float32 (required unless --dump list)." };
        var mtpOut = new Option<string?>("--mtp-out") { Description = "Also write the depth-1 MTP logits [T-1, vocab]." };
        var hiddenOut = new Option<string?>("--hidden-out") { Description = "Also write the hidden states [layers+1, T, hidden]." };
        var decode = new Option<string>("--decode") { Description = "batch: one forward; incremental: one token at a time through the latent KV cache.", DefaultValueFactory = _ => "batch" };
        decode.AcceptOnlyFromAmong("batch", "incremental");
        var attention = new Option<string>("--attention") { Description = "MLA form for the batch forward: naive or absorbed.", DefaultValueFactory = _ => "naive" };
        attention.AcceptOnlyFromAmong("naive", "absorbed");
        var dump = new Option<string[]>("--dump") { Description = "Also write this intermediate (repeatable; * matches within one dot-separated part, a final .* everything below: layers.*.attn.q, layers.3.*, *; 'list' prints every name for the model)." };
        var dumpDir = new Option<string?>("--dump-dir") { Description = "Folder for the --dump files: NAME.f32 (int32: NAME.i32) and NAME.json with the shape." };
        var threads = CliCommon.ThreadsOption();
        var command = new Command("score", "Compute logits (and MTP logits, hidden states, named intermediates) for token ids.")
            { model, tokens, tokensFile, output, mtpOut, hiddenOut, decode, attention, dump, dumpDir, threads };
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var patterns = r.GetValue(dump) ?? [];
            bool list = patterns.Contains("list");
            int[] ids = list ? [] : ReadTokens(r.GetValue(tokens), r.GetValue(tokensFile));
            if (!list && r.GetValue(output) is null) throw new UsageException("--out FILE is required (where the logits go).");
            if (!list && patterns.Length > 0 && r.GetValue(dumpDir) is null) throw new UsageException("--dump needs --dump-dir DIR (where the files go).");
            using var pool = CliCommon.Pool(r.GetValue(threads));
            var m = CliCommon.LoadModel(ModelPath.Resolve(r.GetValue(model)!), stderr);
            var available = ActivationNames.For(m);
            if (list)
            {
                PrintNames(stdout, available);
                return CliRunner.Ok;
            }
            var sink = patterns.Length > 0 ? Dump(patterns, available) : null;
            // The MTP modules run when a dumped name is theirs; a wildcard over a single token just leaves them out.
            bool dumpMtp = sink is not null && available.Any(a => a.Name.StartsWith("mtp.", StringComparison.Ordinal) && sink.Wants(a.Name));
            if (dumpMtp && ids.Length < 2)
            {
                if (patterns.Any(p => p.StartsWith("mtp.", StringComparison.Ordinal) && !p.Contains('*')))
                    throw new UsageException("--dump mtp.…: the MTP module needs at least 2 tokens.");
                dumpMtp = false;
            }
            if (r.GetValue(mtpOut) is not null && m.Mtp.Length == 0)
                throw new UsageException("--mtp-out: this model has no MTP module.");
            if (r.GetValue(mtpOut) is not null && ids.Length < 2)
                throw new UsageException("--mtp-out needs at least 2 tokens.");
            var mode = r.GetValue(attention) == "absorbed" ? AttentionMode.Absorbed : AttentionMode.Naive;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            bool mtp = r.GetValue(mtpOut) is not null || dumpMtp;
            var result = r.GetValue(decode) == "incremental"
                ? Incremental(m, pool, ids, mtp, r.GetValue(hiddenOut) is not null, sink)
                : Batch(m, pool, ids, mode, mtp, r.GetValue(hiddenOut) is not null, sink);
            stderr.WriteLine($"scored {ids.Length} tokens in {sw.Elapsed.TotalSeconds:F3} s ({ids.Length / sw.Elapsed.TotalSeconds:F1} tokens/s)");
            CliCommon.WriteFloat32(r.GetValue(output)!, result.Logits);
            if (r.GetValue(mtpOut) is { } mp) CliCommon.WriteFloat32(mp, result.Mtp);
            if (r.GetValue(hiddenOut) is { } hp) CliCommon.WriteFloat32(hp, result.Hidden);
            if (sink is not null)
            {
                var files = sink.WriteTo(r.GetValue(dumpDir)!);
                stderr.WriteLine($"dumped {files.Count} intermediates to {r.GetValue(dumpDir)}");
            }
            return CliRunner.Ok;
        }));
        return command;
    }

    private sealed record Result(List<float[]> Logits, List<float[]> Mtp, List<float[]> Hidden);

    // Every pattern must name something this model computes: a typo is a usage error, not an empty dump.
    private static ActivationDump Dump(string[] patterns, IReadOnlyList<ActivationInfo> available)
    {
        foreach (var p in patterns)
            if (!available.Any(a => ActivationNames.Matches(p, a.Name)))
                throw new UsageException($"--dump: this model has no intermediate named '{p}' (--dump list prints the names).");
        return new ActivationDump(patterns);
    }

    private static void PrintNames(TextWriter stdout, IReadOnlyList<ActivationInfo> available)
    {
        int width = available.Max(a => a.Name.Length) + 2, shapeWidth = available.Max(a => a.ShapeText.Length) + 2;
        foreach (var a in available)
            stdout.WriteLine($"{a.Name.PadRight(width)}{a.ShapeText.PadRight(shapeWidth)}{a.TypeName}");
    }

    private static int[] ReadTokens(string? tokens, string? file)
    {
        if ((tokens is null) == (file is null)) throw new UsageException("give exactly one of --tokens or --tokens-file.");
        if (tokens is not null) return CliCommon.ParseTokens(tokens, "--tokens");
        if (!File.Exists(file)) throw new UsageException($"--tokens-file: {file} does not exist.");
        return CliCommon.ParseTokens(File.ReadAllText(file!), file!);
    }

    private static Result Batch(DeepSeekModel m, WorkerPool pool, int[] ids, AttentionMode mode, bool mtp, bool hidden, IActivationSink? dump)
    {
        var ctx = new ForwardContext(pool) { Attention = mode, Dump = dump };
        var state = m.CreateState();
        m.Forward(ctx, ids, BatchLayout.Single(ids.Length), state, new ForwardRequest { RunMtp = mtp, CollectHiddenStates = hidden });
        return new Result([state.Logits.ToArray()], mtp ? [state.Mtp[0].Logits.ToArray()] : [],
            hidden ? state.HiddenStates.Select(h => h.ToArray()).ToList() : []);
    }

    // One token per step through the decode engine (the latent cache); once token j + 1 is known the MTP module drafts
    // from row j through its own cache, as speculative decoding does.
    private static Result Incremental(DeepSeekModel m, WorkerPool pool, int[] ids, bool mtp, bool hidden, IActivationSink? dump)
    {
        var c = m.Config;
        int t = ids.Length, d = c.HiddenSize;
        var engine = new DecodeEngine(m, pool, dump: dump);
        var sequence = engine.NewSequence(t);
        var logits = new List<float[]>();
        var mtpLogits = new List<float[]>();
        var layers = hidden ? Enumerable.Range(0, c.NumHiddenLayers + 1).Select(_ => new float[t * d]).ToArray() : [];
        for (int j = 0; j < t; j++)
        {
            engine.Step([new DecodeInput(sequence, ids.AsMemory(j, 1))], collectHiddenStates: hidden);
            logits.Add(engine.Logits(0).ToArray());
            for (int l = 0; l < layers.Length; l++) engine.State.HiddenStates[l].Span.CopyTo(layers[l].AsSpan(j * d, d));
            if (mtp && j + 1 < t) mtpLogits.Add(engine.Draft([new DraftInput(sequence, ids[j + 1])]).Row(0).ToArray());
        }
        return new Result(logits, mtpLogits, layers.ToList());
    }
}
