using System.IO.Compression;
using NetGen.Data;

namespace NetGen.Tests;

public class IdxTests
{
    private static byte[] Idx(int[] dims, byte[] data)
    {
        var header = new List<byte> { 0, 0, 8, (byte)dims.Length };
        foreach (int d in dims)
        {
            var bytes = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, d);
            header.AddRange(bytes);
        }

        return header.Concat(data).ToArray();
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gz.Write(raw);
        }

        return buffer.ToArray();
    }

    [Fact]
    public void Reads_plain_and_gzipped_files()
    {
        byte[] raw = Idx(new[] { 2, 2, 3 }, new byte[] { 0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6 });
        foreach (byte[] bytes in new[] { raw, Gzip(raw) })
        {
            IdxTensor t = NetGen.Data.Idx.Read(new MemoryStream(bytes));
            Assert.Equal(new[] { 2, 2, 3 }, t.Dimensions);
            Assert.Equal(2, t.Count);
            Assert.Equal(6, t.ItemSize);
            float[] f = NetGen.Data.Idx.ToUnitFloats(t);
            Assert.Equal(new[] { 0f, 0.2f, 0.4f, 0.6f, 0.8f, 1f }, f.Take(6).Select(v => MathF.Round(v, 3)));
        }
    }

    [Fact]
    public void Refuses_truncated_and_malformed_files_with_a_message()
    {
        byte[] raw = Idx(new[] { 3 }, new byte[] { 1, 2 });
        var e = Assert.Throws<InvalidDataException>(() => NetGen.Data.Idx.Read(new MemoryStream(raw), "labels"));
        Assert.Contains("promises 3 values", e.Message);
        Assert.Throws<InvalidDataException>(() => NetGen.Data.Idx.Read(new MemoryStream(new byte[] { 1, 2, 3, 4 })));
        Assert.Throws<InvalidDataException>(() => NetGen.Data.Idx.Read(new MemoryStream(new byte[] { 0, 0, 0x0d, 1, 0, 0, 0, 0 })));
        byte[] gz = Gzip(Idx(new[] { 100 }, new byte[100]));
        Assert.Throws<InvalidDataException>(() => NetGen.Data.Idx.Read(new MemoryStream(gz.AsSpan(0, gz.Length / 2).ToArray())));
    }
}
