using System;
using System.Collections.Generic;
using System.Text;

namespace NetGen.SourceGenerators;

/// <summary><c>[Conv2D(filters, kernel, Stride, Padding, PaddingPixels, Dilation, UseBias, Activation)]</c> over [C, H, W].</summary>
internal sealed record Conv2DSpec(int Filters, int Kernel, int Stride, int Dilation, int Padding, int PaddingPixels, bool UseBias, ActivationKind Activation) : LayerSpec
{
    public override string NamePrefix => "conv";

    public override string Display
    {
        get
        {
            var conv = new StringBuilder("Conv2D(").Append(Filters).Append(", ").Append(Kernel);
            if (Stride != 1)
            {
                conv.Append(", Stride = ").Append(Stride);
            }

            if (Dilation != 1)
            {
                conv.Append(", Dilation = ").Append(Dilation);
            }

            conv.Append(Windows.PaddingText(Padding, PaddingPixels));
            if (Activation != ActivationKind.None)
            {
                conv.Append(", ").Append(Activation);
            }

            if (!UseBias)
            {
                conv.Append(", no bias");
            }

            return conv.Append(')').ToString();
        }
    }

    public static LayerSpec Read(AttributeArgs a) => new Conv2DSpec(
        a.Int(0),
        a.Int(1),
        a.NamedInt("Stride", 1),
        a.NamedInt("Dilation", 1),
        a.NamedInt("Padding", Windows.Valid),
        a.NamedInt("PaddingPixels", -1),
        a.NamedBool("UseBias", true),
        (ActivationKind)a.NamedInt("Activation", 0))
    { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() =>
        Filters <= 0 ? $"filters must be positive, but is {Filters}"
        : Windows.ArgumentError(Kernel, Stride, Dilation, Padding, PaddingPixels, pooling: false)
        ?? (!Enum.IsDefined(typeof(ActivationKind), Activation) ? $"Activation {(int)Activation} is not a NetGen.Activation value" : null);

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (!Windows.NeedsImage(site, x.Shape))
        {
            return false;
        }

        PlanWindow? window = Windows.Plan(site, x.Shape, Filters, Kernel, Stride, Dilation, Padding, PaddingPixels, convolution: true);
        if (window is null)
        {
            return false;
        }

        string m = site.Method;
        var op = new ConvOp
        {
            Name = site.Name,
            Method = m,
            Display = Display,
            Input = x,
            Window = window,
            Filters = Filters,
            Weight = builder.AddParameter(site.Name + ".weight", m + "Weight", Filters, x.Shape[0], Kernel, Kernel),
            Bias = UseBias ? builder.AddParameter(site.Name + ".bias", m + "Bias", Filters) : null,
            HeInit = ActivationSpec.HeInitialization(Activation, site),
            Output = builder.AddTensor(m + "Out", ActivationSpec.OutputDescription(site.Name, Activation), Shapes.Of(Filters, window.OutHeight, window.OutWidth), requiresGrad: true),
        };
        builder.NeedColumns(op.ColumnsSize);
        ActivationSpec.AddWeighted(builder, site, op, op.Weight, op.Bias, Activation);
        return true;
    }
}

/// <summary>The planned convolution: im2col into the shared scratch, then the matrix product.</summary>
internal sealed record ConvOp : PlanOp
{
    public PlanWindow Window { get; init; } = null!;

    public int Filters { get; init; }

    public ParamTensor Weight { get; init; } = null!;

    public ParamTensor? Bias { get; init; }

    public bool HeInit { get; init; }

    public override IEnumerable<ParamTensor> ParameterTensors => Bias is null ? new[] { Weight } : new[] { Weight, Bias };

    /// <summary>
    /// The BatchNorm that makes this convolution's output itself in training and takes its weight gradient (a
    /// stem: PlanBuilder.FuseStems), or null. The convolution then runs on its own in inference only.
    /// </summary>
    public string? StemOf { get; init; }

    public override bool TakesTrainingFlag => StemOf is not null;

    public override bool HasBackward => StemOf is null && base.HasBackward;

    public override string NoBackwardNote => StemOf is { } bn
        ? $"done in {bn}'s backward (the stem: the weight gradient from the patches and {bn}'s sums)."
        : base.NoBackwardNote;

    public override long MultiplyAdds => (long)Filters * Window.PatchSize * Window.Positions;

    public override void EmitConstants(IndentedWriter w) => Windows.EmitConstant(w, Name, Method, Window);

