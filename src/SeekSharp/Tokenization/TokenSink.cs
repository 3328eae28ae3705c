namespace SeekSharp.Tokenization;

/// <summary>Where the encoder puts ids; a struct type argument, so the encoder is compiled once per sink with no calls through an interface.</summary>
internal interface ITokenSink
{
    void Add(int id);
    void Add(ReadOnlySpan<int> ids);
}

internal readonly struct ListSink(List<int> list) : ITokenSink
{
    public void Add(int id) => list.Add(id);
    public void Add(ReadOnlySpan<int> ids) => list.AddRange(ids);
}

/// <summary>Counts instead of storing, for <see cref="Tokenizer.CountTokens"/>.</summary>
internal struct CountSink : ITokenSink
{
    public int Count;
    public void Add(int id) => Count++;
    public void Add(ReadOnlySpan<int> ids) => Count += ids.Length;
}
