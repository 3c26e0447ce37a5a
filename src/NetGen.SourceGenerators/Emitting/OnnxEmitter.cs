using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>
/// Collects a network's inference graph in ONNX terms while each op adds its nodes
/// (<see cref="PlanOp.EmitOnnx"/>), then writes it as the generated <c>CreateOnnxGraph</c> method:
/// one line per node. Tracks the sample shape of each value, so that a consumer that reads a
/// tensor under another shape (a Flatten, which costs nothing in NetGen's arena) gets a Reshape.
/// </summary>
internal sealed class OnnxBuilder
{
    private const string Attribute = "global::NetGen.IO.OnnxAttribute";
    private readonly NetworkPlan _plan;
    private readonly Dictionary<string, (string Value, EquatableArray<int> Shape)> _values = new();
    private readonly Dictionary<string, string> _reshaped = new();
    private readonly List<string> _nodes = new();
    private readonly List<string> _constants = new();
    private readonly HashSet<string> _constantNames = new();
    private readonly HashSet<string> _nodeNames = new();

    public OnnxBuilder(NetworkPlan plan)
    {
        _plan = plan;
        if (plan.InputTensor is { } input)
        {
            _values[input.Const] = ("input", input.Shape);
        }
    }

    /// <summary>The first op with no ONNX form (display text and name), or null.</summary>
    public string? Unsupported { get; private set; }

    /// <summary>The ONNX value holding <paramref name="t"/> under its shape: reshaped (once) when it was made under another.</summary>
    public string In(Tensor t)
    {
        if (!_values.TryGetValue(t.Const, out var made))
        {
            return t.Const; // made by an op with no ONNX form: the graph is refused at export anyway
        }

        (string value, EquatableArray<int> shape) = made;
        if (shape.Equals(t.Shape))
        {
            return value;
        }

        string key = value + "|" + Shapes.Format(t.Shape);
        if (!_reshaped.TryGetValue(key, out string? reshaped))
        {
            reshaped = value + "_" + string.Join("x", t.Shape.AsSpan().ToArray());
            string target = Int64Constant(reshaped + "_shape", new long[] { t.Shape.Length + 1 }, new long[] { -1 }.Concat(t.Shape.AsSpan().ToArray().Select(d => (long)d)).ToArray());
            Node("Reshape", reshaped, new[] { value, target }, new[] { reshaped });
            _reshaped[key] = reshaped;
        }

        return reshaped;
    }

    /// <summary>The value name <paramref name="t"/> is made under (its offset constant's name).</summary>
    public string Out(Tensor t)
    {
        _values[t.Const] = (t.Const, t.Shape);
        return t.Const;
    }

    /// <summary>Adds a node; <paramref name="attributes"/> are C# expressions (see <see cref="Int"/>, <see cref="Ints"/>, <see cref="Float"/>).</summary>
    public void Node(string opType, string name, string[] inputs, string[] outputs, params string[] attributes)
    {
        // Node names are unique in ONNX; ops may share one (two residual adds of a block named "").
        string unique = name;
        for (int copy = 2; !_nodeNames.Add(unique); copy++)
        {
            unique = name + "_" + copy.ToString(CultureInfo.InvariantCulture);
        }

        name = unique;

        string list = string.Join(", ", inputs.Select(NetworkEmitter.Literal));
        string outs = string.Join(", ", outputs.Select(NetworkEmitter.Literal));
        string tail = attributes.Length == 0 ? string.Empty : ", " + string.Join(", ", attributes);
        _nodes.Add($"new(\"{opType}\", {NetworkEmitter.Literal(name)}, new string[] {{ {list} }}, new string[] {{ {outs} }}{tail}),");
    }

    /// <summary>A float constant (added once under its name); returns the name.</summary>
    public string FloatConstant(string name, long[] dims, float[] values)
    {
        if (_constantNames.Add(name))
        {
            _constants.Add($"new({NetworkEmitter.Literal(name)}, new long[] {{ {string.Join(", ", dims)} }}, new float[] {{ {string.Join(", ", values.Select(v => Ex.Float(v)))} }}),");
        }

        return name;
    }

    /// <summary>An int64 constant (added once under its name); returns the name.</summary>
    public string Int64Constant(string name, long[] dims, long[] values)
    {
        if (_constantNames.Add(name))
        {
            _constants.Add($"new({NetworkEmitter.Literal(name)}, new long[] {{ {string.Join(", ", dims)} }}, new long[] {{ {string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)))} }}),");
        }

        return name;
    }

    /// <summary>Marks <paramref name="op"/> as having no ONNX form (the first one is reported at export).</summary>
    public void NotSupported(PlanOp op)
    {
        Unsupported ??= $"{op.Display} '{op.Name}'";
        Out(op.Output);
    }

    public static string Int(string name, long value) => $"{Attribute}.Int(\"{name}\", {value.ToString(CultureInfo.InvariantCulture)})";

    public static string Ints(string name, params long[] values) => $"{Attribute}.Ints(\"{name}\", {string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)))})";

    public static string Float(string name, double value) => $"{Attribute}.Single(\"{name}\", {Ex.Float(value)})";

    /// <summary>Writes <c>CreateOnnxGraph</c>: every op's nodes, then the output node (softmax or sigmoid where Forward returns probabilities).</summary>
    public static void Emit(IndentedWriter w, NetworkPlan plan)
    {
        var b = new OnnxBuilder(plan);
        foreach (PlanOp op in plan.Ops)
        {
            op.EmitOnnx(b);
        }

        if (plan.Last is { } last && b.Unsupported is null)
        {
            string value = b.In(last);
            string? output = plan.Probabilities is null ? null : plan.Loss?.OnnxOutput;
            b.Node(output ?? "Identity", output is null ? "output" : output.ToLowerInvariant(), new[] { value }, new[] { "output" }, output == "Softmax" ? new[] { Int("axis", -1) } : new string[0]);
        }

        w.Line("// The inference graph in ONNX terms (opset 17), for NetGen.IO.Onnx.Save: each layer's nodes over");
        w.Line("// named values; the parameters and state become initializers under their layout names.");
        w.Line("public static global::NetGen.IO.OnnxGraph CreateOnnxGraph() => new(");
        w.Line($"    InputShape, tokenInput: {(plan.TokenInput ? "true" : "false")}, OutputShape,");
        w.Line("    new global::NetGen.IO.OnnxNode[]");
        w.Line("    {");
        foreach (string node in b._nodes)
        {
            w.Line("        " + node);
        }

        w.Line("    },");
        w.Line("    new global::NetGen.IO.OnnxConstant[]");
        w.Line("    {");
        foreach (string constant in b._constants)
        {
            w.Line("        " + constant);
        }

        w.Line("    },");
        w.Line($"    unsupported: {(b.Unsupported is null ? "null" : NetworkEmitter.Literal(b.Unsupported))});");
        w.Line();
    }
}
