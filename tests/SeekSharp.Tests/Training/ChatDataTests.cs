using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tests.Golden;
using SeekSharp.Tokenization;
using SeekSharp.Training;
using SeekSharp.Training.Data;
using Xunit;

namespace SeekSharp.Tests.Training;

/// <summary>Chat fine-tuning data: the template rendering, the assistant-only loss mask, packing, and the masked loss.</summary>
public class ChatDataTests
{
    private static Tokenizer Tok => Inference.TinyChatModel.Tokenizer;
    private const string Eos = "<｜end▁of▁sentence｜>";

    private static readonly ChatMessage[] Conversation =
    [
        ChatMessage.System("Be brief."),
        ChatMessage.User("What does dog mean?"),
        ChatMessage.Assistant("A domestic animal."),
        ChatMessage.User("And cat?"),
        ChatMessage.Assistant("Another pet."),
    ];

    /// <summary>The masked tokens, as runs of consecutive positions, decoded.</summary>
    private static List<string> MaskedSpans(ChatExample e)
    {
        var spans = new List<string>();
        for (int t = 0; t < e.Ids.Length; t++)
        {
            if (e.TargetMask[t] == 0 || (t > 0 && e.TargetMask[t - 1] != 0)) continue;
            int end = t;
            while (end < e.Ids.Length && e.TargetMask[end] != 0) end++;
            spans.Add(Tok.Decode(e.Ids.AsSpan(t, end - t)));
        }
        return spans;
    }

    [Fact]
    public void OnlyTheAssistantRepliesAndTheirEndMarkersAreTargets()
    {
        var e = ChatExample.Render(Tok, Conversation);
        Assert.Equal(Tok.EncodeChat(Conversation, addGenerationPrompt: false), e.Ids);
        Assert.Equal(["A domestic animal." + Eos, "Another pet." + Eos], MaskedSpans(e));
        // Everything else (BOS, the system prompt, the user's words, the role markers) is context only.
        var unmasked = Tok.Decode(e.Ids.Where((_, t) => e.TargetMask[t] == 0).ToArray());
        Assert.Contains("What does dog mean?", unmasked);
        Assert.Contains("Be brief.", unmasked);
        Assert.DoesNotContain("animal", unmasked);
        Assert.Equal(0, e.TargetMask[0]);
    }

