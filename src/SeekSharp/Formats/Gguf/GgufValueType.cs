namespace SeekSharp.Formats.Gguf;

/// <summary>
/// GGUF metadata value types, with the file's numbering. In the API a value is the matching .NET value: byte, sbyte,
/// ushort, short, uint, int, float, bool, string, ulong, long, double, or a one-dimensional array of one of them.
/// </summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}
