using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NetGen.IO;

namespace NetGen.Tests;

/// <summary>
/// Safetensors in PyTorch's other dtypes (F16, BF16, F64), BatchNorm's num_batches_tracked, and
/// the metadata that describes the network.
/// </summary>
public class SafeTensorsDtypeTests
{
    private static RegularizedNet Trained(int steps)
    {
        var net = new RegularizedNet(8, seed: 1);
        float[] x = Reference.RandomFloats(8 * RegularizedNet.InputSize, 1);
        int[] y = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        var adam = new Adam(0.01f);
        for (int i = 0; i < steps; i++)
        {
            net.TrainStep(x, y, adam);
        }

        return net;
    }

    private static (JsonElement Header, byte[] Bytes) Header(MemoryStream stream)
    {
        byte[] bytes = stream.ToArray();
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using JsonDocument document = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, length));
        return (document.RootElement.Clone(), bytes);
    }

    [Theory]
    [InlineData(SafeTensorsDtype.F16)]
    [InlineData(SafeTensorsDtype.BF16)]
    public void Half_precision_saves_round_each_value_to_nearest_and_load_back_as_those_values(SafeTensorsDtype dtype)
    {
        RegularizedNet net = Trained(3);
        var full = new MemoryStream();
        var half = new MemoryStream();
        SafeTensors.Save(net, full);
        SafeTensors.Save(net, half, dtype: dtype);
        (JsonElement header, byte[] bytes) = Header(half);
        Assert.Equal(dtype.ToString(), header.GetProperty("batchnorm1.running_var").GetProperty("dtype").GetString());
        Assert.Equal("I64", header.GetProperty("batchnorm1.num_batches_tracked").GetProperty("dtype").GetString());

        // Half the data: every float tensor takes 2 bytes a value (the two counters keep 8 bytes each).
        int values = RegularizedNet.ParameterCount + RegularizedNet.StateCount;
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal((2 * values) + 16, bytes.Length - 8 - headerLength);

        var loaded = new RegularizedNet(8, seed: 5);
        SafeTensors.Load(loaded, new MemoryStream(bytes));
        Func<float, float> round = dtype == SafeTensorsDtype.F16
            ? v => (float)(Half)v
            : v => BitConverter.UInt32BitsToSingle((uint)RoundToBFloat16(v) << 16);
        Assert.Equal(net.Parameters.ToArray().Select(round), loaded.Parameters.ToArray());
        Assert.Equal(net.State.ToArray().Select(round), loaded.State.ToArray());
        Assert.NotEqual(net.Parameters.ToArray(), loaded.Parameters.ToArray()); // rounded, not exact
    }

    // bfloat16 rounding written from its definition, in double: the nearest of the two neighbours, ties to the even one.
    private static ushort RoundToBFloat16(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        ushort down = (ushort)(bits >> 16), up = (ushort)(down + 1);
        double a = BitConverter.UInt32BitsToSingle((uint)down << 16), b = BitConverter.UInt32BitsToSingle((uint)up << 16);
        double da = Math.Abs(v - a), db = Math.Abs(b - v);
        return da < db ? down : db < da ? up : (down & 1) == 0 ? down : up;
    }

    [Theory]
    [InlineData(1f, 0x3F80)]
    [InlineData(1.00390625f, 0x3F80)] // halfway between 1 and 1.0078125: to the even one, down
    [InlineData(1.01171875f, 0x3F82)] // halfway between 1.0078125 and 1.015625: to the even one, up
    [InlineData(1.004f, 0x3F81)] // above halfway: up
    [InlineData(-2.5f, 0xC020)]
    [InlineData(float.PositiveInfinity, 0x7F80)]
    public void BFloat16_rounds_to_nearest_even(float value, int expected) =>
        Assert.Equal((ushort)expected, SafeTensorsFile.ToBFloat16(value));

    [Fact]
    public void BFloat16_keeps_nan_a_nan() =>
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)SafeTensorsFile.ToBFloat16(float.NaN) << 16)));

    [Fact]
    public void Files_in_F64_F16_and_BF16_written_as_PyTorch_writes_them_load_converted()
    {
        // XorNet: dense1.weight (4, 2), dense1.bias (4), dense2.weight (1, 4), dense2.bias (1).
        double[] w1 = { 0.1, -0.2, 0.3, 1e-3, 12.5, -7.25, 1.0 / 3.0, 2.0 / 3.0 };
        float[] b1 = { 0.5f, -1.5f, 2f, 65504f };
        float[] w2 = { 0.25f, 1.00390625f, -3f, 1e-8f };
        var data = new MemoryStream();
        foreach (double v in w1)
        {
            data.Write(BitConverter.GetBytes(v));
        }

        foreach (float v in b1)
        {
            data.Write(BitConverter.GetBytes((Half)v));
        }

        foreach (float v in w2)
        {
            data.Write(BitConverter.GetBytes(SafeTensorsFile.ToBFloat16(v)));
        }

        data.Write(BitConverter.GetBytes(7.5f));
        string json = "{\"dense1.weight\":{\"dtype\":\"F64\",\"shape\":[4,2],\"data_offsets\":[0,64]}," +
            "\"dense1.bias\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[64,72]}," +
            "\"dense2.weight\":{\"dtype\":\"BF16\",\"shape\":[1,4],\"data_offsets\":[72,80]}," +
            "\"dense2.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[80,84]}}";
        byte[] file = File(json, data.ToArray());

        var net = new XorNet(1, seed: 3);
        SafeTensors.Load(net, new MemoryStream(file));
        Assert.Equal(w1.Select(v => (float)v), net.Parameters[..8].ToArray()); // F64 rounded to nearest
        Assert.Equal(b1, net.Parameters[8..12].ToArray()); // each exactly representable in F16
        Assert.Equal(new[] { 0.25f, 1f, -3f, 1.0000000e-8f }.Select(v => BitConverter.UInt32BitsToSingle((uint)SafeTensorsFile.ToBFloat16(v) << 16)), net.Parameters[12..16].ToArray());
        Assert.Equal(1f, net.Parameters[13]); // 1.00390625 is a tie: rounded to the even bfloat16, 1
        Assert.Equal(7.5f, net.Parameters[16]);
    }

    private static byte[] File(string json, byte[] data)
    {
        byte[] text = Encoding.UTF8.GetBytes(json);
        var result = new byte[8 + text.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)text.Length);
        text.CopyTo(result, 8);
        data.CopyTo(result, 8 + text.Length);
        return result;
    }

    [Fact]
    public void Each_training_forward_pass_counts_one_batch_tracked_as_PyTorch_does()
    {
        RegularizedNet net = Trained(5);
        Assert.Equal(5, net.BatchesTracked);
        float[] x = Reference.RandomFloats(8 * RegularizedNet.InputSize, 2);
        int[] y = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        net.AccumulateGradients(x, y);
        net.Evaluate(x, y); // evaluation does not count
        net.Forward(x, new float[8 * RegularizedNet.OutputSize]);
        Assert.Equal(6, net.BatchesTracked);
        net.Threads = 2;
        net.MinSamplesPerThread = 1;
        net.ComputeGradients(x, y); // a split batch is one batch
        Assert.Equal(7, net.BatchesTracked);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.BatchesTracked = -1);

        var xor = new XorNet(4, seed: 1); // no BatchNorm: nothing counts
        xor.ComputeGradients(new float[8], new float[4]);
        Assert.Equal(0, xor.BatchesTracked);
    }

    [Fact]
    public void Num_batches_tracked_is_written_for_each_BatchNorm_layer_and_read_back()
    {
        RegularizedNet net = Trained(5);
        var stream = new MemoryStream();
        SafeTensors.Save(net, stream);
        (JsonElement header, byte[] bytes) = Header(stream);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        foreach (string layer in new[] { "batchnorm1", "batchnorm2" })
        {
            JsonElement entry = header.GetProperty(layer + ".num_batches_tracked");
            Assert.Equal(0, entry.GetProperty("shape").GetArrayLength()); // a scalar, as PyTorch's buffer
            long begin = entry.GetProperty("data_offsets")[0].GetInt64();
            Assert.Equal(5L, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8 + headerLength + (int)begin)));
        }

        var loaded = new RegularizedNet(8, seed: 2);
        SafeTensors.Load(loaded, new MemoryStream(bytes));
        Assert.Equal(5, loaded.BatchesTracked);

        // PyTorch's layers may disagree (one frozen): the largest count is kept.
        JsonElement second = header.GetProperty("batchnorm2.num_batches_tracked");
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + headerLength + (int)second.GetProperty("data_offsets")[0].GetInt64()), 9);
        SafeTensors.Load(loaded, new MemoryStream(bytes));
        Assert.Equal(9, loaded.BatchesTracked);
    }

    [Fact]
    public void The_metadata_describes_the_network_and_Describe_reads_it_back()
    {
        var net = new SmallCnn(2, seed: 1);
        string path = Path.Combine(Path.GetTempPath(), "netgen-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            SafeTensors.Save(net, path, new Dictionary<string, string> { ["run"] = "42" });
            SafeTensorsDescription d = SafeTensors.Describe(path);
            Assert.Equal("NetGen.Tests.SmallCnn", d.NetworkClass);
            Assert.Equal(new[] { 2, 7, 6 }, d.InputShape);
            Assert.Equal(new[] { 3 }, d.OutputShape);
            Assert.Equal(net.Summary, d.Layers);
            Assert.False(string.IsNullOrEmpty(d.NetGenVersion));
            Assert.DoesNotContain("+", d.NetGenVersion);
            Assert.Equal("42", d.Metadata["run"]);
            Assert.Equal("pt", d.Metadata["format"]);
            Assert.Equal(
                net.ParameterLayout.Concat(net.StateLayout).Select(p => p.Name).Append("batchnorm1.num_batches_tracked"),
                d.Tensors.Select(t => t.Name));
            Assert.Equal(new long[] { 3, 2, 3, 3 }, d.Tensors[0].Shape);
            Assert.Equal("F32", d.Tensors[0].Dtype);
            Assert.Equal(new[] { 2, 7, 6 }, net.InputShape);
            Assert.Equal(new[] { 3 }, net.OutputShape);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void A_metadata_key_in_NetGens_namespace_is_refused_before_anything_is_written()
    {
        var stream = new MemoryStream();
        var e = Assert.Throws<ArgumentException>(() => SafeTensors.Save(new XorNet(1), stream, new Dictionary<string, string> { ["netgen.class"] = "Other" }));
        Assert.Contains("'netgen.class' is NetGen's own", e.Message);
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void Describe_reads_files_NetGen_did_not_write_and_refuses_broken_ones()
    {
        byte[] file = File("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]);
        SafeTensorsDescription d = SafeTensors.Describe(new MemoryStream(file));
        Assert.Null(d.NetworkClass);
        Assert.Null(d.InputShape);
        Assert.Equal("w F64 (2)", Assert.Single(d.Tensors).ToString());
        Assert.Throws<InvalidDataException>(() => SafeTensors.Describe(new MemoryStream(file.AsSpan(0, file.Length - 1).ToArray()), "x"));
    }
}
