using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary>Mirror of <c>NetGen.Activation</c> (same names and values).</summary>
internal enum ActivationKind
{
    None = 0,
    ReLU = 1,
    LeakyReLU = 2,
    Sigmoid = 3,
    Tanh = 4,
    Gelu = 5,
    Softmax = 6,
    GeluExact = 7,
}

/// <summary>
/// <c>[ReLU]</c>, <c>[LeakyReLU(alpha)]</c>, <c>[Sigmoid]</c>, <c>[Tanh]</c>, <c>[Gelu]</c>, <c>[GeluExact]</c>, <c>[Softmax]</c>:
/// an elementwise function (softmax over the last axis). Also the activation that Dense and
/// Conv2D apply through their <c>Activation</c> argument.
/// </summary>
internal sealed record ActivationSpec(ActivationKind Kind, double Alpha) : LayerSpec
{
    public override string NamePrefix => Kind.ToString().ToLowerInvariant();

    public override string Display => Kind == ActivationKind.LeakyReLU ? "LeakyReLU(" + Format(Alpha) + ")" : Kind.ToString();

    public override bool IsReluFamily => IsRelu(Kind);

    public static bool IsRelu(ActivationKind kind) => kind is ActivationKind.ReLU or ActivationKind.LeakyReLU or ActivationKind.Gelu or ActivationKind.GeluExact;

    public static LayerSpec Read(AttributeArgs a, ActivationKind kind) =>
        new ActivationSpec(kind, kind == ActivationKind.LeakyReLU ? a.Double(0, 0.01) : 0) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() =>
        Kind == ActivationKind.LeakyReLU && !(Alpha >= 0) ? $"alpha must be non-negative, but is {Format(Alpha)}" : null;

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        // A ReLU right after a BatchNorm over channels (in the same layer list) is done by the BatchNorm.
        if (!(Kind == ActivationKind.ReLU && site.Previous is BatchNormSpec && builder.FuseReluIntoBatchNorm(site.Name)))
        {
            AddOp(builder, Kind, Alpha, site.Name, site.Method, Display);
        }

        builder.AddRow(site.Name, Display, builder.Current!.Shape, 0);
        return true;
    }

    /// <summary>He initialisation for a weight whose own activation, or else the next layer, is ReLU-family.</summary>
    public static bool HeInitialization(ActivationKind own, LayerSite site) => own != ActivationKind.None ? IsRelu(own) : site.ReluFollows;

    /// <summary>The description of a weighted layer's output tensor.</summary>
    public static string OutputDescription(string name, ActivationKind own) =>
        name + " output" + (own == ActivationKind.None ? string.Empty : " (before " + own + ")");

    /// <summary>
    /// What Dense and Conv2D do once their op is built: add it, then the activation their
    /// <c>Activation</c> argument asks for (an op of its own), then their table row.
    /// </summary>
    public static void AddWeighted(PlanBuilder builder, LayerSite site, PlanOp op, ParamTensor? weight, ParamTensor? bias, ActivationKind own)
    {
        builder.AddOp(op);
        builder.Current = op.Output;
        if (own != ActivationKind.None)
        {
            AddOp(builder, own, 0.01, site.Name + "." + own.ToString().ToLowerInvariant(), site.Method + own, site.Display);
        }

        builder.AddRow(site.Name, site.Display, op.Output.Shape, (weight?.LongSize ?? 0) + (bias?.LongSize ?? 0));
    }

    /// <summary>Adds the op that applies <paramref name="kind"/> to <see cref="PlanBuilder.Current"/>.</summary>
    public static void AddOp(PlanBuilder builder, ActivationKind kind, double alpha, string name, string method, string display)
    {
        Tensor x = builder.Current!;
        var op = new ActivationOp
        {
            Name = name,
            Method = method,
            Display = display,
            Input = x,
            Kind = kind,
            Alpha = alpha,
            Columns = x.Shape[x.Shape.Length - 1],
            Output = builder.AddTensor(method + "Out", name + " output", x.Shape, x.RequiresGrad),
        };
        builder.AddOp(op);
        builder.Current = op.Output;
    }
}

/// <summary>The planned activation: <c>Kernels.ActivationForward</c>/<c>ActivationBackward</c>.</summary>
internal sealed record ActivationOp : PlanOp
{
    public ActivationKind Kind { get; init; }

    public double Alpha { get; init; }

