using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace NetGen.Data;

/// <summary>An IDX tensor (the MNIST file format): its dimensions and its unsigned bytes.</summary>
public sealed class IdxTensor
{
    internal IdxTensor(int[] dimensions, byte[] data)
    {
        Dimensions = dimensions;
        Data = data;
    }

    /// <summary>Dimensions, outermost first (e.g. [10000, 28, 28]).</summary>
    public int[] Dimensions { get; }

    /// <summary>The values, row-major.</summary>
    public byte[] Data { get; }

    /// <summary>Number of items (the first dimension).</summary>
    public int Count => Dimensions[0];

    /// <summary>Values per item (product of the other dimensions).</summary>
    public int ItemSize => Data.Length / Math.Max(1, Count);
}

/// <summary>
/// Reads IDX files (the format of MNIST and Fashion-MNIST), gzip'd or not: a big-endian
/// header (magic with element type 0x08 and rank, then one count per dimension) and the
/// bytes. Malformed or truncated files are refused with an <see cref="InvalidDataException"/>.
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file from disk; a <c>.gz</c> file (by its magic bytes) is decompressed.</summary>
    public static IdxTensor Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = File.OpenRead(path);
        return Read(file, path);
    }

    /// <summary>Reads an IDX tensor from a stream, gzip'd or not.</summary>
    public static IdxTensor Read(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        name ??= "IDX stream";
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        byte[] raw = buffer.ToArray();
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var inflated = new MemoryStream();
            try
            {
                gz.CopyTo(inflated);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{name}: the gzip data is corrupt or truncated ({e.Message}).", e);
            }

            raw = inflated.ToArray();
        }

        return Parse(raw, name);
    }

    /// <summary>Images as floats in [0, 1] (byte / 255), <c>Count · ItemSize</c> values.</summary>
    public static float[] ToUnitFloats(IdxTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var result = new float[tensor.Data.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = tensor.Data[i] * (1f / 255f);
        }

        return result;
    }

    /// <summary>Labels as integers.</summary>
    public static int[] ToLabels(IdxTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var result = new int[tensor.Data.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = tensor.Data[i];
        }

        return result;
    }

    private static IdxTensor Parse(byte[] raw, string name)
    {
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0)
        {
            throw new InvalidDataException($"{name}: not an IDX file (the magic number must start with two zero bytes).");
        }

        if (raw[2] != 0x08)
        {
            throw new InvalidDataException($"{name}: element type 0x{raw[2]:x2} is not supported; only unsigned bytes (0x08) are.");
        }

        int rank = raw[3];
        if (rank == 0 || raw.Length < 4 + (4 * rank))
        {
            throw new InvalidDataException($"{name}: the header is truncated (rank {rank}).");
        }

        var dims = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4 + (4 * d)));
            if (dims[d] < 0)
            {
                throw new InvalidDataException($"{name}: dimension {d} is negative ({dims[d]}).");
            }

            count *= dims[d];
        }

        int header = 4 + (4 * rank);
        if (raw.Length - header != count)
        {
            throw new InvalidDataException(
                $"{name}: the header promises {count} values ({string.Join(" x ", dims)}) but the file holds {raw.Length - header}.");
        }

        return new IdxTensor(dims, raw.AsSpan(header).ToArray());
    }
}
