namespace SeekSharp.Tokenization;

/// <summary>
/// A token matched as a whole string in the raw text before pre-tokenization (BOS, "&lt;｜User｜&gt;", ...), as
/// tokenizer.json's "added_tokens" lists it. <see cref="Special"/> tokens are the ones decoding can skip;
/// <see cref="Normalized"/> ones are matched after the normalizer (DeepSeek-V3's normalizer does nothing).
/// </summary>
/// <param name="Id">The token's id.</param>
/// <param name="Content">The exact text that stands for it.</param>
/// <param name="Special">Dropped by decoding with skipSpecialTokens.</param>
/// <param name="Normalized">Matched in the normalized text rather than the raw text.</param>
/// <param name="LStrip">The match swallows the white space before it.</param>
/// <param name="RStrip">The match swallows the white space after it.</param>
/// <param name="SingleWord">Only matched when not touching a letter or digit on either side.</param>
public sealed record AddedToken(
    int Id,
    string Content,
    bool Special,
    bool Normalized = false,
    bool LStrip = false,
    bool RStrip = false,
    bool SingleWord = false);
