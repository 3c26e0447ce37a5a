using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;

namespace NetGen.IO;

/// <summary>
/// Saves and loads a network's parameters and state in the safetensors format (the format of
/// PyTorch's and Hugging Face's <c>safetensors</c>): an 8-byte little-endian header length, a
/// UTF-8 JSON header naming each tensor with its dtype, shape and byte range, then the raw
/// little-endian data. Tensor names are the network's layout names (<c>dense1.weight</c>,
/// <c>batchnorm1.running_mean</c>), which are PyTorch's, so a state dict moves between the two.
/// </summary>
/// <remarks>
/// Loading checks every name, dtype, shape and byte range against the network before anything is
/// copied, and refuses a truncated or mismatched file with an <see cref="InvalidDataException"/>
/// naming the tensor: nothing is ever half-loaded. F32, F16, BF16 and F64 tensors load (converted
/// to float; F64 rounded to nearest); saving writes F32, or F16 / BF16 on request. Files that
/// break the format are refused as its reference implementation refuses them: a name given twice,
/// byte ranges that overlap, leave gaps, or do not fit their shape and dtype, bytes after the last
/// tensor. Each BatchNorm layer's <c>num_batches_tracked</c> (PyTorch's counter, an I64 scalar) is
/// written from <see cref="INetwork.BatchesTracked"/>, so that PyTorch's strict
/// <c>load_state_dict</c> accepts the file, and read back when present (the largest, should the
/// layers disagree). The header's metadata records the network (class, NetGen version, layer
/// table, input and output shapes; <see cref="Describe(string)"/> reads it). Saving writes a
/// temporary file and renames it over the target, so a failed save leaves no half-written file.
/// </remarks>
public static class SafeTensors
{
    /// <summary>The metadata keys NetGen writes; a caller's own keys may not start with <c>netgen.</c>.</summary>
    internal const string ClassKey = "netgen.class", VersionKey = "netgen.version", LayersKey = "netgen.layers",
        InputShapeKey = "netgen.input_shape", OutputShapeKey = "netgen.output_shape";

    private const string Counter = ".num_batches_tracked";

