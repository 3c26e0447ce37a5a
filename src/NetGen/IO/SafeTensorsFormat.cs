using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;

namespace NetGen.IO;

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
