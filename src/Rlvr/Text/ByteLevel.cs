namespace Rlvr.Text;

/// <summary>
/// GPT-2's byte-level alphabet: every byte 0..255 is written as one printable character (space is 'Ġ',
/// newline 'Ċ'), so BPE vocabulary entries are plain strings. This is <c>bytes_to_unicode()</c> of GPT-2
/// and the <c>ByteLevel</c> decoder of HuggingFace tokenizers.
/// </summary>
public static class ByteLevel
{
    static readonly char[] ByteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    /// <summary>The character that stands for <paramref name="b"/> in vocabulary strings.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>
    /// The bytes a vocabulary string stands for. As in HuggingFace's ByteLevel decoder, a string with a
    /// character outside the byte alphabet (an added token such as "<|im_end|>" is inside it; one with,
    /// say, CJK characters is not) stands for its own UTF-8 bytes.
    /// </summary>
    public static byte[] BytesOf(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out var b)) return System.Text.Encoding.UTF8.GetBytes(token);
            bytes[i] = b;
        }
        return bytes;
    }

    static char[] BuildByteToChar()
    {
        // Printable Latin-1 bytes keep their own character; the other 68 are moved to U+0100 and up, in byte order.
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }
}
