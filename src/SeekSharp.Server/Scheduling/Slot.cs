using SeekSharp.Inference;
using SeekSharp.Inference.Structured;
using SeekSharp.Tokenization;

namespace SeekSharp.Server.Scheduling;

/// <summary>
/// A request while it holds one of the scheduler's slots: its sequence (its latent cache), where its prefill stands,
/// and its own sampler, streaming decoder and stop matcher. Only the scheduler thread touches it.
/// </summary>
internal sealed class Slot
{
    public Slot(GenerationJob job, Sequence sequence, int cachedTokens, int allowedVocab, Tokenizer tokenizer)
    {
        Job = job;
        Sequence = sequence;
        CachedTokens = cachedTokens;
        Cursor = cachedTokens;
        Sampler = new Sampler(job.Parameters.Sampling, allowedVocab);
        Decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: true);
        Stops = new StopStringMatcher(job.Parameters.StopStrings);
        History = new List<int>(job.Prompt.Length + Math.Min(job.Parameters.MaxTokens, 4096));
        History.AddRange(job.Prompt);
        if (job.Parameters.Json is { } grammar) Constraint = new JsonConstraint(grammar, tokenizer);
    }

    public GenerationJob Job { get; }
    public Sequence Sequence { get; }
    public int CachedTokens { get; }
    public Sampler Sampler { get; }
    public StreamingDecoder Decoder { get; }
    public StopStringMatcher Stops { get; }

    /// <summary>Structured output: what the next token may be; null for free text.</summary>
    public JsonConstraint? Constraint { get; }

    /// <summary>Structured output: this step's logits with the disallowed tokens masked ([vocab], made on first use).</summary>
    public float[] Masked { get; private set; } = [];

    /// <summary>The logits a constrained slot samples from: a copy of <paramref name="logits"/>, masked.</summary>
    public ReadOnlySpan<float> Constrain(ReadOnlySpan<float> logits)
    {
        if (Constraint is null) return logits;
        if (Masked.Length != logits.Length) Masked = new float[logits.Length];
        logits.CopyTo(Masked);
        int left = Math.Min(Job.Parameters.MaxTokens - Generated, Sequence.Capacity - Sequence.Length);
        Constraint.Mask(Masked, Math.Max(1, left));
        return Masked;
    }

    /// <summary>The prompt and the tokens generated so far (the penalties' window reads its end).</summary>
    public List<int> History { get; }

    /// <summary>Prompt tokens in the cache; the slot prefills until it reaches the prompt's length.</summary>
    public int Cursor { get; set; }

    public bool Prefilling => Cursor < Job.Prompt.Length;

    /// <summary>Tokens generated (end of sequence not counted).</summary>
    public int Generated { get; set; }

    /// <summary>The token sampled last, fed at the next step.</summary>
    public int NextToken { get; set; }

    /// <summary>The one-token input of a decode step (reused).</summary>
    public int[] One { get; } = new int[1];

    /// <summary>With MTP speculation: [next token, draft], verified together in one step.</summary>
    public int[] Pair { get; } = new int[2];

    /// <summary>Whether the current step verifies a draft for this slot.</summary>
    public bool Speculating { get; set; }

    /// <summary>Sampling with speculation: the main model's distribution p and the draft's q ([vocab], made on first use).</summary>
    public float[] P { get; private set; } = [];
    public float[] Q { get; private set; } = [];

    public void EnsureDistributions(int vocab)
    {
        if (P.Length != vocab) (P, Q) = (new float[vocab], new float[vocab]);
    }

    /// <summary>Tokens this slot put into the current step.</summary>
    public int StepTokens { get; set; }

    public bool FirstTokenSeen { get; set; }
    public bool Done { get; set; }

    public UsageCounts Usage => new(Job.Prompt.Length, CachedTokens, Generated);
}
