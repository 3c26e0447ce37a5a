using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace NetGen.IO;

/// <summary>The element type tensors are written in: F32 (the default, exact), or F16 / BF16 (half the size, rounded to nearest even).</summary>
public enum SafeTensorsDtype
{
    /// <summary>32-bit IEEE floats: exact.</summary>
    F32,

    /// <summary>16-bit IEEE floats (PyTorch's float16): 11 significant bits, range ±65,504; values beyond become ±∞.</summary>
    F16,

    /// <summary>bfloat16 (PyTorch's bfloat16): float's range, 8 significant bits.</summary>
    BF16,
}

/// <summary>Values of one tensor to write, read when the file is written.</summary>
internal delegate ReadOnlySpan<float> FloatSource();

/// <summary>
/// Writes a safetensors file: the tensors' header in the order they were added, then their data,
/// contiguous from offset 0, as the specification requires.
/// </summary>
internal sealed class SafeTensorsWriter
{
    private readonly List<(string Name, string Dtype, long[] Shape, long Bytes, Action<Stream> Write)> _entries = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public void AddFloats(string name, IReadOnlyList<int> shape, int length, FloatSource values, SafeTensorsDtype dtype)
    {
        int size = dtype == SafeTensorsDtype.F32 ? 4 : 2;
        Add(name, dtype.ToString(), ToLong(shape), (long)size * length, stream => WriteFloats(stream, values(), dtype));
    }

