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