    /// <summary>Saves <paramref name="network"/>'s parameters and state to <paramref name="path"/>, atomically.</summary>
    /// <param name="network">The network.</param>
    /// <param name="path">The file; replaced only once the new one is complete.</param>
    /// <param name="metadata">Extra header metadata (string pairs); keys may not start with <c>netgen.</c>.</param>
    /// <param name="dtype">The element type written: F32 (exact, the default), F16 or BF16 (rounded to nearest even).</param>
    public static void Save(INetwork network, string path, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDtype dtype = SafeTensorsDtype.F32)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeTensorsWriter writer = Writer(network, dtype);
        Dictionary<string, string> header = Metadata(network, metadata);
        WriteAtomically(path, stream => writer.Write(stream, header));
    }

    /// <summary>Writes <paramref name="network"/>'s parameters and state to <paramref name="stream"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="stream">The stream written to.</param>
    /// <param name="metadata">Extra header metadata (string pairs); keys may not start with <c>netgen.</c>.</param>
    /// <param name="dtype">The element type written: F32 (exact, the default), F16 or BF16 (rounded to nearest even).</param>
    public static void Save(INetwork network, Stream stream, IReadOnlyDictionary<string, string>? metadata = null, SafeTensorsDtype dtype = SafeTensorsDtype.F32)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        Writer(network, dtype).Write(stream, Metadata(network, metadata));
    }

    /// <summary>Loads parameters and state saved by <see cref="Save(INetwork, string, IReadOnlyDictionary{string, string}?, SafeTensorsDtype)"/> (or by PyTorch) into <paramref name="network"/>.</summary>
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
        SafeTensorsFile file = SafeTensorsFile.Read(stream, name ?? "safetensors stream");
        // A checkpoint (Checkpoint.Save) loads as a model: its optimizer's and trainer's tensors are not foreign.
        Func<string, bool>? checkpoint = file.Metadata.ContainsKey(Checkpoint.KindKey)
            ? tensor => tensor.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal) || tensor.StartsWith("trainer.", StringComparison.Ordinal)
            : null;
        long? batches = CheckNetwork(network, file, checkpoint);
        LoadChecked(network, file, batches);
    }

    /// <summary>
    /// What a safetensors file holds, without loading it: every tensor's name, dtype and shape, and
    /// the header's metadata, with the network description NetGen writes (class, version, layer
    /// table, input and output shapes) read out; those are null for files NetGen did not write.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is truncated or malformed.</exception>
    public static SafeTensorsDescription Describe(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        return Describe(file, path);
    }

    /// <summary>As <see cref="Describe(string)"/>, from a stream.</summary>
    /// <exception cref="InvalidDataException">The data is truncated or malformed.</exception>
    public static SafeTensorsDescription Describe(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        SafeTensorsFile file = SafeTensorsFile.Read(stream, name ?? "safetensors stream");
        file.CheckLayout();
        var tensors = new List<TensorDescription>(file.Entries.Count);
        foreach (TensorEntry e in file.Entries)
        {
            tensors.Add(new TensorDescription(e.Name, e.Dtype, Array.AsReadOnly(e.Shape)));
        }

        return new SafeTensorsDescription(file.Metadata, tensors.AsReadOnly());
    }

    /// <summary>The tensors of <paramref name="network"/> in file order: parameters, tied aliases, state, then each BatchNorm layer's counter.</summary>
    internal static SafeTensorsWriter Writer(INetwork network, SafeTensorsDtype dtype)
    {
        if (!Enum.IsDefined(dtype))
        {
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a SafeTensorsDtype.");
        }

        var writer = new SafeTensorsWriter();
        foreach ((ParameterInfo info, bool state) in Tensors(network))
        {
            ParameterInfo tensor = info;
            writer.AddFloats(tensor.Name, tensor.Shape, tensor.Length, () => (state ? network.State : network.Parameters).Slice(tensor.Offset, tensor.Length), dtype);
        }

        foreach (string layer in BatchNormLayers(network))
        {
            writer.AddInt64(layer + Counter, network.BatchesTracked);
        }

        return writer;
    }

    /// <summary>NetGen's description of the network, then the caller's keys.</summary>
    internal static Dictionary<string, string> Metadata(INetwork network, IReadOnlyDictionary<string, string>? extra)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            [ClassKey] = network.GetType().FullName ?? network.GetType().Name,
            [VersionKey] = Version,
            [InputShapeKey] = SafeTensorsDescription.FormatShape(network.InputShape),
            [OutputShapeKey] = SafeTensorsDescription.FormatShape(network.OutputShape),
            [LayersKey] = network.Summary,
        };
        if (extra is not null)
        {
            foreach (KeyValuePair<string, string> pair in extra)
            {
                ArgumentNullException.ThrowIfNull(pair.Key, nameof(extra));
                ArgumentNullException.ThrowIfNull(pair.Value, nameof(extra));
                if (pair.Key.StartsWith("netgen.", StringComparison.Ordinal))
                {
                    throw new ArgumentException($"The metadata key '{pair.Key}' is NetGen's own (keys starting with 'netgen.' describe the network); choose another.", nameof(extra));
                }

                metadata[pair.Key] = pair.Value;
            }
        }

        return metadata;
    }

    /// <summary>The version of this NetGen assembly (its informational version, without the source revision).</summary>
    internal static string Version { get; } = ReadVersion();

    /// <summary>Writes through a temporary file renamed over <paramref name="path"/>: a failed write leaves the old file.</summary>
    internal static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                write(file);
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

    /// <summary>
    /// Checks every tensor of <paramref name="network"/> against <paramref name="file"/> and the
    /// file's layout, before anything is copied; returns the BatchNorm counter when the file has one.
    /// Names the caller also reads (<paramref name="allowed"/>: a checkpoint's optimizer state) are not foreign.
    /// </summary>
    internal static long? CheckNetwork(INetwork network, SafeTensorsFile file, Func<string, bool>? allowed)
    {
        string name = file.Name;
        var tensors = Tensors(network);
        var tied = new HashSet<string>(StringComparer.Ordinal);
        foreach (ParameterInfo t in network.TiedLayout)
        {
            tied.Add(t.Name);
        }

        // A tied tensor (lm_head.weight) may be absent, as safetensors' own save_model leaves it
        // out; when present it must hold the same values as the tensor it is tied to (else the
        // file is an untied model's, which this one cannot hold).
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach ((ParameterInfo info, _) in tensors)
        {
            expected.Add(info.Name);
            if (!file.ByName.TryGetValue(info.Name, out TensorEntry? entry))
            {
                if (tied.Contains(info.Name))
                {
                    continue;
                }

                throw new InvalidDataException($"{name}: tensor '{info.Name}' ({string.Join(", ", info.Shape)}) is missing.");
            }

            if (!SafeTensorsFile.IsFloat(entry.Dtype))
            {
                throw new InvalidDataException($"{name}: tensor '{info.Name}' is {entry.Dtype}; NetGen loads F32, F16, BF16 and F64.");
            }

            if (entry.Shape.Length != info.Shape.Count || !ShapeEquals(entry.Shape, info.Shape))
            {
                throw new InvalidDataException($"{name}: tensor '{info.Name}' has shape ({string.Join(", ", entry.Shape)}); the network needs ({string.Join(", ", info.Shape)}).");
            }
        }

        var counters = new HashSet<string>(StringComparer.Ordinal);
        foreach (string layer in BatchNormLayers(network))
        {
            counters.Add(layer + Counter);
        }

        foreach (TensorEntry extra in file.Entries)
        {
            // BatchNorm counters: this network's are read below; another layer's are PyTorch buffers NetGen keeps no value for, ignored as before.
            if (!expected.Contains(extra.Name) && !extra.Name.EndsWith(Counter, StringComparison.Ordinal) && allowed?.Invoke(extra.Name) != true)
            {
                throw new InvalidDataException($"{name}: tensor '{extra.Name}' is not part of this network; the file belongs to a different architecture.");
            }
        }

        file.CheckLayout();
        long? batches = null;
        foreach (string counter in counters)
        {
            if (file.ByName.TryGetValue(counter, out TensorEntry? entry))
            {
                long value = file.ReadInteger(entry);
                if (value < 0)
                {
                    throw new InvalidDataException($"{name}: tensor '{counter}' is {value}; a count of batches cannot be negative.");
                }

                batches = Math.Max(batches ?? 0, value);
            }
        }

        foreach (ParameterInfo alias in network.TiedLayout)
        {
            if (!file.ByName.TryGetValue(alias.Name, out TensorEntry? entry))
            {
                continue;
            }

            foreach (ParameterInfo primary in network.ParameterLayout)
            {
                if (primary.Offset == alias.Offset && file.ByName.TryGetValue(primary.Name, out TensorEntry? source) && !SameValues(file, entry, source, alias.Length))
                {
                    throw new InvalidDataException($"{name}: tensor '{alias.Name}' differs from '{primary.Name}', which this network ties it to; the file holds an untied model.");
                }
            }
        }

        return batches;
    }

    /// <summary>Copies a checked file's tensors into the network.</summary>
    internal static void LoadChecked(INetwork network, SafeTensorsFile file, long? batches)
    {
        foreach ((ParameterInfo info, bool state) in Tensors(network))
        {
            if (file.ByName.TryGetValue(info.Name, out TensorEntry? entry))
            {
                file.ReadFloats(entry, (state ? network.State : network.Parameters).Slice(info.Offset, info.Length));
            }

            // else an absent tied tensor: its values come with the tensor it is tied to
        }

        if (batches is { } count)
        {
            network.BatchesTracked = count;
        }
    }

    /// <summary>The BatchNorm layers, by their running means' names.</summary>
    private static IEnumerable<string> BatchNormLayers(INetwork network)
    {
        const string mean = ".running_mean";
        foreach (ParameterInfo s in network.StateLayout)
        {
            if (s.Name.EndsWith(mean, StringComparison.Ordinal))
            {
                yield return s.Name[..^mean.Length];
            }
        }
    }

    private static bool SameValues(SafeTensorsFile file, TensorEntry a, TensorEntry b, int length)
    {
        if (a.Dtype == b.Dtype)
        {
            return file.Bytes(a).SequenceEqual(file.Bytes(b));
        }

        var x = new float[length];
        var y = new float[length];
        file.ReadFloats(a, x);
        file.ReadFloats(b, y);
        return x.AsSpan().SequenceEqual(y);
    }

    private static string ReadVersion()
    {
        string? version = typeof(SafeTensors).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(version))
        {
            return typeof(SafeTensors).Assembly.GetName().Version?.ToString() ?? "unknown";
        }

        int plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
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
