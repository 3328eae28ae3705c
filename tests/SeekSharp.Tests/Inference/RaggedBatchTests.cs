using SeekSharp.Inference;
using SeekSharp.Model;
using Xunit;

namespace SeekSharp.Tests.Inference;

/// <summary>
/// Several sequences in one forward (a ragged batch: each of its own length, at its own position, with its own cache)
/// give each sequence the logits it gets alone, for prefill, decode and mixes; a fork from a cached prefix equals the
/// sequence computed from scratch; batched MTP drafts equal single ones.
/// </summary>
public class RaggedBatchTests
{
    private const double Tolerance = 1e-6;
    private static DeepSeekModel Model => TinyChatModel.Model;
    private static readonly int[] Text = Enumerable.Range(0, 40).Select(i => (i * 37 + 11) % 500).ToArray();

    private static int[] Tokens(int seed, int count) => Enumerable.Range(0, count).Select(i => Text[(seed * 7 + i) % Text.Length]).ToArray();

    // Logits of every position of `tokens` fed to a fresh sequence in the given chunks.
    private static float[][] Alone(int[] tokens, params int[] chunks)
    {
        var engine = new DecodeEngine(Model, TinyChatModel.Pool);
        var seq = engine.NewSequence(64);
        var rows = new List<float[]>();
        int at = 0;
        foreach (int c in chunks)
        {
            engine.Step([new DecodeInput(seq, tokens.AsMemory(at, c), AllLogits: true)]);
            for (int r = 0; r < c; r++) rows.Add(engine.Logits(0, r).ToArray());
            at += c;
        }
        return rows.ToArray();
    }

    [Fact]
    public void PrefillOfSequencesOfDifferentLengthsInOneForwardEqualsEachAlone()
    {
        var engine = new DecodeEngine(Model, TinyChatModel.Pool);
        int[] lengths = [5, 9, 3];
        var prompts = lengths.Select((n, i) => Tokens(i, n)).ToArray();
        var seqs = lengths.Select(_ => engine.NewSequence(64)).ToArray();
        engine.Step(seqs.Select((s, i) => new DecodeInput(s, prompts[i], AllLogits: true)).ToArray());
        for (int i = 0; i < seqs.Length; i++)
        {
            var alone = Alone(prompts[i], prompts[i].Length);
            for (int r = 0; r < lengths[i]; r++)
                TestUtil.AssertClose(engine.Logits(i, r), alone[r], Tolerance, $"sequence {i} row {r}");
            Assert.Equal(lengths[i], seqs[i].Length);
            Assert.Equal(prompts[i], seqs[i].Tokens);
        }
    }

    [Fact]
    public void DecodingSeveralSequencesTogetherAndMixingPrefillWithDecodeEqualsEachAlone()
    {
        var engine = new DecodeEngine(Model, TinyChatModel.Pool);
        var a = Tokens(1, 12); var b = Tokens(2, 12); var c = Tokens(3, 12);
        var sa = engine.NewSequence(64); var sb = engine.NewSequence(64); var sc = engine.NewSequence(64);
        // Step 1: a and b prefill (4 and 7 tokens); step 2: a and b decode one token each while c prefills 6;
        // steps 3-5: all three decode one token each.
        engine.Step([new DecodeInput(sa, a.AsMemory(0, 4)), new DecodeInput(sb, b.AsMemory(0, 7))]);
        engine.Step([new DecodeInput(sa, a.AsMemory(4, 1)), new DecodeInput(sc, c.AsMemory(0, 6), AllLogits: true), new DecodeInput(sb, b.AsMemory(7, 1))]);
        var mixed = new[] { engine.Logits(0).ToArray(), engine.Logits(1, 2).ToArray(), engine.Logits(1).ToArray(), engine.Logits(2).ToArray() };
        var decoded = new List<float[][]>();
        for (int step = 0; step < 3; step++)
        {
            engine.Step([new DecodeInput(sa, a.AsMemory(5 + step, 1)), new DecodeInput(sb, b.AsMemory(8 + step, 1)), new DecodeInput(sc, c.AsMemory(6 + step, 1))]);
            decoded.Add([engine.Logits(0).ToArray(), engine.Logits(1).ToArray(), engine.Logits(2).ToArray()]);
        }
        var aloneA = Alone(a, 4, 1, 1, 1, 1);
        var aloneB = Alone(b, 7, 1, 1, 1, 1);
        var aloneC = Alone(c, 6, 1, 1, 1);
        TestUtil.AssertClose(mixed[0], aloneA[4], Tolerance, "a decoding beside a prefill");
        TestUtil.AssertClose(mixed[1], aloneC[2], Tolerance, "c's prefill row 2 beside two decodes");
        TestUtil.AssertClose(mixed[2], aloneC[5], Tolerance, "c's prefill last row");
        TestUtil.AssertClose(mixed[3], aloneB[7], Tolerance, "b decoding beside a prefill");
        for (int step = 0; step < 3; step++)
        {
            TestUtil.AssertClose(decoded[step][0], aloneA[5 + step], Tolerance, $"a decode {step}");
            TestUtil.AssertClose(decoded[step][1], aloneB[8 + step], Tolerance, $"b decode {step}");
            TestUtil.AssertClose(decoded[step][2], aloneC[6 + step], Tolerance, $"c decode {step}");
        }
    }