    public void AddInt64(string name, long value) =>
        Add(name, "I64", Array.Empty<long>(), 8, stream =>
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            stream.Write(bytes);
        });

    public void AddInt32s(string name, int[] values) =>
        Add(name, "I32", new long[] { values.Length }, 4L * values.Length, stream =>
        {
            Span<byte> bytes = stackalloc byte[4];
            foreach (int v in values)
            {
                BinaryPrimitives.WriteInt32LittleEndian(bytes, v);
                stream.Write(bytes);
            }
        });

    public void Write(Stream stream, IReadOnlyDictionary<string, string> metadata)
    {
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (KeyValuePair<string, string> pair in metadata)
                {
                    json.WriteString(pair.Key, pair.Value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var entry in _entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", entry.Dtype);
                json.WriteStartArray("shape");
                foreach (long d in entry.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += entry.Bytes;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        // Pad the header with spaces to a multiple of 8 bytes, so that the data is aligned.
        int padding = (int)((8 - (header.Length % 8)) % 8);
        for (int i = 0; i < padding; i++)
        {
            header.WriteByte((byte)' ');
        }

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        header.Position = 0;
        header.CopyTo(stream);
        foreach (var entry in _entries)
        {
            entry.Write(stream);
        }
    }

    private void Add(string name, string dtype, long[] shape, long bytes, Action<Stream> write)
    {
        if (!_names.Add(name))
        {
            throw new InvalidOperationException($"The tensor name '{name}' is used twice; a safetensors file names each tensor once.");
        }

        _entries.Add((name, dtype, shape, bytes, write));
    }

    private static long[] ToLong(IReadOnlyList<int> shape)
    {
        var result = new long[shape.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = shape[i];
        }

        return result;
    }

    private static void WriteFloats(Stream stream, ReadOnlySpan<float> values, SafeTensorsDtype dtype)
    {
        if (dtype == SafeTensorsDtype.F32 && BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }

        Span<byte> chunk = stackalloc byte[4096];
        int size = dtype == SafeTensorsDtype.F32 ? 4 : 2;
        int perChunk = chunk.Length / size;
        for (int start = 0; start < values.Length; start += perChunk)
        {
            int count = Math.Min(perChunk, values.Length - start);
            for (int i = 0; i < count; i++)
            {
                float v = values[start + i];
                switch (dtype)
                {
                    case SafeTensorsDtype.F32:
                        BinaryPrimitives.WriteSingleLittleEndian(chunk.Slice(4 * i), v);
                        break;
                    case SafeTensorsDtype.F16:
                        BinaryPrimitives.WriteHalfLittleEndian(chunk.Slice(2 * i), (Half)v);
                        break;
                    default:
                        BinaryPrimitives.WriteUInt16LittleEndian(chunk.Slice(2 * i), SafeTensorsFile.ToBFloat16(v));
                        break;
                }
            }

            stream.Write(chunk.Slice(0, count * size));
        }
    }
}

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Dtype">Its element type (F32, F16, BF16, F64, I64, ...).</param>
/// <param name="Shape">Its shape; empty for a scalar.</param>
/// <param name="Begin">The first byte of its data, from the start of the data section.</param>
/// <param name="End">One past its last byte.</param>
internal sealed record TensorEntry(string Name, string Dtype, long[] Shape, long Begin, long End)
{
    public long Count
    {
        get
        {
            long count = 1;
            foreach (long d in Shape)
            {
                count *= d;
            }

            return count;
        }
    }
}

/// <summary>
/// A parsed safetensors file: its header (entries in file order, metadata), checked against the
/// specification as its reference implementation checks it by <see cref="CheckLayout()"/> (which
/// must pass before any data is read), and its data, converted on request.
/// </summary>
internal sealed class SafeTensorsFile
{
    private const int MaxHeaderBytes = 100 * 1024 * 1024;
    private readonly byte[] _bytes;
    private readonly int _dataStart;

    private SafeTensorsFile(string name, byte[] bytes, int dataStart, List<TensorEntry> entries, Dictionary<string, string> metadata)
    {
        Name = name;
        _bytes = bytes;
        _dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
        ByName = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        foreach (TensorEntry e in entries)
        {
            ByName[e.Name] = e;
        }
    }

    /// <summary>The file's name in messages.</summary>
    public string Name { get; }

    public List<TensorEntry> Entries { get; }

    public Dictionary<string, TensorEntry> ByName { get; }

    public Dictionary<string, string> Metadata { get; }

    public static SafeTensorsFile Read(Stream stream, string name)
    {
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }

        if (bytes.Length < 8)
        {
            throw new InvalidDataException($"{name}: {bytes.Length} bytes is too short for a safetensors file (8-byte header length missing).");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(bytes.Length - 8))
        {
            throw new InvalidDataException($"{name}: the header length {headerLength} exceeds the file ({bytes.Length} bytes): truncated or not a safetensors file.");
        }

        var entries = new List<TensorEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{name}: the header is not a JSON object.");
            }

            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    foreach (JsonProperty pair in property.Value.EnumerateObject())
                    {
                        metadata[pair.Name] = pair.Value.GetString() ?? "";
                    }

                    continue;
                }

                JsonElement e = property.Value;
                string dtype = e.GetProperty("dtype").GetString() ?? "";
                var shape = new List<long>();
                foreach (JsonElement d in e.GetProperty("shape").EnumerateArray())
                {
                    shape.Add(d.GetInt64());
                }

                JsonElement offsets = e.GetProperty("data_offsets");
                if (offsets.GetArrayLength() != 2)
                {
                    throw new InvalidDataException($"{name}: tensor '{property.Name}' has malformed data_offsets.");
                }

                if (!seen.Add(property.Name))
                {
                    throw new InvalidDataException($"{name}: tensor '{property.Name}' appears twice in the header; a safetensors file names each tensor once.");
                }

                entries.Add(new TensorEntry(property.Name, dtype, shape.ToArray(), offsets[0].GetInt64(), offsets[1].GetInt64()));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{name}: the header is not valid safetensors JSON ({e.Message}).", e);
        }

        return new SafeTensorsFile(name, bytes, 8 + (int)headerLength, entries, metadata);
    }

    /// <summary>Whether <see cref="ReadFloats"/> reads <paramref name="dtype"/>.</summary>
    public static bool IsFloat(string dtype) => dtype is "F32" or "F16" or "BF16" or "F64";

    /// <summary>The tensor's values as floats: F32 exactly, F16 and BF16 exactly (every one is a float), F64 rounded to nearest.</summary>
    public void ReadFloats(TensorEntry entry, Span<float> target)
    {
        ReadOnlySpan<byte> source = _bytes.AsSpan(_dataStart + (int)entry.Begin, (int)(entry.End - entry.Begin));
        switch (entry.Dtype)
        {
            case "F32":
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i));
                }

                break;
            case "F16":
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source.Slice(2 * i));
                }

                break;
            case "BF16":
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2 * i)) << 16);
                }

                break;
            case "F64":
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source.Slice(8 * i));
                }

                break;
            default:
                throw new InvalidDataException($"{Name}: tensor '{entry.Name}' is {entry.Dtype}, not a floating-point type.");
        }
    }

    /// <summary>An integer scalar (I64, I32, U8...; shape [] or [1]).</summary>
    public long ReadInteger(TensorEntry entry)
    {
        if (entry.Count != 1)
        {
            throw new InvalidDataException($"{Name}: tensor '{entry.Name}' has shape ({string.Join(", ", entry.Shape)}); a single integer was expected.");
        }

        ReadOnlySpan<byte> source = _bytes.AsSpan(_dataStart + (int)entry.Begin, (int)(entry.End - entry.Begin));
        return entry.Dtype switch
        {
            "I64" => BinaryPrimitives.ReadInt64LittleEndian(source),
            "I32" => BinaryPrimitives.ReadInt32LittleEndian(source),
            "U32" => BinaryPrimitives.ReadUInt32LittleEndian(source),
            "I16" => BinaryPrimitives.ReadInt16LittleEndian(source),
            "U16" => BinaryPrimitives.ReadUInt16LittleEndian(source),
            "U8" => source[0],
            _ => throw new InvalidDataException($"{Name}: tensor '{entry.Name}' is {entry.Dtype}; an integer was expected."),
        };
    }

    /// <summary>An I32 vector's values.</summary>
    public int[] ReadInt32s(TensorEntry entry)
    {
        if (entry.Dtype != "I32" || entry.Shape.Length != 1)
        {
            throw new InvalidDataException($"{Name}: tensor '{entry.Name}' is {entry.Dtype} ({string.Join(", ", entry.Shape)}); an I32 vector was expected.");
        }

        ReadOnlySpan<byte> source = Bytes(entry);
        var values = new int[entry.Shape[0]];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt32LittleEndian(source.Slice(4 * i));
        }

        return values;
    }

    /// <summary>The raw bytes of a tensor (to compare two tensors of the same dtype).</summary>
    public ReadOnlySpan<byte> Bytes(TensorEntry entry) => _bytes.AsSpan(_dataStart + (int)entry.Begin, (int)(entry.End - entry.Begin));

    /// <summary>bfloat16 nearest to <paramref name="value"/> (ties to even), as PyTorch's <c>.bfloat16()</c>; NaN stays NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040); // quiet, sign kept
        }

        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(bits >> 16);
    }

    // The safetensors specification (and its reference implementation): every tensor's byte range
    // holds exactly its shape's values of its dtype, and the ranges tile the data from 0 to its
    // end with no overlap (no aliasing), no gap and nothing after the last one.
    public void CheckLayout()
    {
        List<TensorEntry> entries = Entries;
        long dataLength = _bytes.Length - _dataStart;
        string name = Name;
        var ranges = new List<(long Begin, long End, string Tensor)>(entries.Count);
        foreach (TensorEntry entry in entries)
        {
            int size = entry.Dtype switch
            {
                "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" => 1,
                "I16" or "U16" or "F16" or "BF16" => 2,
                "I32" or "U32" or "F32" => 4,
                "I64" or "U64" or "F64" => 8,
                _ => throw new InvalidDataException($"{name}: tensor '{entry.Name}' has the unknown dtype '{entry.Dtype}'."),
            };
            long count = 1;
            foreach (long d in entry.Shape)
            {
                if (d < 0 || (d > 0 && count > long.MaxValue / 16 / d))
                {
                    throw new InvalidDataException($"{name}: tensor '{entry.Name}' has an invalid shape ({string.Join(", ", entry.Shape)}).");
                }

                count *= d;
            }

            if (entry.Begin < 0 || entry.End < entry.Begin || entry.End - entry.Begin != count * size)
            {
                throw new InvalidDataException($"{name}: tensor '{entry.Name}' occupies bytes [{entry.Begin}, {entry.End}), but its shape ({string.Join(", ", entry.Shape)}) of {entry.Dtype} needs {count * size} bytes.");
            }

            if (entry.End > dataLength)
            {
                throw new InvalidDataException($"{name}: tensor '{entry.Name}' occupies bytes [{entry.Begin}, {entry.End}) of {dataLength}: the file is truncated or corrupt.");
            }

            ranges.Add((entry.Begin, entry.End, entry.Name));
        }

        ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long next = 0;
        string? previous = null;
        foreach ((long begin, long end, string tensor) in ranges)
        {
            if (begin < next)
            {
                throw new InvalidDataException($"{name}: tensor '{tensor}' (bytes [{begin}, {end})) overlaps '{previous}'; tensors must not share bytes.");
            }

            if (begin > next)
            {
                throw new InvalidDataException($"{name}: bytes [{next}, {begin}) before tensor '{tensor}' belong to no tensor; the data must be contiguous.");
            }

            next = end;
            previous = tensor;
        }

        if (next != dataLength)
        {
            throw new InvalidDataException($"{name}: {dataLength - next} bytes follow the last tensor; the data must end where the last tensor ends.");
        }
    }
}
