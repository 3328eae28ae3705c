using SeekSharp.Inference;
using SeekSharp.Model;
using SeekSharp.Tensors;
using SeekSharp.Tokenization;

namespace SeekSharp.Server;

/// <summary>The model the server answers with: weights, tokenizer, sampling defaults, and the context each request gets.</summary>
public sealed class ServedModel : IDisposable
{
    private ServedModel(string id, DeepSeekModel model, Tokenizer tokenizer, GenerationConfig? defaults, int context, long created)
    {
        Id = id;
        Model = model;
        Tokenizer = tokenizer;
        Defaults = defaults;
        Context = context;
        Created = created;
        EosId = tokenizer.EosId ?? model.Config.EosTokenId ?? -1;
    }

    public string Id { get; }
    public DeepSeekModel Model { get; }
    public Tokenizer Tokenizer { get; }

    /// <summary>The folder's generation_config.json: sampling defaults for parameters a request leaves out.</summary>
    public GenerationConfig? Defaults { get; }

    /// <summary>Positions a request may use, prompt and reply together.</summary>
    public int Context { get; }

    /// <summary>Unix seconds of the checkpoint (GET /v1/models' "created").</summary>
    public long Created { get; }

    public int EosId { get; }

    /// <summary>Loads the tokenizer first (quick, and the likeliest to be missing), then the weights.</summary>
    /// <exception cref="SeekSharpException">The folder holds no usable model or tokenizer.</exception>
    public static ServedModel Load(ServerOptions options, WorkerPool pool, IProgress<ModelLoadProgress>? progress, CancellationToken ct)
    {
        string dir = options.ModelDirectory;
        string tokPath = options.TokenizerPath ?? (File.Exists(Path.Combine(dir, "tokenizer.json")) || ModelPath.IsGguf(dir) ? dir
            : throw new InvalidInputException($"{dir} has no tokenizer.json; pass --tokenizer."));
        var tokenizer = Tokenizer.Load(tokPath);
        if (tokenizer.ChatTemplate is null)
            throw new InvalidInputException($"The tokenizer at {tokPath} has no chat template, so /v1/chat/completions could not render messages.");
        var defaults = GenerationConfig.Load(dir);
        var model = ModelLoader.Load(dir, new ModelLoadOptions { Quantization = options.Quantization, Pool = pool, Progress = progress }, ct);
        try
        {
            if (tokenizer.VocabSize > model.Config.VocabSize)
                throw new InvalidInputException($"The tokenizer has {tokenizer.VocabSize} tokens but the model only {model.Config.VocabSize} embedding rows.");
            int context = options.Context ?? InferenceSession.DefaultContext(model.Config);
            if (context > model.Config.MaxPositionEmbeddings)
                throw new InvalidInputException($"A context of {context} exceeds this model's max_position_embeddings ({model.Config.MaxPositionEmbeddings}).");
            if (options.Speculative == SpeculativeMode.Mtp && model.Mtp.Length == 0)
                throw new InvalidInputException("--speculative mtp needs a model with an MTP module (num_nextn_predict_layers ≥ 1).");
            string id = options.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            long created = new DateTimeOffset(Directory.GetLastWriteTimeUtc(dir)).ToUnixTimeSeconds();
            return new ServedModel(id, model, tokenizer, defaults, context, created);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public void Dispose() => Model.Dispose();
}