    [Fact]
    public void AConversationWithoutAReplyOrATemplateIsAClearError()
    {
        var e = Assert.Throws<InvalidInputException>(() => ChatExample.Render(Tok, [ChatMessage.User("hi")]));
        Assert.Contains("no assistant message", e.Message);
        // The same tokenizer without its chat_template.
        var dir = Directory.CreateTempSubdirectory("seeksharp-notemplate-").FullName;
        try
        {
            var src = Path.Combine(TestUtil.DataDir, "tiny-tokenizer");
            File.Copy(Path.Combine(src, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(src, "tokenizer_config.json")))!.AsObject();
            config.Remove("chat_template");
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
            var noTemplate = Assert.Throws<InvalidInputException>(() => ChatExample.Render(Tokenizer.Load(dir), Conversation));
            Assert.Contains("no chat template", noTemplate.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static ChatExample Example(int length, int firstId)
    {
        var ids = Enumerable.Range(firstId, length).ToArray();
        var mask = ids.Select((_, i) => (byte)(i >= length / 2 ? 1 : 0)).ToArray();
        return new ChatExample { Ids = ids, TargetMask = mask };
    }

    [Fact]
    public void PackingKeepsConversationsWholeAndPadsWithNonTargets()
    {
        // seq_len 10: [5 + 4] + pad, [7] + pad, [cut 12 → 10], [3]+pad.
        var data = new ChatDataset([Example(5, 10), Example(4, 20), Example(7, 30), Example(12, 50), Example(3, 70)], 0, 100, padId: 2, "test");
        Assert.Equal(1, data.Truncated(10));
        var rows = new HashSet<string>();
        var cursor = DataCursor.Start(3);
        var tokens = new List<int>();
        var mask = new List<byte>();
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(new BatchLayout(2, 10), data.NextBatch(ref cursor, 2, 10, tokens, mask));
            Assert.Equal(20, tokens.Count);
            Assert.Equal(20, mask.Count);
            for (int b = 0; b < 2; b++)
            {
                var row = tokens.Skip(10 * b).Take(10).ToArray();
                var rowMask = mask.Skip(10 * b).Take(10).ToArray();
                for (int t = 0; t < 10; t++) if (row[t] == 2) Assert.Equal(0, rowMask[t]);
                rows.Add(string.Join(",", row));
            }
        }
        Assert.Equal(
        [
            "10,11,12,13,14,20,21,22,23,2",
            "30,31,32,33,34,35,36,2,2,2",
            "50,51,52,53,54,55,56,57,58,59",
            "70,71,72,2,2,2,2,2,2,2",
        ], rows.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheMaskedLossIsTheMeanCrossEntropyOfTheAssistantTokens()
    {
        var g = new GoldenCase("v3_yarn_f32");
        var model = ModelLoader.Load(g.Dir);
        using var pool = new WorkerPool(2);
        var ctx = new ForwardContext(pool) { SaveActivations = true };
        var state = model.CreateState();
        var e = ChatExample.Render(Tok, Conversation);
        int t = Math.Min(e.Ids.Length, 48);
        var tokens = e.Ids[..t];
        var mask = e.TargetMask[..t];
        Assert.Contains((byte)1, mask);
        model.Forward(ctx, tokens, new BatchLayout(1, t), state, new ForwardRequest { RunMtp = true });
        var weights = new LossWeights { MtpLambda = 0.3, BalanceAlpha = 0 };
        var (loss, grads) = TrainingLoss.Compute(ctx, model, state, weights, targetMask: mask);

        // By hand: mean over positions i whose next token is a target of −log softmax(logits[i])[tokens[i+1]].
        double sum = 0;
        int n = 0;
        var dRef = new float[model.Config.VocabSize];
        for (int i = 0; i + 1 < t; i++)
        {
            var row = state.Logits.Row(i);
            var gradRow = grads.DLogits.Row(i).ToArray();
            if (mask[i + 1] == 0) { Assert.All(gradRow, v => Assert.Equal(0f, v)); continue; }
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double z = 0;
            foreach (var v in row) z += Math.Exp(v - max);
            sum += max + Math.Log(z) - row[tokens[i + 1]];
            n++;
        }
        int scored = mask.Skip(1).Count(m => m != 0);
        Assert.Equal(scored, n);
        Assert.Equal(scored, loss.Tokens);
        Assert.Equal(sum / n, loss.Main, 5);

        // A scored row's gradient is (softmax − one-hot) / n.
        int first = Array.FindIndex(mask, 1, m => m != 0) - 1;
        var x = state.Logits.Row(first).ToArray();
        double mx = x.Max(), zz = x.Sum(v => Math.Exp(v - mx));
        for (int j = 0; j < x.Length; j++) dRef[j] = (float)((Math.Exp(x[j] - mx) / zz - (j == tokens[first + 1] ? 1 : 0)) / n);
        TestUtil.AssertClose(grads.DLogits.Row(first), dRef, 1e-5, "masked dLogits");

        // MTP depth 1: row i predicts tokens[i + 2], scored only when that token is a target.
        for (int i = 0; i + 2 < t; i++)
            if (mask[i + 2] == 0) Assert.All(grads.DMtpLogits[0].Row(i).ToArray(), v => Assert.Equal(0f, v));

        // Without a mask, every next token counts (the pretraining objective is unchanged).
        var (all, _) = TrainingLoss.Compute(ctx, model, state, weights, computeGradients: false);
        Assert.Equal(t - 1, all.Tokens);
    }
}
