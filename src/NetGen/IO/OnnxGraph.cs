using System;
using System.Collections.Generic;

namespace NetGen.IO;

/// <summary>
/// A network whose generated code describes its inference graph in ONNX terms
/// (<see cref="Onnx.Save(INetwork, string)"/> writes it). Every generated network implements it.
/// </summary>
public interface IOnnxExportable
{
    /// <summary>The inference graph: nodes over named values, the parameters and state as initializers by their layout names.</summary>
    OnnxGraph OnnxGraph { get; }
}

/// <summary>
/// A network's inference graph as the generator wrote it: ONNX nodes (opset 17) over named
/// values, from one input (a batch of samples) to one output (what <c>Forward</c> writes), with
/// constants of its own. The network's parameters and state become initializers under their
/// layout names when the graph is saved.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>Creates the graph (generated code calls this).</summary>
    /// <param name="inputShape">One input sample's shape (the batch dimension is added, dynamic).</param>
    /// <param name="tokenInput">Whether the input is token ids (int64 in ONNX), not floats.</param>
    /// <param name="outputShape">One output sample's shape.</param>
    /// <param name="nodes">The nodes, in an order where each reads only values made before it.</param>
    /// <param name="constants">Constant tensors the nodes read besides the parameters.</param>
    /// <param name="unsupported">The first layer with no ONNX form (its display text and name), or null.</param>
    public OnnxGraph(IReadOnlyList<int> inputShape, bool tokenInput, IReadOnlyList<int> outputShape, IReadOnlyList<OnnxNode> nodes, IReadOnlyList<OnnxConstant> constants, string? unsupported = null)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(outputShape);
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(constants);
        InputShape = inputShape;
        TokenInput = tokenInput;
        OutputShape = outputShape;
        Nodes = nodes;
        Constants = constants;
        Unsupported = unsupported;
    }

    /// <summary>The graph input's name.</summary>
    public const string InputName = "input";

    /// <summary>The graph output's name.</summary>
    public const string OutputName = "output";

    /// <summary>One input sample's shape.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>Whether the input is token ids.</summary>
    public bool TokenInput { get; }

    /// <summary>One output sample's shape.</summary>
    public IReadOnlyList<int> OutputShape { get; }

    /// <summary>The nodes in order.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>Constant tensors besides the parameters.</summary>
    public IReadOnlyList<OnnxConstant> Constants { get; }

    /// <summary>The first layer with no ONNX form, or null when the whole network has one.</summary>
    public string? Unsupported { get; }
}

/// <summary>One ONNX node: an operator of the default domain with its inputs, outputs and attributes.</summary>
public sealed class OnnxNode
{
    /// <summary>Creates the node.</summary>
    /// <param name="opType">The operator (<c>Gemm</c>, <c>Conv</c>, ...).</param>
    /// <param name="name">The node's name (the layer's).</param>
    /// <param name="inputs">Input value names; an empty name is an omitted optional input.</param>
    /// <param name="outputs">Output value names.</param>
    /// <param name="attributes">Its attributes.</param>
    public OnnxNode(string opType, string name, string[] inputs, string[] outputs, params OnnxAttribute[] attributes)
    {
        OpType = opType;
        Name = name;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
    }

    /// <summary>The operator.</summary>
    public string OpType { get; }

    /// <summary>The node's name.</summary>
    public string Name { get; }

    /// <summary>Input value names.</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Output value names.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>Attributes.</summary>
    public IReadOnlyList<OnnxAttribute> Attributes { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{OpType} {Name}({string.Join(", ", Inputs)}) -> {string.Join(", ", Outputs)}";
}

/// <summary>An ONNX node attribute: an integer, a float, a list of integers, or a string.</summary>
public readonly struct OnnxAttribute
{
    private OnnxAttribute(string name, OnnxAttributeKind kind, long integer, float single, long[]? integers, string? text)
    {
        Name = name;
        Kind = kind;
        Integer = integer;
        Float = single;
        Integers = integers ?? Array.Empty<long>();
        Text = text ?? string.Empty;
    }

    /// <summary>The attribute's name.</summary>
    public string Name { get; }

    /// <summary>Which value it holds.</summary>
    public OnnxAttributeKind Kind { get; }

    /// <summary>The integer (Kind Int).</summary>
    public long Integer { get; }

    /// <summary>The float (Kind Float).</summary>
    public float Float { get; }

    /// <summary>The integers (Kind Ints).</summary>
    public IReadOnlyList<long> Integers { get; }

    /// <summary>The string (Kind String).</summary>
    public string Text { get; }

    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeKind.Int, value, 0, null, null);

    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Single(string name, float value) => new(name, OnnxAttributeKind.Float, 0, value, null, null);

    /// <summary>A list-of-integers attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, OnnxAttributeKind.Ints, 0, 0, values, null);

    /// <summary>A string attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name, OnnxAttributeKind.String, 0, 0, null, value);
}

/// <summary>What an <see cref="OnnxAttribute"/> holds.</summary>
public enum OnnxAttributeKind
{
    /// <summary>One 64-bit integer.</summary>
    Int,

    /// <summary>One float.</summary>
    Float,

    /// <summary>A list of 64-bit integers.</summary>
    Ints,

    /// <summary>A string.</summary>
    String,
}

/// <summary>A constant tensor of the graph (a shape for Reshape, a scalar, a mask): float or int64 values.</summary>
public sealed class OnnxConstant
{
    /// <summary>A float constant.</summary>
    public OnnxConstant(string name, long[] dims, float[] values)
    {
        Name = name;
        Dims = dims;
        Floats = values;
    }

    /// <summary>An int64 constant.</summary>
    public OnnxConstant(string name, long[] dims, long[] values)
    {
        Name = name;
        Dims = dims;
        Int64s = values;
    }

    /// <summary>The value's name.</summary>
    public string Name { get; }

    /// <summary>Its shape.</summary>
    public IReadOnlyList<long> Dims { get; }

    /// <summary>Its values when float.</summary>
    public IReadOnlyList<float>? Floats { get; }

    /// <summary>Its values when int64.</summary>
    public IReadOnlyList<long>? Int64s { get; }
}
