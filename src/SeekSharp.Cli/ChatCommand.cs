using System.CommandLine;
using SeekSharp.Inference;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli;

/// <summary>
/// <c>seeksharp chat</c>: a conversation in the terminal. Replies stream as they are generated; the history is rendered
/// with the model's chat template every turn and the cache reuses the shared prefix. /reset, /system TEXT, /exit.
/// Ctrl+C stops the current reply (at the prompt, it exits). When the conversation outgrows the context, the oldest
/// turns are dropped (the system prompt stays).
/// </summary>
internal static class ChatCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var flags = new GenerationFlags();
        var system = new Option<string?>("--system") { Description = "System prompt." };
        var command = new Command("chat", "Chat with a model (the shipped default model when --model is not given).") { system };
        foreach (var o in flags.All()) command.Options.Add(o);
        command.SetAction(r => CliRunner.Guard(stderr, () =>
        {
            var ct = CancellationToken.None;   // Ctrl+C stops the reply in progress (below), at the prompt it ends the program
            using var pool = CliCommon.Pool(r.GetValue(flags.Threads));
            var (generator, tokenizer, options) = flags.Open(r, pool, stderr, allowDefault: true);
            if (tokenizer.ChatTemplate is null) throw new InvalidInputException("The tokenizer has no chat template; use 'seeksharp generate' instead.");
            var input = stdin;
            var conversation = new Conversation(r.GetValue(system));
            CancellationTokenSource? reply = null;
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (reply is { IsCancellationRequested: false }) { e.Cancel = true; reply.Cancel(); }
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                stderr.WriteLine("chat: type a message; /reset, /system TEXT, /exit");
                while (!ct.IsCancellationRequested)
                {
                    stdout.Write("> ");
                    stdout.Flush();
                    var line = input.ReadLine();
                    if (line is null) break;
                    line = line.Trim();
                    if (line.Length == 0) continue;
                    if (line == "/exit" || line == "/quit") break;
                    if (line == "/reset") { conversation.Reset(); stderr.WriteLine("(conversation cleared)"); continue; }
                    if (line.StartsWith("/system", StringComparison.Ordinal))
                    {
                        conversation.SetSystem(line["/system".Length..].Trim());
                        stderr.WriteLine("(system prompt set; conversation cleared)");
                        continue;
                    }
                    if (line.StartsWith('/')) { stderr.WriteLine($"unknown command {line.Split(' ')[0]}: /reset, /system TEXT, /exit"); continue; }
                    conversation.AddUser(line);
                    reply = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    var text = new System.Text.StringBuilder();
                    var stats = new GenerationStats();
                    try
                    {
                        var prompt = conversation.Render(tokenizer, generator.Session.ContextLength, options.MaxTokens);
                        foreach (var piece in generator.Generate(prompt, options, stats, reply.Token))
                        {
                            stdout.Write(piece);
                            stdout.Flush();
                            text.Append(piece);
                        }
                    }
                    catch (SeekSharpException e)
                    {
                        stderr.WriteLine($"error: {e.Message}");
                        conversation.DropLastUser();
                        continue;
                    }
                    stdout.WriteLine();
                    conversation.AddAssistant(text.ToString());
                    stderr.WriteLine($"[{stats}]");
                    reply.Dispose();
                    reply = null;
                }
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            return CliRunner.Ok;
        }));
        return command;
    }
}

/// <summary>The messages of a chat, rendered through the tokenizer's template, trimmed to fit the context.</summary>
internal sealed class Conversation(string? system)
{
    private readonly List<ChatMessage> _turns = new();
    private string? _system = system;

    public void Reset() => _turns.Clear();
    public void SetSystem(string text) { _system = text.Length == 0 ? null : text; _turns.Clear(); }
    public void AddUser(string text) => _turns.Add(ChatMessage.User(text));
    public void AddAssistant(string text) => _turns.Add(ChatMessage.Assistant(text));
    public void DropLastUser() { if (_turns.Count > 0 && _turns[^1].Role == "user") _turns.RemoveAt(_turns.Count - 1); }

    /// <summary>The prompt ids; drops the oldest user/assistant pairs until the prompt and a reply of <paramref name="replyRoom"/> fit.</summary>
    public int[] Render(Tokenizer tokenizer, int context, int replyRoom)
    {
        while (true)
        {
            var messages = new List<ChatMessage>();
            if (_system is not null) messages.Add(ChatMessage.System(_system));
            messages.AddRange(_turns);
            var ids = tokenizer.EncodeChat(messages, addGenerationPrompt: true);
            if (ids.Length + Math.Min(replyRoom, context / 2) <= context || _turns.Count <= 1)
            {
                if (ids.Length >= context) throw new ContextFullException(context, ids.Length + 1);
                return ids;
            }
            _turns.RemoveRange(0, Math.Min(2, _turns.Count - 1));   // the oldest exchange
        }
    }
}
