using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;

namespace NetGen.IO;

/// <summary>One tensor of a safetensors file: its name, dtype (F32, F16, BF16, F64, I64, ...) and shape (empty for a scalar).</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Dtype">Its element type as the file spells it.</param>
/// <param name="Shape">Its shape.</param>
public sealed record TensorDescription(string Name, string Dtype, IReadOnlyList<long> Shape)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Dtype} ({string.Join(", ", Shape)})";
}

/// <summary>What <see cref="SafeTensors.Describe(string)"/> read: the tensors and the header's metadata.</summary>
public sealed class SafeTensorsDescription
{
    internal SafeTensorsDescription(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<TensorDescription> tensors)
    {
        Metadata = metadata;
        Tensors = tensors;
    }

    /// <summary>The header's <c>__metadata__</c>: every key, NetGen's (<c>netgen.*</c>) and the saver's.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor, in the header's order.</summary>
    public IReadOnlyList<TensorDescription> Tensors { get; }

    /// <summary>The network's class (full name), when NetGen wrote the file.</summary>
    public string? NetworkClass => Value(SafeTensors.ClassKey);

    /// <summary>The version of NetGen that wrote the file.</summary>
    public string? NetGenVersion => Value(SafeTensors.VersionKey);

    /// <summary>The network's layer table (its <see cref="INetwork.Summary"/>).</summary>
    public string? Layers => Value(SafeTensors.LayersKey);

    /// <summary>The shape of one input sample, when NetGen wrote the file.</summary>
    public IReadOnlyList<int>? InputShape => ParseShape(Value(SafeTensors.InputShapeKey));

    /// <summary>The shape of one output sample, when NetGen wrote the file.</summary>
    public IReadOnlyList<int>? OutputShape => ParseShape(Value(SafeTensors.OutputShapeKey));

    /// <inheritdoc/>
    public override string ToString() =>
        $"{NetworkClass ?? "(not written by NetGen)"}: {Tensors.Count} tensors" +
        (InputShape is { } i && OutputShape is { } o ? $", input [{string.Join(", ", i)}], output [{string.Join(", ", o)}]" : string.Empty) +
        (NetGenVersion is { } v ? $", NetGen {v}" : string.Empty);

    /// <summary>A shape as metadata holds it: a JSON array, <c>[1, 28, 28]</c>.</summary>
    internal static string FormatShape(IReadOnlyList<int> shape)
    {
        var parts = new string[shape.Count];
        for (int i = 0; i < parts.Length; i++)
        {
            parts[i] = shape[i].ToString(CultureInfo.InvariantCulture);
        }

        return "[" + string.Join(", ", parts) + "]";
    }

    private string? Value(string key) => Metadata.TryGetValue(key, out string? value) ? value : null;

    private static IReadOnlyList<int>? ParseShape(string? text)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            var shape = new List<int>();
            foreach (JsonElement d in document.RootElement.EnumerateArray())
            {
                shape.Add(d.GetInt32());
            }

            return shape.AsReadOnly();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null; // not a shape: the raw text stays in Metadata
        }
    }
}
