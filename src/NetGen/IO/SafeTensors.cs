using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace NetGen.IO;

/// <summary>
/// Saves and loads a network's parameters and state in the safetensors format (the format of
/// PyTorch's and Hugging Face's <c>safetensors</c>): an 8-byte little-endian header length, a
/// UTF-8 JSON header naming each tensor with its dtype, shape and byte range, then the raw
/// little-endian data. Tensor names are the network's layout names (<c>dense1.weight</c>,
/// <c>batchnorm1.running_mean</c>), which are PyTorch's, so a state dict moves between the two.
/// </summary>
/// <remarks>
/// Loading checks every name, dtype (F32), shape and byte range against the network before
/// anything is copied, and refuses a truncated or mismatched file with an
/// <see cref="InvalidDataException"/> naming the tensor: nothing is ever half-loaded. Files that
/// break the format are refused as its reference implementation refuses them: a name given twice,
/// byte ranges that overlap, leave gaps, or do not fit their shape and dtype, bytes after the last tensor. Tensors
/// named <c>*.num_batches_tracked</c> (PyTorch's BatchNorm counter) are ignored. Saving writes a
/// temporary file and renames it over the target, so a failed save leaves no half-written file.
/// </remarks>
public static class SafeTensors
{
    private const int MaxHeaderBytes = 100 * 1024 * 1024;

    /// <summary>Saves <paramref name="network"/>'s parameters and state to <paramref name="path"/>, atomically.</summary>
    public static void Save(INetwork network, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                Save(network, file, metadata);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="network"/>'s parameters and state to <paramref name="stream"/>.</summary>
    public static void Save(INetwork network, Stream stream, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        var tensors = Tensors(network);
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (KeyValuePair<string, string> pair in metadata)
                {
                    json.WriteString(pair.Key, pair.Value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach ((ParameterInfo info, _) in tensors)
            {
                json.WriteStartObject(info.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in info.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += 4L * info.Length;
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
        Span<byte> word = stackalloc byte[4];
        foreach ((ParameterInfo info, bool state) in tensors)
        {
            Span<float> values = (state ? network.State : network.Parameters).Slice(info.Offset, info.Length);
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(values));
            }
            else
            {
                foreach (float v in values)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(word, v);
                    stream.Write(word);
                }
            }
        }
    }

    /// <summary>Loads parameters and state saved by <see cref="Save(INetwork, string, IReadOnlyDictionary{string, string}?)"/> (or by PyTorch) into <paramref name="network"/>.</summary>
    /// <exception cref="InvalidDataException">The file is truncated, malformed, or does not match the network; the network is unchanged.</exception>
    public static void Load(INetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        Load(network, file, path);
    }

    /// <summary>Loads parameters and state from <paramref name="stream"/> into <paramref name="network"/>.</summary>
    /// <exception cref="InvalidDataException">The data is truncated, malformed, or does not match the network; the network is unchanged.</exception>
    public static void Load(INetwork network, Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        name ??= "safetensors stream";
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

        int dataStart = 8 + (int)headerLength;
        long dataLength = bytes.Length - dataStart;
        var entries = new Dictionary<string, (string Dtype, long[] Shape, long Begin, long End)>(StringComparer.Ordinal);
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

                if (entries.ContainsKey(property.Name))
                {
                    throw new InvalidDataException($"{name}: tensor '{property.Name}' appears twice in the header; a safetensors file names each tensor once.");
                }

                entries[property.Name] = (dtype, shape.ToArray(), offsets[0].GetInt64(), offsets[1].GetInt64());
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{name}: the header is not valid safetensors JSON ({e.Message}).", e);
        }

        // Check everything before copying anything. A tied tensor (lm_head.weight) may be absent,
        // as safetensors' own save_model leaves it out; when present it must hold the same values
        // as the tensor it is tied to (else the file is an untied model's, which this one cannot hold).
        var tensors = Tensors(network);
        var tied = new HashSet<string>(StringComparer.Ordinal);
        foreach (ParameterInfo t in network.TiedLayout)
        {
            tied.Add(t.Name);
        }

        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach ((ParameterInfo info, _) in tensors)
        {
            expected.Add(info.Name);
            if (!entries.TryGetValue(info.Name, out var entry))
            {
                if (tied.Contains(info.Name))
                {
                    continue;
                }

                throw new InvalidDataException($"{name}: tensor '{info.Name}' ({string.Join(", ", info.Shape)}) is missing.");
            }

            if (entry.Dtype != "F32")
            {
                throw new InvalidDataException($"{name}: tensor '{info.Name}' is {entry.Dtype}; NetGen loads F32 only.");
            }

            if (entry.Shape.Length != info.Shape.Count || !ShapeEquals(entry.Shape, info.Shape))
            {
                throw new InvalidDataException($"{name}: tensor '{info.Name}' has shape ({string.Join(", ", entry.Shape)}); the network needs ({string.Join(", ", info.Shape)}).");
            }

            if (entry.Begin < 0 || entry.End - entry.Begin != 4L * info.Length || entry.End > dataLength)
            {
                throw new InvalidDataException($"{name}: tensor '{info.Name}' occupies bytes [{entry.Begin}, {entry.End}) of {dataLength}; it needs {4L * info.Length} bytes inside the data: the file is truncated or corrupt.");
            }
        }

        foreach (string extra in entries.Keys)
        {
            if (!expected.Contains(extra) && !extra.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{name}: tensor '{extra}' is not part of this network; the file belongs to a different architecture.");
            }
        }

        CheckLayout(entries, dataLength, name);
        foreach (ParameterInfo alias in network.TiedLayout)
        {
            if (!entries.TryGetValue(alias.Name, out var entry))
            {
                continue;
            }

            foreach (ParameterInfo primary in network.ParameterLayout)
            {
                if (primary.Offset == alias.Offset && entries.TryGetValue(primary.Name, out var source) &&
                    !bytes.AsSpan(dataStart + (int)entry.Begin, 4 * alias.Length).SequenceEqual(bytes.AsSpan(dataStart + (int)source.Begin, 4 * alias.Length)))
                {
                    throw new InvalidDataException($"{name}: tensor '{alias.Name}' differs from '{primary.Name}', which this network ties it to; the file holds an untied model.");
                }
            }
        }

        foreach ((ParameterInfo info, bool state) in tensors)
        {
            if (!entries.TryGetValue(info.Name, out var entry))
            {
                continue; // an absent tied tensor: its values come with the tensor it is tied to
            }

            ReadOnlySpan<byte> source = bytes.AsSpan(dataStart + (int)entry.Begin, 4 * info.Length);
            Span<float> target = (state ? network.State : network.Parameters).Slice(info.Offset, info.Length);
            for (int i = 0; i < target.Length; i++)
            {
                target[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i));
            }
        }
    }

