using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NetGen.IO;

namespace NetGen.Tests;

public class SafeTensorsTests
{
    private static string TempFile() => Path.Combine(Path.GetTempPath(), "netgen-" + Guid.NewGuid().ToString("N") + ".safetensors");

    private static RegularizedNet Trained()
    {
        var net = new RegularizedNet(8, seed: 1);
        float[] x = Reference.RandomFloats(8 * RegularizedNet.InputSize, 1);
        int[] y = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        var adam = new Adam(0.01f);
        for (int i = 0; i < 5; i++)
        {
            net.TrainStep(x, y, adam);
        }

        return net;
    }

    [Fact]
    public void Round_trip_restores_parameters_and_state_exactly()
    {
        RegularizedNet trained = Trained();
        string path = TempFile();
        try
        {
            SafeTensors.Save(trained, path, new Dictionary<string, string> { ["format"] = "pt" });
            var loaded = new RegularizedNet(8, seed: 99);
            SafeTensors.Load(loaded, path);
            Assert.Equal(trained.Parameters.ToArray(), loaded.Parameters.ToArray());
            Assert.Equal(trained.State.ToArray(), loaded.State.ToArray());

            float[] x = Reference.RandomFloats(3 * RegularizedNet.InputSize, 5);
            var a = new float[12];
            var b = new float[12];
            trained.Forward(x, a);
            loaded.Forward(x, b);
            Assert.Equal(a, b);
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + "*.tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_file_follows_the_safetensors_layout()
    {
        var stream = new MemoryStream();
        var net = new XorNet(1, seed: 2);
        SafeTensors.Save(net, stream);
        byte[] bytes = stream.ToArray();
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        using JsonDocument header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength).TrimEnd());
        JsonElement w1 = header.RootElement.GetProperty("dense1.weight");
        Assert.Equal("F32", w1.GetProperty("dtype").GetString());
        Assert.Equal(new[] { 4, 2 }, w1.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new[] { 0, 32 }, w1.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new[] { 64, 68 }, header.RootElement.GetProperty("dense2.bias").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(8 + headerLength + (4 * XorNet.ParameterCount), bytes.Length);
        Assert.Equal(net.Parameters[0], BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + headerLength)));
    }

    public static TheoryData<string, string> Corruptions => new()
    {
        { "truncated", "occupies bytes" },
        { "header-length", "header length" },
        { "shape", "tensor 'dense1.weight' has shape (2, 4); the network needs (4, 2)" },
        { "missing", "tensor 'dense2.bias' (1) is missing" },
        { "dtype", "tensor 'dense1.weight' is I32; NetGen loads F32, F16, BF16 and F64" },
        { "extra", "tensor 'dense9.weight' is not part of this network" },
        { "json", "not valid safetensors JSON" },
        { "duplicate", "tensor 'dense1.bias' appears twice in the header" },
        { "overlap", "overlaps 'dense1.weight'; tensors must not share bytes" },
        { "gap", "belong to no tensor; the data must be contiguous" },
        { "trailing", "4 bytes follow the last tensor" },
        { "size", "tensor 'dense2.bias' occupies bytes" },
        { "short", "too short" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Mismatched_or_truncated_files_are_refused_naming_the_problem_and_nothing_is_loaded(string corruption, string message)
    {
        var stream = new MemoryStream();
        SafeTensors.Save(new XorNet(1, seed: 2), stream);
        byte[] bytes = stream.ToArray();
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        byte[] WithHeader(string h)
        {
            byte[] text = Encoding.UTF8.GetBytes(h);
            var result = new byte[8 + text.Length + (bytes.Length - 8 - headerLength)];
            BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)text.Length);
            text.CopyTo(result, 8);
            bytes.AsSpan(8 + headerLength).CopyTo(result.AsSpan(8 + text.Length));
            return result;
        }

        byte[] bad = corruption switch
        {
            "truncated" => bytes.AsSpan(0, bytes.Length - 3).ToArray(),
            "header-length" => bytes.Select((b, i) => i == 5 ? (byte)1 : b).ToArray(),
            "shape" => WithHeader(header.Replace("\"shape\":[4,2]", "\"shape\":[2,4]", StringComparison.Ordinal)),
            "missing" => WithHeader(header.Replace("\"dense2.bias\"", "\"dense2.offset\"", StringComparison.Ordinal)),
            "dtype" => WithHeader(header.Replace("\"F32\"", "\"I32\"", StringComparison.Ordinal)),
            "extra" => WithHeader(header.TrimEnd()[..^1] + ",\"dense9.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"),
            "json" => WithHeader("{\"dense1.weight\": [1, 2"),
            "duplicate" => WithHeader(header.TrimEnd()[..^1] + "," + Entry(header, "dense1.bias") + "}"),
            "overlap" => WithHeader(Offsets(header, "dense1.bias", -4, -4)),
            "gap" => WithHeader(Offsets(header, "dense2.bias", 4, 4)).Concat(new byte[4]).ToArray(),
            "trailing" => bytes.Concat(new byte[4]).ToArray(),
            "size" => WithHeader(Offsets(header, "dense2.bias", 0, 4)).Concat(new byte[4]).ToArray(),
            _ => bytes.AsSpan(0, 5).ToArray(),
        };

        var net = new XorNet(1, seed: 7);
        float[] before = net.Parameters.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(net, new MemoryStream(bad), "model.safetensors"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("model.safetensors: ", e.Message);
        Assert.Equal(before, net.Parameters.ToArray());
    }

    // The JSON text of tensor <paramref name="tensor"/>'s entry ("name":{...}).
    private static string Entry(string header, string tensor)
    {
        int start = header.IndexOf("\"" + tensor + "\"", StringComparison.Ordinal);
        return header[start..(header.IndexOf('}', start) + 1)];
    }

    // The header with tensor <paramref name="tensor"/>'s data_offsets moved by the given amounts.
    private static string Offsets(string header, string tensor, int begin, int end)
    {
        string entry = Entry(header, tensor);
        var m = System.Text.RegularExpressions.Regex.Match(entry, "\"data_offsets\":\\[(\\d+),(\\d+)\\]");
        string moved = entry.Replace(m.Value, $"\"data_offsets\":[{int.Parse(m.Groups[1].Value) + begin},{int.Parse(m.Groups[2].Value) + end}]", StringComparison.Ordinal);
        return header.Replace(entry, moved, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_for_another_architecture_is_refused()
    {
        var stream = new MemoryStream();
        SafeTensors.Save(new ThreeLayerNet(1), stream);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(new RegularizedNet(2), new MemoryStream(stream.ToArray())));
        Assert.Contains("dense1.weight", e.Message);
    }

    [Fact]
    public void A_failed_save_leaves_the_previous_file_intact()
    {
        string path = TempFile();
        try
        {
            File.WriteAllText(path, "previous");
            Assert.ThrowsAny<Exception>(() => SafeTensors.Save(new ThrowingNetwork(), path));
            Assert.Equal("previous", File.ReadAllText(path));
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + "*.tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_tied_weight_is_saved_under_both_names_as_pytorch_lists_it_and_loads_with_or_without_the_alias()
    {
        var gpt = new TinyGpt(1, seed: 80);
        Assert.Equal("lm_head.weight (11, 8) @ 0", Assert.Single(gpt.TiedLayout).ToString());
        using var saved = new MemoryStream();
        SafeTensors.Save(gpt, saved);
        byte[] file = saved.ToArray();
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, (int)BinaryPrimitives.ReadUInt64LittleEndian(file)));
        Assert.Equal(gpt.ParameterLayout.Count + 1, header.RootElement.EnumerateObject().Count(p => p.Name != "__metadata__"));
        Assert.Equal("[11,8]", header.RootElement.GetProperty("lm_head.weight").GetProperty("shape").GetRawText());

        var loaded = new TinyGpt(1, seed: 81);
        SafeTensors.Load(loaded, new MemoryStream(file));
        Assert.Equal(gpt.Parameters.ToArray(), loaded.Parameters.ToArray());

        // Without the alias (safetensors' save_model drops shared tensors): loads the same.
        var withoutAlias = new TinyGpt(1, seed: 82);
        SafeTensors.Load(withoutAlias, new MemoryStream(Rewrite(file, drop: "lm_head.weight")));
        Assert.Equal(gpt.Parameters.ToArray(), withoutAlias.Parameters.ToArray());

        // An untied model's file (lm_head differs from wte) cannot be held by a tied network: refused, nothing loaded.
        byte[] untied = (byte[])file.Clone();
        JsonElement range = header.RootElement.GetProperty("lm_head.weight").GetProperty("data_offsets");
        untied[8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(file) + range[0].GetInt32()] ^= 0x40;
        var refused = new TinyGpt(1, seed: 83);
        float[] before = refused.Parameters.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(refused, new MemoryStream(untied), "untied.safetensors"));
        Assert.Equal("untied.safetensors: tensor 'lm_head.weight' differs from 'transformer.wte.weight', which this network ties it to; the file holds an untied model.", e.Message);
        Assert.Equal(before, refused.Parameters.ToArray());
    }

    // The same file without tensor <paramref name="drop"/>, which must be the last in the data
    // (the tied alias is written after the parameters): header entry and bytes both removed.
    private static byte[] Rewrite(byte[] file, string drop)
    {
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var entries = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(file.AsSpan(8, length))!;
        int begin = entries[drop].GetProperty("data_offsets")[0].GetInt32();
        Assert.Equal(file.Length - 8 - length, entries[drop].GetProperty("data_offsets")[1].GetInt32());
        entries.Remove(drop);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(entries);
        var result = new byte[8 + json.Length + begin];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        file.AsSpan(8 + length, begin).CopyTo(result.AsSpan(8 + json.Length));
        return result;
    }

    /// <summary>A network whose parameters cannot be read, to make a save fail halfway.</summary>
    private sealed class ThrowingNetwork : INetwork
    {
        public int InputSize => 1;

        public int OutputSize => 1;

        public int ParameterCount => 1;

        public int MaxBatchSize => 1;

        public Span<float> Parameters => throw new InvalidOperationException("disk on fire");

        public Span<float> Gradients => Span<float>.Empty;

        public IReadOnlyList<ParameterInfo> ParameterLayout { get; } = new[] { new ParameterInfo("w", 0, 1) };

        public Span<float> State => Span<float>.Empty;

        public IReadOnlyList<ParameterInfo> StateLayout { get; } = Array.Empty<ParameterInfo>();

        public IReadOnlyList<ParameterInfo> TiedLayout { get; } = Array.Empty<ParameterInfo>();

        public SeededRandom RandomSource { get; } = new(0);

        public string Summary => "";

        public IReadOnlyList<int> InputShape { get; } = new[] { 1 };

        public IReadOnlyList<int> OutputShape { get; } = new[] { 1 };

        public long BatchesTracked { get; set; }

        public void Forward(ReadOnlySpan<float> inputs, Span<float> outputs)
        {
        }

        public void InitializeParameters(int seed)
        {
        }

        public void ZeroGrad()
        {
        }
    }
}