    [Fact]
    public void ASequenceForkedFromACachedPrefixEqualsOneComputedFromScratch()
    {
        var engine = new DecodeEngine(Model, TinyChatModel.Pool);
        var shared = Tokens(4, 10);                       // a system prompt
        var source = engine.NewSequence(64);
        engine.Step([new DecodeInput(source, shared)]);
        var tail = Tokens(5, 6);
        var fork = engine.Fork(source, 8);                 // the first 8 tokens, copied, not recomputed
        Assert.Equal(8, fork.Length);
        Assert.Equal(shared.Take(8), fork.Tokens);
        engine.Step([new DecodeInput(fork, tail.AsMemory(0, 4), AllLogits: true)]);
        var forked = Enumerable.Range(0, 4).Select(r => engine.Logits(0, r).ToArray()).ToArray();
        engine.Step([new DecodeInput(fork, tail.AsMemory(4, 1))]);
        var next = engine.Logits(0).ToArray();
        var scratch = Alone([.. shared.Take(8), .. tail], 12, 1);
        for (int r = 0; r < 4; r++) TestUtil.AssertClose(forked[r], scratch[8 + r], Tolerance, $"forked row {r}");
        TestUtil.AssertClose(next, scratch[12], Tolerance, "decoding after the fork");
        Assert.Equal(10, source.Length);                   // the source is untouched
    }

    [Fact]
    public void BatchedMtpDraftsEqualSingleDrafts()
    {
        var engine = new DecodeEngine(Model, TinyChatModel.Pool);
        var a = Tokens(6, 7); var b = Tokens(7, 4);
        var sa = engine.NewSequence(64); var sb = engine.NewSequence(64);
        engine.Step([new DecodeInput(sa, a), new DecodeInput(sb, b)]);
        var both = engine.Draft([new DraftInput(sa, 3), new DraftInput(sb, 9)]);
        var draftA = both.Row(0).ToArray(); var draftB = both.Row(1).ToArray();
        foreach (var (tokens, next, batched) in new[] { (a, 3, draftA), (b, 9, draftB) })
        {
            var single = new DecodeEngine(Model, TinyChatModel.Pool);
            var s = single.NewSequence(64);
            single.Step([new DecodeInput(s, tokens)]);
            // A draft stacks the main model and the MTP block, each rounding a little differently when its matmuls see
            // other rows beside this sequence's (experts multiply the tokens routed to them together): twice the tolerance.
            TestUtil.AssertClose(batched, single.Draft([new DraftInput(s, next)]).Row(0), 2 * Tolerance, "draft");
        }
    }

    [Fact]
    public void BadStepsAreRefusedWithClearErrors()
    {
        var engine = new DecodeEngine(Model, TinyChatModel.Pool);
        var s = engine.NewSequence(4);
        var twice = Assert.Throws<InvalidInputException>(() => engine.Step([new DecodeInput(s, new[] { 1 }), new DecodeInput(s, new[] { 2 })]));
        Assert.Contains("same cache", twice.Message);
        Assert.Throws<ContextFullException>(() => engine.Step([new DecodeInput(s, new[] { 1, 2, 3, 4, 5 })]));
        Assert.Throws<InvalidInputException>(() => engine.Step([new DecodeInput(s, Array.Empty<int>())]));
        Assert.Equal(0, s.Length);
    }
}
