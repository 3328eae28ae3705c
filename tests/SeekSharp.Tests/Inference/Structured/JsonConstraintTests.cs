using System.Text.Json;
using SeekSharp.Inference;
using SeekSharp.Inference.Structured;
using SeekSharp.Tokenization;
using Xunit;

namespace SeekSharp.Tests.Inference.Structured;

/// <summary>
/// Sampling random logits through a <see cref="JsonConstraint"/> over the tiny tokenizer's vocabulary: whatever the
/// draw, the decoded text parses, validates against the schema, and is complete within the token limit.
/// </summary>
public class JsonConstraintTests
{
    private static readonly Lazy<Tokenizer> s_tokenizer = new(() => Tokenizer.Load(Path.Combine(TestUtil.DataDir, "tiny-tokenizer")));

    private static (string Text, bool Complete, int Tokens) Generate(JsonGrammar grammar, ulong seed, int maxTokens)
    {
        var tok = s_tokenizer.Value;
        var constraint = new JsonConstraint(grammar, tok);
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1, Seed = seed }, tok.VocabSize);
        var rng = new Random((int)seed);
        var logits = new float[tok.VocabSize];
        var ids = new List<int>();
        for (int i = 0; i < maxTokens && !constraint.IsComplete; i++)
        {
            for (int j = 0; j < logits.Length; j++) logits[j] = (float)(rng.NextDouble() * 4);
            constraint.Mask(logits, maxTokens - i);
            int t = sampler.Sample(logits, []);
            if (t == tok.EosId) break;
            constraint.Accept(t);
            ids.Add(t);
        }
        return (tok.Decode(ids.ToArray()), constraint.State.CanStop, ids.Count);
    }

    [Theory]   // the schema's shortest text is 91 bytes: the limits leave room for it one byte per token
    [InlineData(1UL, 100)]
    [InlineData(2UL, 120)]
    [InlineData(3UL, 200)]
    [InlineData(4UL, 400)]
    public void RandomSamplingUnderTheSchemaAlwaysGivesValidJson(ulong seed, int maxTokens)
    {
        var schema = JsonDocument.Parse(JsonGrammarTests.PersonSchema).RootElement;
        var (text, complete, tokens) = Generate(JsonGrammar.FromSchema(schema), seed, maxTokens);
        Assert.True(complete, $"incomplete after {tokens} tokens: {text}");
        Assert.True(tokens <= maxTokens);
        using var doc = JsonDocument.Parse(text);
        Assert.Null(JsonSchemaValidator.Validate(doc.RootElement, schema));
    }

    [Theory]
    [InlineData(5UL)]
    [InlineData(6UL)]
    [InlineData(7UL)]
    public void RandomSamplingUnderJsonObjectGivesAnObject(ulong seed)
    {
        var (text, complete, _) = Generate(JsonGrammar.AnyObject(), seed, 100);
        Assert.True(complete, text);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
    }

    [Fact]
    public void EndOfSequenceIsMaskedUntilTheJsonIsComplete()
    {
        var tok = s_tokenizer.Value;
        var constraint = new JsonConstraint(JsonGrammar.AnyObject(), tok);
        var logits = new float[tok.VocabSize];
        constraint.Mask(logits);
        Assert.True(float.IsNegativeInfinity(logits[tok.EosId!.Value]));
        int open = tok.Encode("{")[0];
        Assert.False(float.IsNegativeInfinity(logits[open]));
        foreach (int t in tok.Encode("{}")) constraint.Accept(t);
        Assert.True(constraint.IsComplete);
        Array.Clear(logits);
        constraint.Mask(logits);
        Assert.Equal(1, logits.Count(x => !float.IsNegativeInfinity(x)));
        Assert.False(float.IsNegativeInfinity(logits[tok.EosId!.Value]));
        Assert.Throws<StructuredOutputException>(() => constraint.Accept(open));
    }
}