    /// <summary>
    /// Samples that go through one product: the largest power of two (16 at most) whose patch matrices and
    /// outputs fit in 1 MB of scratch (2^18 floats); 1 when even two do not fit (then sample by sample).
    /// The product then works from L2 rather than L3, and a power of two divides the usual batch sizes
    /// (no one-sample remainder). Measured on the sample CNN's second convolution (16x14x14 to 32 filters,
    /// batch 64, interleaved calls): 16 samples (2.2 MB) forward 2.03-2.34 ms and backward 3.13-3.29 ms,
    /// 4 samples 1.37-1.51 and 2.56-2.70; 3 samples (a 588-wide product and a lone last sample) 2.0-2.25
    /// and 3.2-3.3. From 128 output positions in whole groups of 4, 1: the kernels go sample by sample there
    /// whatever the scratch (NetGen.ConvKernels.PerSampleFrom, which has the measurements), so no scratch is
    /// sized for more.
    /// </summary>
    public int SamplesPerProduct
    {
        get
        {
            if (Window.Positions >= 128 && Window.Positions % 4 == 0)
            {
                return 1;
            }

            long perSample = (long)(Window.PatchSize + Filters) * Window.Positions;
            long fit = Math.Max(1, Math.Min(16, (1L << 18) / Math.Max(1, perSample)));
            int samples = 1;
            while (samples * 2 <= fit)
            {
                samples *= 2;
            }

            return samples;
        }
    }

    /// <summary>
    /// The scratch the convolution uses: the patch matrices of <see cref="SamplesPerProduct"/> samples (one or
    /// more), with two or more their outputs, and the weight gradient transposed (NetGen.ConvKernels.BatchedColumns).
    /// </summary>
    public long ColumnsSize => SamplesPerProduct >= 2
        ? ((long)SamplesPerProduct * (Window.PatchSize + Filters) * Window.Positions) + ((long)Window.PatchSize * Filters)
        : (long)Window.PatchSize * (Window.Positions + Filters);

    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        onnx.Node("Conv", Name, Bias is null ? new[] { x, Weight.Name } : new[] { x, Weight.Name, Bias.Name }, new[] { y }, Windows.OnnxAttributes(Window, dilations: true));
    }

    public override void EmitMethods(IndentedWriter w)
    {
        PlanWindow g = Window;
        string columns = $"W(Columns, {Shapes.Clamp(ColumnsSize)})";
        string bias = Bias is { } b ? Ex.P(b) : "default";
        string dBias = Bias is { } db ? Ex.G(db) : "default";
        string[] forward =
        {
            $"{Ex.ConvKernels}.Conv2DForward(",
            $"    {Ex.A(Output)}, {columns}, // output (n, {Filters}, {g.OutHeight}, {g.OutWidth}), {(SamplesPerProduct >= 2 ? $"im2col scratch for {SamplesPerProduct} samples and their outputs" : "im2col scratch, sample by sample")}",
            $"    {InputValues}, {Ex.P(Weight)}, {bias}, // input{(ReadsCallerInput ? " (where the caller passed it)" : "")}, {Weight.Name} {Shapes.Dims(Weight.Shape)}, bias",
            $"    batch: n, filters: {Filters}, {Method}Window);",
        };
        if (StemOf is { } stem)
        {
            w.Line($"// In training {stem} makes this convolution's output a sample at a time as it normalises it (the stem):");
            w.Line("// the convolution runs on its own in inference only, and its gradient is made in that BatchNorm's backward.");
            using (w.Block($"private void {Method}Forward(int n, bool training{InputParameter})"))
            {
                using (w.Block("if (!training)"))
                {
                    foreach (string line in forward)
                    {
                        w.Line(line);
                    }
                }
            }

            w.Line();
            return;
        }

        w.Line($"private void {Method}Forward(int n{InputParameter}) =>");
        foreach (string line in forward)
        {
            w.Line("    " + line);
        }

        w.Line();
        w.Line($"private void {Method}Backward(int n{InputParameter}) =>");
        w.Line($"    {Ex.ConvKernels}.Conv2DBackward(");
        w.Line(Input.RequiresGrad
            ? $"        {DInput()}, // d input"
            : "        default, // no layer before this one has parameters: its input needs no gradient");
        w.Line($"        {Ex.G(Weight)}, {dBias}, {columns},");
        w.Line($"        {Ex.D(Output)}, {InputValues}, {Ex.P(Weight)},");
        w.Line($"        batch: n, filters: {Filters}, {Method}Window);");
        w.Line();
    }

    public override void EmitInitialization(IndentedWriter w)
    {
        int fanIn = Window.PatchSize;
        int fanOut = Filters * Window.Kernel * Window.Kernel;
        w.Line(HeInit
            ? $"global::NetGen.Initializers.HeNormal({Ex.P(Weight)}, fanIn: {fanIn}, random);"
            : $"global::NetGen.Initializers.GlorotUniform({Ex.P(Weight)}, fanIn: {fanIn}, fanOut: {fanOut}, random);");
        if (Bias is { } bias)
        {
            w.Line($"{Ex.P(bias)}.Clear();");
        }
    }
}
