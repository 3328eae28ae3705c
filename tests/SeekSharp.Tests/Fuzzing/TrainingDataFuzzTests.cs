using System.Text;
using SeekSharp.Evaluation;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using SeekSharp.Training.Data;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Mutated training data: JSON token rows, .bin token files (llm.c's header and raw uint16), text, chat JSONL and
/// evaluation JSONL. Each opens or fails with an <see cref="InvalidInputException"/>, never a raw exception
/// (docs/reliability.md).
/// </summary>
public sealed class TrainingDataFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int VocabSize = 500;

    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void JsonRowsOpenOrFailTyped()
    {
        var corpus = new Corpus("training rows (.json)",
        [
            Corpus.File(Path.Combine(new GoldenCase("v3_yarn_f32").Dir, "grads.json")),
            ("rows.json", "[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]"u8.ToArray()),
            ("tokens.json", "{\"tokens\": [[0, 499], [17, 18, 19]]}"u8.ToArray()),
        ], Mutator.JsonTokens, json: true);
        string path = Path.Combine(_dir, "data.json");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            var data = DatasetLoader.Open(path, VocabSize, encode: null, separatorId: 0, validationFraction: 0.25);
            Use(data);
        }, FuzzRunner.Iterations(400), output);
    }

    [Fact]
    public void BinTokenFilesOpenOrFailTyped()
    {
        string v1 = Path.Combine(_dir, "v1.bin"), v2 = Path.Combine(_dir, "v2.bin");
        DatasetLoader.WriteBin(v1, Enumerable.Range(0, 64).Select(i => i * 7 % VocabSize).ToArray());
        DatasetLoader.WriteBin(v2, Enumerable.Range(0, 16).Select(i => i == 3 ? 70_000 : i).ToArray());
        var corpus = new Corpus("training tokens (.bin)",
        [
            ("llmc-v1.bin", File.ReadAllBytes(v1)),
            ("llmc-v2.bin", File.ReadAllBytes(v2)),
            ("raw-uint16.bin", Enumerable.Range(0, 40).SelectMany(i => BitConverter.GetBytes((ushort)(i * 11))).ToArray()),
        ], [], json: false,
            // The header's fields (magic, version, count) are what a reader trusts: aim integer edits there.
            (seed, plan, others, tokens) => Mutator.Apply(seed, plan, others, tokens, focus: seed.Length > 1024 && plan.Length > 0 ? 16 + (int)(plan[0].Value % 1100) : null));
        string path = Path.Combine(_dir, "data.bin");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            var data = DatasetLoader.Open(path, VocabSize, encode: null, separatorId: 0, validationFraction: 0.1);
            Use(data);
        }, FuzzRunner.Iterations(600), output);
    }

    [Fact]
    public void TextFilesOpenOrFailTyped()
    {
        var tokenizer = Tokenizer.Load(Path.Combine(TestUtil.DataDir, "tiny-tokenizer"));
        var corpus = new Corpus("training text",
        [
            ("plain.txt", "The quick brown fox jumps over the lazy dog.\nSecond line, 12345.\n"u8.ToArray()),
            ("unicode.txt", Encoding.UTF8.GetBytes("Ünïcödé \ud83d\ude00 <｜User｜> 中文 \t\r\n")),
        ], [.. Mutator.JsonTokens, "<｜end▁of▁sentence｜>", "\u0000", "\ufeff"], json: false);
        string path = Path.Combine(_dir, "data.txt");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            bool bytes = input.Plan.Length % 2 == 0;   // UTF-8 bytes (no tokenizer) or the tiny tokenizer
            var data = DatasetLoader.Open(path, bytes ? 256 : tokenizer.VocabSize, bytes ? null : t => tokenizer.Encode(t), tokenizer.EosId, 0.1);
            Use(data);
        }, FuzzRunner.Iterations(200), output);
    }

    private static readonly string[] ChatTokens =
        [.. Mutator.JsonTokens, "\"messages\":", "\"role\":", "\"content\":", "\"assistant\"", "\"user\"", "\"system\"", "\"tool\""];

    [Fact]
    public void ChatJsonlOpensOrFailsTyped()
    {
        var tokenizer = Tokenizer.Load(Path.Combine(TestUtil.DataDir, "tiny-tokenizer"));
        var corpus = new Corpus("chat data (.jsonl)",
        [
            ("chat.jsonl", Encoding.UTF8.GetBytes(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}\n"
                + "\n{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"4\"}]}\n")),
        ], ChatTokens, json: true, MutateLines);
        string path = Path.Combine(_dir, "chat.jsonl");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            var data = ChatDataset.Open(path, tokenizer, tokenizer.VocabSize, validationFraction: 0);
            data.CheckFits(1, 16);
        }, FuzzRunner.Iterations(200), output);
    }

    [Fact]
    public void EvaluationJsonlOpensOrFailsTyped()
    {
        var corpus = new Corpus("evaluation set (.jsonl)",
        [
            ("qa.jsonl", Encoding.UTF8.GetBytes(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Capital of France?\"}], \"references\": [\"Paris\"], \"scoring\": \"exact\", \"kind\": \"geo\"}\n"
                + "{\"messages\": [{\"role\": \"system\", \"content\": \"Short.\"}, {\"role\": \"user\", \"content\": \"2+2?\"}], \"references\": [\"4\", \"four\"]}\n")),
        ], [.. ChatTokens, "\"references\":", "\"scoring\":", "\"exact\""], json: true, MutateLines);
        string path = Path.Combine(_dir, "qa.jsonl");
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            File.WriteAllBytes(path, input.Bytes);
            _ = QaItem.ReadJsonl(path);
        }, FuzzRunner.Iterations(300), output);
    }

    private static void Use(TokenDataset data)
    {
        var cursor = DataCursor.Start(1);
        data.CheckFits(1, 2);
        data.NextBatch(ref cursor, 1, 2, []);
        foreach (var _ in data.ValidationBatches(1, 2, 2)) { }
    }

    // JSONL: a JSON edit goes to one line (chosen by the edit's value), byte edits to the whole file.
    private static byte[] MutateLines(byte[] seed, Mutation[] plan, IReadOnlyList<byte[]> others, IReadOnlyList<string> tokens)
    {
        var lines = Encoding.UTF8.GetString(seed).Split('\n').ToList();
        foreach (var m in plan.Where(m => m.Kind >= 100))
        {
            int line = (int)(m.Value % (uint)lines.Count);
            lines[line] = Encoding.UTF8.GetString(Mutator.Apply(Encoding.UTF8.GetBytes(lines[line]), [m], [], tokens));
        }
        var bytes = Encoding.UTF8.GetBytes(string.Join('\n', lines));
        var bytePlan = plan.Where(m => m.Kind < 100).ToArray();
        return bytePlan.Length == 0 ? bytes : Mutator.Apply(bytes, bytePlan, others, tokens);
    }
}