    // The safetensors specification (and its reference implementation): every tensor's byte range
    // holds exactly its shape's values of its dtype, and the ranges tile the data from 0 to its
    // end with no overlap (no aliasing), no gap and nothing after the last one.
    private static void CheckLayout(Dictionary<string, (string Dtype, long[] Shape, long Begin, long End)> entries, long dataLength, string name)
    {
        var ranges = new List<(long Begin, long End, string Tensor)>(entries.Count);
        foreach (var (tensor, entry) in entries)
        {
            int size = entry.Dtype switch
            {
                "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" => 1,
                "I16" or "U16" or "F16" or "BF16" => 2,
                "I32" or "U32" or "F32" => 4,
                "I64" or "U64" or "F64" => 8,
                _ => throw new InvalidDataException($"{name}: tensor '{tensor}' has the unknown dtype '{entry.Dtype}'."),
            };
            long count = 1;
            foreach (long d in entry.Shape)
            {
                if (d < 0 || (d > 0 && count > long.MaxValue / 16 / d))
                {
                    throw new InvalidDataException($"{name}: tensor '{tensor}' has an invalid shape ({string.Join(", ", entry.Shape)}).");
                }

                count *= d;
            }

            if (entry.Begin < 0 || entry.End < entry.Begin || entry.End - entry.Begin != count * size)
            {
                throw new InvalidDataException($"{name}: tensor '{tensor}' occupies bytes [{entry.Begin}, {entry.End}), but its shape ({string.Join(", ", entry.Shape)}) of {entry.Dtype} needs {count * size} bytes.");
            }

            ranges.Add((entry.Begin, entry.End, tensor));
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

    private static bool ShapeEquals(long[] a, IReadOnlyList<int> b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }

    private static List<(ParameterInfo Info, bool State)> Tensors(INetwork network)
    {
        var list = new List<(ParameterInfo, bool)>();
        foreach (ParameterInfo p in network.ParameterLayout)
        {
            list.Add((p, false));
        }

        foreach (ParameterInfo p in network.TiedLayout)
        {
            list.Add((p, false));
        }

        foreach (ParameterInfo s in network.StateLayout)
        {
            list.Add((s, true));
        }

        return list;
    }
}
