using System.Linq;
using System.Text;

namespace NetGen.SourceGenerators;

/// <summary><c>[MaxPool2D(size, Stride, Padding, PaddingPixels)]</c> and <c>[AvgPool2D(...)]</c>, per channel of [C, H, W].</summary>
internal sealed record PoolSpec(bool Max, int Size, int? Stride, int Padding, int PaddingPixels) : LayerSpec
{
    public override string NamePrefix => Max ? "maxpool" : "avgpool";

    /// <summary>The stride in effect: the window side when not given (an explicit 0 is an error, as for Conv2D).</summary>
    public int EffectiveStride => Stride ?? Size;

    public override string Display
    {
        get
        {
            var pool = new StringBuilder(Max ? "MaxPool2D" : "AvgPool2D").Append('(').Append(Size);
            if (Stride is { } stride && stride != Size)
            {
                pool.Append(", Stride = ").Append(Stride);
            }

            return pool.Append(Windows.PaddingText(Padding, PaddingPixels)).Append(')').ToString();
        }
    }

    public static LayerSpec Read(AttributeArgs a, bool max) => new PoolSpec(
        max,
        a.Int(0),
        a.NamedInt("Stride", int.MinValue) is int stride && stride != int.MinValue ? stride : null,
        a.NamedInt("Padding", Windows.Valid),
        a.NamedInt("PaddingPixels", -1))
    { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() => Windows.ArgumentError(Size, EffectiveStride, 1, Padding, PaddingPixels, pooling: true);

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (!Windows.NeedsImage(site, x.Shape))
        {
            return false;
        }

        PlanWindow? window = Windows.Plan(site, x.Shape, x.Shape[0], Size, EffectiveStride, 1, Padding, PaddingPixels, convolution: false);
        if (window is null)
        {
            return false;
        }

        string m = site.Method;
        EquatableArray<int> outShape = Shapes.Of(x.Shape[0], window.OutHeight, window.OutWidth);
        BatchNormOp? before = Max ? builder.BatchNormBeforePool(site.Previous, x, window) : null;
        var op = new PoolOp
        {
            FusedInto = before?.Name,
            Name = site.Name,
            Method = m,
            Display = Display,
            Input = x,
            Max = Max,
            Window = window,
            Argmax = Max ? builder.AddIndexTensor(m + "Argmax", site.Name + " winning input index", outShape) : null,
            Output = builder.AddTensor(m + "Out", site.Name + " output", outShape, x.RequiresGrad),
        };
        if (before is not null)
        {
            builder.FusePoolIntoBatchNorm(op);
        }

        builder.AddOp(op);
        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, outShape, 0);
        return true;
    }
}

/// <summary>The planned max or average pooling.</summary>
internal sealed record PoolOp : PlanOp
{
    public bool Max { get; init; }

    public PlanWindow Window { get; init; } = null!;

    /// <summary>Max pooling: the winning input of every output, for backward.</summary>
    public Tensor? Argmax { get; init; }

    /// <summary>The BatchNorm whose training pass does this pooling (PlanBuilder.FusePoolIntoBatchNorm), or null.</summary>
    public string? FusedInto { get; init; }

    public override bool TakesTrainingFlag => FusedInto is not null;

    public override bool HasBackward => FusedInto is null && base.HasBackward;

    public override string NoBackwardNote => FusedInto is { } bn
        ? $"done in {bn}'s backward (from this pooling's output gradient and winners)."
        : base.NoBackwardNote;

    public override void EmitConstants(IndentedWriter w) => Windows.EmitConstant(w, Name, Method, Window);

    // Average pooling counts padding as zeros (count_include_pad), as NetGen's kernel does.
    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        string[] attributes = Windows.OnnxAttributes(Window, dilations: false);
        onnx.Node(Max ? "MaxPool" : "AveragePool", Name, new[] { x }, new[] { y }, Max ? attributes : attributes.Concat(new[] { OnnxBuilder.Int("count_include_pad", 1) }).ToArray());
    }

    public override void EmitMethods(IndentedWriter w)
    {
        string x = Ex.A(Input), y = Ex.A(Output), dy = Ex.D(Output);
        string forward = Argmax is { } argmax
            ? $"{Ex.ConvKernels}.MaxPoolForward({y}, {Ex.I(argmax)}, {x}, batch: n, {Method}Window);"
            : $"{Ex.ConvKernels}.AvgPoolForward({y}, {x}, batch: n, {Method}Window);";
        if (FusedInto is { } bn)
        {
            w.Line($"// In training {bn} pools as it normalises: this pooling runs in inference only.");
            using (w.Block($"private void {Method}Forward(int n, bool training)"))
            {
                using (w.Block("if (!training)"))
                {
                    w.Line(forward);
                }
            }
        }
        else
        {
            w.Line($"private void {Method}Forward(int n) =>");
            w.Line("    " + forward);
        }

        w.Line();
        if (HasBackward)
        {
            string backward = Argmax is { } a
                ? $"{Ex.ConvKernels}.MaxPoolBackward({DInput()}, {dy}, {Ex.I(a)}, batch: n, {Method}Window);"
                : $"{Ex.ConvKernels}.AvgPoolBackward({DInput()}, {dy}, batch: n, {Method}Window);";
            w.Line($"private void {Method}Backward(int n) =>");
            w.Line("    " + backward);
            w.Line();
        }
    }
}

/// <summary><c>[GlobalAveragePool]</c>: the mean of each channel, [C, H, W] → [C].</summary>
internal sealed record GlobalAveragePoolSpec : LayerSpec
{
    public override string NamePrefix => "globalavgpool";

    public override string Display => "GlobalAveragePool";

    public static LayerSpec Read(AttributeArgs a) => new GlobalAveragePoolSpec { AttributeIndex = a.Index, Name = a.LayerName };

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (!Windows.NeedsImage(site, x.Shape))
        {
            return false;
        }

        EquatableArray<int> pooled = Shapes.Of(x.Shape[0]);
        var op = new GlobalAveragePoolOp
        {
            Name = site.Name,
            Method = site.Method,
            Display = Display,
            Input = x,
            Channels = x.Shape[0],
            Spatial = x.Shape[1] * x.Shape[2],
            Output = builder.AddTensor(site.Method + "Out", site.Name + " output", pooled, x.RequiresGrad),
        };
        builder.AddOp(op);
        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, pooled, 0);
        return true;
    }
}

/// <summary>The planned global average pooling.</summary>
internal sealed record GlobalAveragePoolOp : PlanOp
{
    public int Channels { get; init; }

    public int Spatial { get; init; }

    // GlobalAveragePool keeps [C, 1, 1]; NetGen's output is the vector [C].
    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        onnx.Node("GlobalAveragePool", Name, new[] { x }, new[] { y + "_pooled" });
        onnx.Node("Flatten", Name + ".flatten", new[] { y + "_pooled" }, new[] { y }, OnnxBuilder.Int("axis", 1));
    }

    public override void EmitMethods(IndentedWriter w)
    {
        w.Line($"private void {Method}Forward(int n) =>");
        w.Line($"    {Ex.ConvKernels}.GlobalAveragePoolForward({Ex.A(Output)}, {Ex.A(Input)}, batch: n, channels: {Channels}, spatial: {Spatial});");
        w.Line();
        if (HasBackward)
        {
            w.Line($"private void {Method}Backward(int n) =>");
            w.Line($"    {Ex.ConvKernels}.GlobalAveragePoolBackward({DInput()}, {Ex.D(Output)}, batch: n, channels: {Channels}, spatial: {Spatial});");
            w.Line();
        }
    }
}
