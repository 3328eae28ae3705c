using System.Text.Json;
using SeekSharp.Tensors;

namespace SeekSharp.Model;

/// <summary>
/// Receives named intermediates of a forward, set as <see cref="ForwardContext.Dump"/> (docs/architecture.md §23). The
/// name is <c>scope</c> + <c>name</c> (<see cref="ActivationNames"/>); the values are valid only during
/// the call, since the forward reuses and overwrites its buffers. Called on the thread that drives the forward.
/// </summary>
public interface IActivationSink
{
    /// <summary>A float32 intermediate, one row per token (an empty tensor is ignored).</summary>
    void Record(string scope, string name, Tensor value);

    /// <summary>An int32 intermediate of <paramref name="cols"/> values per token (expert indices).</summary>
    void Record(string scope, string name, ReadOnlySpan<int> values, int cols);
}

/// <summary>
/// A sink that copies the intermediates whose names match its patterns (<see cref="ActivationNames.Matches"/>) and writes
/// each as raw little-endian values plus a JSON sidecar with its shape. An intermediate recorded again (decoding token by
/// token) gains rows, so an incremental run yields the same [T, …] arrays as a batch forward.
/// </summary>
public sealed class ActivationDump : IActivationSink
{
    private readonly string[] _patterns;
    private readonly Dictionary<string, RecordedActivation> _byName = new(StringComparer.Ordinal);
    private readonly List<RecordedActivation> _recorded = new();

    public ActivationDump(IEnumerable<string> patterns)
    {
        _patterns = patterns.ToArray();
        if (_patterns.Length == 0) throw new ArgumentException("An activation dump needs at least one name or pattern.", nameof(patterns));
    }

    /// <summary>What was recorded, in the order first seen.</summary>
    public IReadOnlyList<RecordedActivation> Recorded => _recorded;

    public RecordedActivation? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Whether <paramref name="name"/> matches one of the patterns.</summary>
    public bool Wants(string name)
    {
        foreach (var p in _patterns)
            if (ActivationNames.Matches(p, name)) return true;
        return false;
    }

    public void Record(string scope, string name, Tensor value)
    {
        if (value.IsEmpty) return;
        string full = scope + name;
        if (!Wants(full)) return;
        var shape = value.Shape;
        var rowShape = new int[shape.Rank - 1];
        for (int i = 1; i < shape.Rank; i++) rowShape[i - 1] = shape[i];
        Entry(full, rowShape, isInt32: false).Append(value.Span, shape[0]);
    }

    public void Record(string scope, string name, ReadOnlySpan<int> values, int cols)
    {
        string full = scope + name;
        if (!Wants(full)) return;
        Entry(full, [cols], isInt32: true).Append(values, values.Length / cols);
    }

    private RecordedActivation Entry(string name, int[] rowShape, bool isInt32)
    {
        if (_byName.TryGetValue(name, out var entry))
        {
            if (entry.IsInt32 != isInt32 || !entry.RowShape.SequenceEqual(rowShape))
                throw new InvalidOperationException($"Activation '{name}' was recorded with rows of [{string.Join(", ", entry.RowShape)}], now [{string.Join(", ", rowShape)}].");
            return entry;
        }
        entry = new RecordedActivation(name, rowShape, isInt32);
        _byName[name] = entry;
        _recorded.Add(entry);
        return entry;
    }

    /// <summary>
    /// Writes NAME.f32 (or NAME.i32 for int32) and NAME.json ({"name", "dtype", "shape", "file"}) for every recorded
    /// intermediate into <paramref name="directory"/>, creating it; returns the data files written.
    /// </summary>
    public IReadOnlyList<string> WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new List<string>();
        foreach (var a in _recorded)
        {
            string file = a.Name + (a.IsInt32 ? ".i32" : ".f32");
            string path = Path.Combine(directory, file);
            File.WriteAllBytes(path, a.Bytes);
            using (var json = new FileStream(Path.Combine(directory, a.Name + ".json"), FileMode.Create, FileAccess.Write))
            using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("name", a.Name);
                w.WriteString("dtype", a.IsInt32 ? "int32" : "float32");
                w.WriteStartArray("shape");
                foreach (int dim in a.Shape) w.WriteNumberValue(dim);
                w.WriteEndArray();
                w.WriteString("file", file);
                w.WriteEndObject();
            }
            files.Add(path);
        }
        return files;
    }
}

/// <summary>One dumped intermediate: rows of <see cref="RowShape"/> float32 (or int32) values, gathered over one or more forwards.</summary>
public sealed class RecordedActivation
{
    private float[] _f32 = Array.Empty<float>();
    private int[] _i32 = Array.Empty<int>();
    private int _count;

    internal RecordedActivation(string name, int[] rowShape, bool isInt32) => (Name, RowShape, IsInt32) = (name, rowShape, isInt32);

    public string Name { get; }
    public int[] RowShape { get; }
    public bool IsInt32 { get; }
    public int Rows { get; private set; }

    /// <summary>[Rows, ..RowShape].</summary>
    public int[] Shape => [Rows, .. RowShape];

    public ReadOnlySpan<float> Float32 => _f32.AsSpan(0, IsInt32 ? 0 : _count);
    public ReadOnlySpan<int> Int32 => _i32.AsSpan(0, IsInt32 ? _count : 0);

    internal ReadOnlySpan<byte> Bytes => IsInt32
        ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Int32)
        : System.Runtime.InteropServices.MemoryMarshal.AsBytes(Float32);

    internal void Append(ReadOnlySpan<float> values, int rows) => Append(ref _f32, values, rows);
    internal void Append(ReadOnlySpan<int> values, int rows) => Append(ref _i32, values, rows);

    private void Append<T>(ref T[] buffer, ReadOnlySpan<T> values, int rows)
    {
        if (buffer.Length < _count + values.Length) Array.Resize(ref buffer, Math.Max(_count + values.Length, 2 * buffer.Length));
        values.CopyTo(buffer.AsSpan(_count));
        _count += values.Length;
        Rows += rows;
    }
}
