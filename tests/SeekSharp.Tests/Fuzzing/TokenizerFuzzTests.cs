using System.Text;
using System.Text.Json;
using CsCheck;
using SeekSharp.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Fuzzing;

/// <summary>
/// Mutated tokenizer.json and tokenizer_config.json files, and mutated or random chat templates: each loads (and
/// encodes, decodes, renders) or fails with a <see cref="TokenizerException"/>, never a raw exception, a runaway loop or
/// unbounded output (docs/reliability.md).
/// </summary>
public sealed class TokenizerFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seeksharp-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Tiny => Path.Combine(TestUtil.DataDir, "tiny-tokenizer");

    internal static readonly IReadOnlyList<ChatMessage> Conversation =
    [
        new("system", "Be brief."),
        new("user", "Hello <｜User｜> 123"),
        new("assistant", "Hi!"),
        new("user", "And {{ this }}?"),
    ];

    [Fact]
    public void TokenizerFoldersLoadOrFailTyped()
    {
        var seeds = new List<(string, byte[])>
        {
            Corpus.File(Path.Combine(Tiny, "tokenizer.json")),
            Corpus.File(Path.Combine(Tiny, "tokenizer_config.json")),
            Corpus.File(Path.Combine(TestUtil.DataDir, "tokenizer", "deepseek-v3", "tokenizer_config.json")),
        };
        var corpus = new Corpus("tokenizer", seeds,
            [.. Mutator.JsonTokens, "\"added_tokens\":", "\"merges\":", "\"vocab\":", "\"pre_tokenizer\":", "\"Sequence\"", "\"Split\"", "\"ByteLevel\""], json: true);
        var tinyJson = File.ReadAllBytes(Path.Combine(Tiny, "tokenizer.json"));
        var tinyConfig = File.ReadAllBytes(Path.Combine(Tiny, "tokenizer_config.json"));
        FuzzRunner.Run(corpus.Format, corpus.Gen(), input =>
        {
            bool json = input.SeedIndex == 0;
            File.WriteAllBytes(Path.Combine(_dir, "tokenizer.json"), json ? input.Bytes : tinyJson);
            File.WriteAllBytes(Path.Combine(_dir, "tokenizer_config.json"), json ? tinyConfig : input.Bytes);
            var tokenizer = Tokenizer.Load(_dir);
            var ids = tokenizer.Encode("Hello, world! <｜User｜> 12345 \u00e9\ud83d\ude00", addBos: tokenizer.AddBosToken);
            _ = tokenizer.Decode(ids);
            if (tokenizer.ChatTemplate is { } template)
                _ = template.Render(Conversation, addGenerationPrompt: true);
        }, FuzzRunner.Iterations(200), output);
    }

    /// <summary>Jinja tags, expressions and traps: loops, recursion, repetition and deep nesting.</summary>
    private static readonly string[] JinjaTokens =
    [
        "{%", "%}", "{{", "}}", "{#", "#}", "{%-", "-%}", "{% for m in messages %}", "{% endfor %}", "{% if x %}", "{% else %}", "{% endif %}",
        "{% set x = 1 %}", "{% macro f(a) %}{{ f(a) }}{% endmacro %}{{ f(1) }}", "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{{ 'ab' * 2147483647 }}", "{{ [1] * 1000000000 }}", "{{ 'a' * 100000 * 100000 }}", "{{ messages * 100000 }}", "{{ range(2147483647) | length }}",
        "{{ x.y.z }}", "{{ messages[0]['content'] }}", "{{ messages[-1] }}", "{{ messages[999] }}", "{{ 1 / 0 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}",
        "{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775808 // -1 }}", "{{ 2 ** 100000 }}", "{{ 10 ** 400 }}", "{{ raise_exception('no') }}",
        "{{ ns.x }}", "{% set ns = namespace(a=1) %}", "{{ loop.index }}", "{% break %}", "{% continue %}", "|tojson", "|trim", "|length", "|join(',')",
        "| replace('a', 'bb')", "| indent(1000000)", "| center(1000000000)", "| batch(0)", "{{ '%s' % 1 }}", "{{ ''.join(messages) }}", "(", ")", "[", "]",
        "((((((((((", "[[[[[[[[[[", "not not not not", "is defined", "is none", "~", "'", "\"", "\\", "\n", " and ", " or ", " if ", " else ",
        "{% raw %}", "{% endraw %}", "{% filter upper %}", "{% call f() %}", "{% include 'x' %}", "{{ namespace() }}", "{{ dict(a=1) }}",
        "{{ messages|selectattr('role','equalto','user')|list }}", "{{ 'x'[::-1] }}", "{{ 'x'[0:9223372036854775807:0] }}", "{{ (1,2)[5] }}",
    ];

    [Fact]
    public void ChatTemplatesRenderOrFailTyped()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestUtil.DataDir, "tokenizer", "template_cases.json")));
        var templates = doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("template_name").GetString()!, c.GetProperty("template").GetString()!))
            .Append(("deepseek-v3 built-in", BuiltInChatTemplates.DeepSeekV3))
            .Append(("deepseek-v2 built-in", BuiltInChatTemplates.DeepSeekV2))
            .DistinctBy(t => t.Item2)
            .Select(t => (t.Item1, Encoding.UTF8.GetBytes(t.Item2)))
            .ToList();
        var corpus = new Corpus("chat template", templates, JinjaTokens, json: false);
        // Half mutated real templates, half random sequences of Jinja tokens (which reach the evaluator's corners sooner).
        var random = Gen.Int[0, JinjaTokens.Length - 1].Array[1, 12]
            .Select(parts => new MutatedFile(new Corpus("chat template", [("tokens", Encoding.UTF8.GetBytes(string.Concat(parts.Select(p => JinjaTokens[p]))))], [], json: false), 0, []));
        FuzzRunner.Run(corpus.Format, Gen.OneOf(corpus.Gen(maxEdits: 6), random), input =>
        {
            var template = new ChatTemplate(input.Text, "<s>", "</s>");
            _ = template.Render(Conversation, addGenerationPrompt: true);
            _ = template.Render([], addGenerationPrompt: false);
        }, FuzzRunner.Iterations(250), output);
    }
}
