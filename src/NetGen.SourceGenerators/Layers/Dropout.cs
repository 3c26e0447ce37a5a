using System.Collections.Generic;

namespace NetGen.SourceGenerators;

/// <summary><c>[Dropout(rate)]</c>: inverted dropout in training, the identity at inference.</summary>
internal sealed record DropoutSpec(double Rate) : LayerSpec
{
    public override string NamePrefix => "dropout";

    public override string Display => "Dropout(" + Format(Rate) + ")";

    public override bool IsTransparentForInitialization => true;

    public static LayerSpec Read(AttributeArgs a) => new DropoutSpec(a.Double(0, double.NaN)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() => Rate >= 0 && Rate < 1 ? null : $"rate must lie in [0, 1), but is {Format(Rate)}";

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        var op = new DropoutOp
        {
            Name = site.Name,
            Method = site.Method,
            Display = Display,
            Input = x,
            Rate = Rate,
            Mask = builder.AddTensor(site.Method + "Mask", site.Name + " mask (0 or 1/(1-rate))", x.Shape, requiresGrad: false),
            Output = builder.AddTensor(site.Method + "Out", site.Name + " output", x.Shape, x.RequiresGrad),
        };
        builder.AddOp(op);
        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, x.Shape, 0);
        return true;
    }
}

/// <summary>The planned dropout: the mask is drawn in training from the network's RandomSource and reused by backward.</summary>
internal sealed record DropoutOp : PlanOp
{
    public double Rate { get; init; }

    public Tensor Mask { get; init; } = null!;

    public override bool TakesTrainingFlag => true;

    public override IEnumerable<(Tensor Mask, double Rate)> DropoutMasks => new[] { (Mask, Rate) };

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        w.Line($"{s.Row(Input)}.CopyTo({s.Row(Output)}); // the identity at inference");
        return true;
    }

    // Inference: the identity.
    public override void EmitOnnx(OnnxBuilder onnx) =>
        onnx.Node("Identity", Name, new[] { onnx.In(Input) }, new[] { onnx.Out(Output) });

    /// <summary>
    /// The forward method of an op with a dropout mask: in training, the mask drawn (unless a batch
    /// split across threads had it drawn before the split) and <paramref name="training"/>; at
    /// inference, <paramref name="inference"/>.
    /// </summary>
    public static void EmitForward(IndentedWriter w, string method, Tensor mask, double rate, string training, string inference)
    {
        using (w.Block($"private void {method}Forward(int n, bool training)"))
        {
            using (w.Block("if (training)"))
            {
                using (w.Block("if (!_masksDrawn) // a batch split across threads has its masks drawn before the split"))
                {
                    w.Line($"{Ex.Kernels}.DropoutMask({Ex.A(mask)}, rate: {Ex.Float(rate)}, RandomSource);");
                }

                w.Line(training);
            }

            using (w.Block("else"))
            {
                w.Line(inference);
            }
        }
    }

    public override void EmitMethods(IndentedWriter w)
    {
        EmitForward(
            w, Method, Mask, Rate,
            $"{Ex.Kernels}.DropoutApply({Ex.A(Output)}, {Ex.A(Input)}, {Ex.A(Mask)});",
            $"{Ex.A(Input)}.CopyTo({Ex.A(Output)}); // identity at inference");

        w.Line();
        if (HasBackward)
        {
            w.Line($"private void {Method}Backward(int n) =>");
            w.Line($"    {Ex.Kernels}.DropoutBackward({DInput()}, {Ex.D(Output)}, {Ex.A(Mask)});");
            w.Line();
        }
    }
}
