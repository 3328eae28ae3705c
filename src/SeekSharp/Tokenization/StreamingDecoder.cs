using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace SeekSharp.Tokenization;

/// <summary>
/// Decodes ids one at a time as a model generates them. A token may end in the middle of a UTF-8 character (an
/// emoji is often two or three tokens); those bytes are held back until the character is complete, so every
/// string returned is whole characters. The concatenation of every <see cref="Append"/> and the final
/// <see cref="Flush"/> equals <see cref="Tokenizer.Decode"/> of all the ids. Not thread-safe: one per stream.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly ArrayBufferWriter<byte> _pending = new(16);

    internal StreamingDecoder(Tokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Bytes held back because they do not yet end a character.</summary>
    public int PendingByteCount => _pending.WrittenCount;

    /// <summary>Adds one id and returns the characters it completes (possibly none).</summary>
    /// <exception cref="InvalidInputException">An id outside the vocabulary.</exception>
    public string Append(int id)
    {
        var bytes = _tokenizer.TokenBytes(id);
        if (_skipSpecialTokens && _tokenizer.IsSpecial(id))
            return "";
        _pending.Write(bytes);
        return Drain(isFinal: false);
    }

    /// <summary>Ends the stream: whatever is held back becomes U+FFFD, as <see cref="Tokenizer.Decode"/> would.</summary>
    public string Flush() => Drain(isFinal: true);

    /// <summary>Forgets held-back bytes, to start a new stream.</summary>
    public void Reset() => _pending.Clear();

    private string Drain(bool isFinal)
    {
        var input = _pending.WrittenSpan;
        if (input.IsEmpty)
            return "";
        var chars = new char[input.Length + 2];
        // Invalid sequences become U+FFFD now; an incomplete one at the end waits (unless the stream is over).
        Utf8.ToUtf16(input, chars, out int read, out int written, replaceInvalidSequences: true, isFinalBlock: isFinal);
        var rest = input[read..].ToArray();
        _pending.Clear();
        _pending.Write(rest);
        return new string(chars, 0, written);
    }
}
