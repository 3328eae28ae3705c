namespace SeekSharp.Tokenization;

/// <summary>
/// GPT-2's byte-to-character table, which byte-level BPE vocabularies are written in: every byte value becomes one
/// printable character, so a token (a byte string) can be stored as a JSON string. Printable Latin-1 bytes
/// ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the other 68 bytes map, in order, to U+0100 and up
/// (so a space is 'Ġ' U+0120 and a newline 'Ċ' U+010A).
/// </summary>
internal static class ByteLevel
{
    /// <summary>Character for each byte value.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Byte for each character below U+0144, or -1 where the character is not in the table.</summary>
    private static readonly short[] CharToByteTable = BuildCharToByte();

    /// <summary>The byte a table character stands for, or -1 if <paramref name="c"/> is not one of the 256.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    /// <summary>Writes the table characters for <paramref name="bytes"/>: the vocabulary spelling of a byte string.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, b) =>
        {
            for (int i = 0; i < b.Length; i++)
                chars[i] = ByteToChar[b[i]];
        });
    }

    /// <summary>
    /// The bytes a vocabulary string stands for, or null if one of its characters is not in the table
    /// (an added token such as "&lt;｜User｜&gt;", whose bytes are then its own UTF-8).
    /// </summary>
    public static byte[]? TryDecode(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int b = CharToByte(token[i]);
            if (b < 0)
                return null;
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var table = new short[256 + 68];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++)
            table[ByteToChar[b]] = (short)b;
        return table;
    }
}