    /// <summary>The last axis (softmax's rows).</summary>
    public int Columns { get; init; }

    private string Tail => $"global::NetGen.Activation.{Kind}, alpha: {(Kind == ActivationKind.LeakyReLU ? Ex.Float(Alpha) : "0f")}, cols: {Columns}";

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        w.Line($"{Ex.Kernels}.ActivationForward({s.Row(Output)}, {s.Row(Input)}, {Tail});");
        return true;
    }

    // One ONNX operator each, but the GELUs, which opset 17 lacks: written out, as PyTorch's exporter writes them.
    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        switch (Kind)
        {
            case ActivationKind.ReLU:
            case ActivationKind.Sigmoid:
            case ActivationKind.Tanh:
                onnx.Node(Kind == ActivationKind.ReLU ? "Relu" : Kind.ToString(), Name, new[] { x }, new[] { y });
                break;
            case ActivationKind.LeakyReLU:
                onnx.Node("LeakyRelu", Name, new[] { x }, new[] { y }, OnnxBuilder.Float("alpha", Alpha));
                break;
            case ActivationKind.Softmax:
                onnx.Node("Softmax", Name, new[] { x }, new[] { y }, OnnxBuilder.Int("axis", -1));
                break;
            case ActivationKind.GeluExact:
                // 0.5·x·(1 + erf(x/√2))
                string half = onnx.FloatConstant("gelu.half", new long[0], new[] { 0.5f }), one = onnx.FloatConstant("gelu.one", new long[0], new[] { 1f });
                onnx.Node("Div", Name + ".scale", new[] { x, onnx.FloatConstant("gelu.sqrt2", new long[0], new[] { 1.41421356f }) }, new[] { y + "_scaled" });
                onnx.Node("Erf", Name + ".erf", new[] { y + "_scaled" }, new[] { y + "_erf" });
                onnx.Node("Add", Name + ".add_one", new[] { y + "_erf", one }, new[] { y + "_plus_one" });
                onnx.Node("Mul", Name + ".times_x", new[] { x, y + "_plus_one" }, new[] { y + "_times_x" });
                onnx.Node("Mul", Name, new[] { y + "_times_x", half }, new[] { y });
                break;
            default:
                // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                string h = onnx.FloatConstant("gelu.half", new long[0], new[] { 0.5f }), o = onnx.FloatConstant("gelu.one", new long[0], new[] { 1f });
                onnx.Node("Mul", Name + ".square", new[] { x, x }, new[] { y + "_square" });
                onnx.Node("Mul", Name + ".cube", new[] { y + "_square", x }, new[] { y + "_cube" });
                onnx.Node("Mul", Name + ".cube_scaled", new[] { y + "_cube", onnx.FloatConstant("gelu.cubic", new long[0], new[] { 0.044715f }) }, new[] { y + "_cube_scaled" });
                onnx.Node("Add", Name + ".inner", new[] { x, y + "_cube_scaled" }, new[] { y + "_inner" });
                onnx.Node("Mul", Name + ".inner_scaled", new[] { y + "_inner", onnx.FloatConstant("gelu.sqrt_2_over_pi", new long[0], new[] { 0.7978845608f }) }, new[] { y + "_inner_scaled" });
                onnx.Node("Tanh", Name + ".tanh", new[] { y + "_inner_scaled" }, new[] { y + "_tanh" });
                onnx.Node("Add", Name + ".add_one", new[] { y + "_tanh", o }, new[] { y + "_plus_one" });
                onnx.Node("Mul", Name + ".times_x", new[] { x, y + "_plus_one" }, new[] { y + "_times_x" });
                onnx.Node("Mul", Name, new[] { y + "_times_x", h }, new[] { y });
                break;
        }
    }

    public override void EmitMethods(IndentedWriter w)
    {
        string tail = Tail;
        w.Line($"private void {Method}Forward(int n) =>");
        w.Line($"    {Ex.Kernels}.ActivationForward({Ex.A(Output)}, {Ex.A(Input)}, {tail});");
        w.Line();
        if (HasBackward)
        {
            w.Line($"private void {Method}Backward(int n) =>");
            w.Line($"    {Ex.Kernels}.ActivationBackward({DInput()}, {Ex.D(Output)}, {Ex.A(Input)}, {Ex.A(Output)}, {tail});");
            w.Line();
        }
    }
}
