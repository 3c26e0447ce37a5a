using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace NetGen.IO;

/// <summary>
/// Exports a network's inference graph as an ONNX model (IR version 8, opset 17) with its current
/// parameters and state as initializers, so that ONNX Runtime (or any ONNX consumer) computes what
/// <c>Forward</c> computes: the same outputs (probabilities where Forward returns probabilities),
/// BatchNorm with its running statistics, dropout as the identity. The input is named
/// <c>input</c> (float, or int64 token ids), shaped <c>[batch, ...InputShape]</c> with a dynamic
/// batch; the output <c>output</c>, <c>[batch, ...OutputShape]</c>.
/// </summary>
/// <remarks>
/// The graph comes from the generated code (<see cref="IOnnxExportable"/>): no reflection, so
/// export works under Native AOT. A network with a layer that has no ONNX form is refused with a
/// <see cref="NotSupportedException"/> naming the layer; no file is written.
/// </remarks>
public static class Onnx
{
    private const long IrVersion = 8;
    private const long Opset = 17;

    /// <summary>Writes <paramref name="network"/> as an ONNX model to <paramref name="path"/> (replaced only once complete).</summary>
    /// <exception cref="NotSupportedException">A layer of the network has no ONNX form.</exception>
    public static void Save(INetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] model = Model(network);
        SafeTensors.WriteAtomically(path, stream => stream.Write(model));
    }

    /// <summary>Writes <paramref name="network"/> as an ONNX model to <paramref name="stream"/>.</summary>
    /// <exception cref="NotSupportedException">A layer of the network has no ONNX form.</exception>
    public static void Save(INetwork network, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(Model(network));
    }

    private static byte[] Model(INetwork network)
    {
        if (network is not IOnnxExportable exportable)
        {
            throw new NotSupportedException($"{network.GetType().Name} does not describe its graph (IOnnxExportable); NetGen's generated networks do.");
        }

        OnnxGraph graph = exportable.OnnxGraph;
        if (graph.Unsupported is { } layer)
        {
            throw new NotSupportedException($"{network.GetType().Name} cannot be exported to ONNX: layer {layer} has no ONNX form in this version of NetGen.");
        }

        var model = new ProtoWriter();
        model.Int(1, IrVersion);
        model.String(2, "NetGen");
        model.String(3, SafeTensors.Version);
        model.Message(7, g => Graph(g, network, graph));
        model.Message(8, opset =>
        {
            opset.String(1, string.Empty);
            opset.Int(2, Opset);
        });
        return model.ToArray();
    }

    private static void Graph(ProtoWriter g, INetwork network, OnnxGraph graph)
    {
        foreach (OnnxNode node in graph.Nodes)
        {
            g.Message(1, n =>
            {
                foreach (string input in node.Inputs)
                {
                    n.String(1, input);
                }

                foreach (string output in node.Outputs)
                {
                    n.String(2, output);
                }

                n.String(3, node.Name);
                n.String(4, node.OpType);
                foreach (OnnxAttribute attribute in node.Attributes)
                {
                    n.Message(5, a => Attribute(a, attribute));
                }
            });
        }

        g.String(2, network.GetType().Name);
        foreach (ParameterInfo p in network.ParameterLayout)
        {
            g.Message(5, t => FloatTensor(t, p.Name, p.Shape, network.Parameters.Slice(p.Offset, p.Length)));
        }

        foreach (ParameterInfo s in network.StateLayout)
        {
            g.Message(5, t => FloatTensor(t, s.Name, s.Shape, network.State.Slice(s.Offset, s.Length)));
        }

        foreach (OnnxConstant c in graph.Constants)
        {
            g.Message(5, t =>
            {
                foreach (long d in c.Dims)
                {
                    t.Int(1, d);
                }

                t.Int(2, c.Floats is null ? 7 : 1); // INT64 or FLOAT
                t.String(8, c.Name);
                if (c.Floats is { } floats)
                {
                    var values = new float[floats.Count];
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = floats[i];
                    }

                    t.Bytes(9, LittleEndian(values));
                }
                else
                {
                    var bytes = new byte[8 * c.Int64s!.Count];
                    for (int i = 0; i < c.Int64s.Count; i++)
                    {
                        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), c.Int64s[i]);
                    }

                    t.Bytes(9, bytes);
                }
            });
        }

        g.Message(11, v => Value(v, OnnxGraph.InputName, graph.TokenInput ? 7 : 1, graph.InputShape));
        g.Message(12, v => Value(v, OnnxGraph.OutputName, 1, graph.OutputShape));
    }

    private static void Attribute(ProtoWriter a, OnnxAttribute attribute)
    {
        a.String(1, attribute.Name);
        switch (attribute.Kind)
        {
            case OnnxAttributeKind.Float:
                a.Fixed32(2, attribute.Float);
                a.Int(20, 1);
                break;
            case OnnxAttributeKind.Int:
                a.Int(3, attribute.Integer);
                a.Int(20, 2);
                break;
            case OnnxAttributeKind.String:
                a.Bytes(4, Encoding.UTF8.GetBytes(attribute.Text));
                a.Int(20, 3);
                break;
            default:
                foreach (long v in attribute.Integers)
                {
                    a.Int(8, v);
                }

                a.Int(20, 7);
                break;
        }
    }

    // TensorProto: dims (1), data_type (2: FLOAT = 1), name (8), raw_data (9, little-endian).
    private static void FloatTensor(ProtoWriter t, string name, IReadOnlyList<int> shape, ReadOnlySpan<float> values)
    {
        foreach (int d in shape)
        {
            t.Int(1, d);
        }

        t.Int(2, 1);
        t.String(8, name);
        t.Bytes(9, LittleEndian(values));
    }

    // ValueInfoProto: name (1), type (2) → TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1): dim_param "batch", then dim_values.
    private static void Value(ProtoWriter v, string name, int elementType, IReadOnlyList<int> sample)
    {
        v.String(1, name);
        v.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int(1, elementType);
            tensor.Message(2, shape =>
            {
                shape.Message(1, dim => dim.String(2, "batch"));
                foreach (int d in sample)
                {
                    shape.Message(1, dim => dim.Int(1, d));
                }
            });
        }));
    }

    private static byte[] LittleEndian(ReadOnlySpan<float> values)
    {
        byte[] bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < values.Length; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
            }
        }

        return bytes;
    }

    /// <summary>The few protobuf encodings ONNX's messages need: varints, fixed32 floats, length-delimited bytes and nested messages.</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream _buffer = new();

        public void Int(int field, long value)
        {
            Tag(field, 0);
            Varint((ulong)value);
        }

        public void Fixed32(int field, float value)
        {
            Tag(field, 5);
            Span<byte> bytes = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Bytes(int field, ReadOnlySpan<byte> value)
        {
            Tag(field, 2);
            Varint((ulong)value.Length);
            _buffer.Write(value);
        }

        public void Message(int field, Action<ProtoWriter> write)
        {
            var inner = new ProtoWriter();
            write(inner);
            Tag(field, 2);
            Varint((ulong)inner._buffer.Length);
            inner._buffer.Position = 0;
            inner._buffer.CopyTo(_buffer);
        }

        public byte[] ToArray() => _buffer.ToArray();

        private void Tag(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _buffer.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _buffer.WriteByte((byte)value);
        }
    }
}
