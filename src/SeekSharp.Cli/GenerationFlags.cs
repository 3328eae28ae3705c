using System.CommandLine;
using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary>The model, sampling and speed flags generate and chat share.</summary>
internal sealed class GenerationFlags
{
    public readonly Option<string?> Model = new("--model") { Description = CliCommon.ModelFolderHelp };
    public readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "Tokenizer folder or file, when the model folder has none." };
    public readonly Option<int?> MaxTokens = new("--max-tokens") { Description = "Most tokens to generate per reply (default: the model's generation_config.json, else 512)." };
    public readonly Option<float?> Temperature = new("--temperature") { Description = "0 = greedy (default: the model's generation_config.json, else 0.6 as DeepSeek-V3's)." };
    public readonly Option<int?> TopK = new("--top-k") { Description = "Keep the k most likely tokens; 0 = off (default: generation_config.json, else off)." };
    public readonly Option<float?> TopP = new("--top-p") { Description = "Nucleus sampling (default: generation_config.json, else 0.95)." };
    public readonly Option<float> MinP = new("--min-p") { Description = "Drop tokens below min-p × the top probability; 0 = off.", DefaultValueFactory = _ => 0 };
    public readonly Option<float?> RepeatPenalty = new("--repeat-penalty") { Description = "CTRL-style repetition penalty; 1 = off (default: generation_config.json, else off)." };
    public readonly Option<float> PresencePenalty = new("--presence-penalty") { Description = "OpenAI-style presence penalty.", DefaultValueFactory = _ => 0 };
    public readonly Option<float> FrequencyPenalty = new("--frequency-penalty") { Description = "OpenAI-style frequency penalty.", DefaultValueFactory = _ => 0 };
    public readonly Option<ulong?> Seed = new("--seed") { Description = "Sampling seed (same seed, same text)." };
    public readonly Option<string[]> Stop = new("--stop") { Description = "Stop when this text appears (repeatable).", AllowMultipleArgumentsPerToken = false };
    public readonly Option<string> Speculative = new("--speculative") { Description = "mtp: draft with the MTP module and verify (needs one); off: plain decoding.", DefaultValueFactory = _ => "off" };
    public readonly Option<int?> Context = new("--context") { Description = "KV-cache positions to allocate (default 4096, or the model's maximum if smaller)." };
    public readonly Option<string?> Quantize = new("--quantize") { Description = "Quantise the weights on load: q8 or q4." };
    public readonly Option<int> Threads = CliCommon.ThreadsOption();

    public GenerationFlags()
    {
        Speculative.AcceptOnlyFromAmong("mtp", "off");
        Quantize.AcceptOnlyFromAmong("q8", "q4");
    }

    public IEnumerable<Option> All() =>
    [
        Model, Tokenizer, MaxTokens, Temperature, TopK, TopP, MinP, RepeatPenalty, PresencePenalty, FrequencyPenalty, Seed, Stop,
        Speculative, Context, Quantize, Threads,
    ];

    /// <summary>The flags, with the model's generation_config.json (<paramref name="defaults"/>) for those not given.</summary>
    public GenerationOptions Options(ParseResult r, GenerationConfig? defaults) => new()
    {
        MaxTokens = r.GetValue(MaxTokens) ?? defaults?.MaxNewTokens ?? 512,
        Sampling = new SamplingOptions
        {
            Temperature = r.GetValue(Temperature) ?? defaults?.Temperature ?? new SamplingOptions().Temperature,
            TopK = r.GetValue(TopK) ?? defaults?.TopK ?? 0,
            TopP = r.GetValue(TopP) ?? defaults?.TopP ?? new SamplingOptions().TopP,
            MinP = r.GetValue(MinP),
            RepetitionPenalty = r.GetValue(RepeatPenalty) ?? defaults?.RepetitionPenalty ?? 1,
            PresencePenalty = r.GetValue(PresencePenalty),
            FrequencyPenalty = r.GetValue(FrequencyPenalty),
            Seed = r.GetValue(Seed),
        },
        StopStrings = r.GetValue(Stop) ?? [],
        Speculative = r.GetValue(Speculative) == "mtp" ? SpeculativeMode.Mtp : SpeculativeMode.Off,
    };

    /// <summary>
    /// Loads the model and its tokenizer and opens a session (the default model when --model is absent and allowed);
    /// the generation options are the flags over the model's generation_config.json.
    /// </summary>
    public (Generator Generator, Tokenizer Tokenizer, GenerationOptions Options) Open(ParseResult r, WorkerPool pool, TextWriter stderr, bool allowDefault)
    {
        string dir = r.GetValue(Model) is { } given ? ModelPath.Resolve(given)
            : allowDefault ? DefaultModel.Locate() : throw new UsageException("--model is required.");
        var options = Options(r, GenerationConfig.Load(dir));
        var tokPath = r.GetValue(Tokenizer) ?? (File.Exists(Path.Combine(dir, "tokenizer.json")) || ModelPath.IsGguf(dir) ? dir
            : throw new InvalidInputException($"{dir} has no tokenizer.json; pass --tokenizer."));
        var tokenizer = SeekSharp.Tokenization.Tokenizer.Load(tokPath);
        var model = CliCommon.LoadModel(dir, stderr, new ModelLoadOptions { Quantization = ParseQuantization(r.GetValue(Quantize)), Pool = pool });
        int context = r.GetValue(Context) ?? InferenceSession.DefaultContext(model.Config);
        var session = new InferenceSession(model, context, pool);
        stderr.WriteLine($"context {context} positions, KV cache {session.Cache.Bytes / (1024.0 * 1024):F1} MiB");
        return (new Generator(session, tokenizer), tokenizer, options);
    }

    private static SeekSharp.Tensors.Quantization.QuantType? ParseQuantization(string? q) => q switch
    {
        "q8" => SeekSharp.Tensors.Quantization.QuantType.Q8_0,
        "q4" => SeekSharp.Tensors.Quantization.QuantType.Q4_0,
        _ => null,
    };
}

/// <summary>
/// Where the shipped default model lives: $SEEKSHARP_MODEL when it is set (and then only there; a model folder or a
/// training run, as --model takes), else ./models/default, else models/default in a folder above the tool (a checkout
/// running its own build).
/// </summary>
internal static class DefaultModel
{
    public const string Variable = "SEEKSHARP_MODEL";

    public static string Locate()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } env)
        {
            try { return ModelPath.Resolve(env); }
            catch (CheckpointException e) { throw new InvalidInputException($"{Variable} is {env}, which holds no model ({e.Message}); fix it or pass --model DIR.", e); }
        }
        var candidates = new List<string> { Path.Combine(Environment.CurrentDirectory, "models", "default") };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            candidates.Add(Path.Combine(dir.FullName, "models", "default"));
        foreach (var c in candidates)
            if (File.Exists(Path.Combine(c, "config.json"))) return c;
        throw new InvalidInputException($"No default model found (models/default or ${Variable}); pass --model DIR.");
    }
}
