using System;
using System.Collections.Generic;
using System.Text;

namespace NetGen.SourceGenerators;

/// <summary><c>[Dense(units, Activation, UseBias, L1, L2)]</c>: <c>y = x·Wᵀ + b</c> on the last axis.</summary>
internal sealed record DenseSpec(int Units, ActivationKind Activation, bool UseBias, double L1, double L2, string? TiedTo, double InitStd) : LayerSpec
{
    public override string NamePrefix => "dense";

    public override string Display
    {
        get
        {
            var text = new StringBuilder("Dense(").Append(Units);
            if (Activation != ActivationKind.None)
            {
                text.Append(", ").Append(Activation);
            }

            if (!UseBias)
            {
                text.Append(", no bias");
            }

            if (L1 != 0)
            {
                text.Append(", L1 = ").Append(Format(L1));
            }

            if (L2 != 0)
            {
                text.Append(", L2 = ").Append(Format(L2));
            }

            if (TiedTo is not null)
            {
                text.Append(", tied to ").Append(TiedTo);
            }

            return text.Append(')').ToString();
        }
    }

    public static LayerSpec Read(AttributeArgs a) => new DenseSpec(
        a.Int(0),
        (ActivationKind)a.NamedInt("Activation", 0),
        a.NamedBool("UseBias", true),
        a.NamedDouble("L1", 0),
        a.NamedDouble("L2", 0),
        a.NamedString("TiedTo"),
        a.NamedDouble("InitStd", 0))
    { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError()
    {
        if (Units <= 0)
        {
            return $"units must be positive, but is {Units}";
        }

        if (!Enum.IsDefined(typeof(ActivationKind), Activation))
        {
            return $"Activation {(int)Activation} is not a NetGen.Activation value";
        }

        return NonNegativeFinite(L1, nameof(L1)) ?? NonNegativeFinite(L2, nameof(L2)) ?? NonNegativeFinite(InitStd, nameof(InitStd));
    }

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        EquatableArray<int> shape = x.Shape;
        if (shape.Length == 3)
        {
            int[] would = shape.AsSpan().ToArray();
            would[2] = Units;
            site.Report(DiagnosticDescriptors.DenseAfterImage.Id, Display, site.At, Shapes.FormatWithCount(shape), Shapes.Format(new EquatableArray<int>(would)));
        }

        int inFeatures = shape[shape.Length - 1];
        int[] outShape = shape.AsSpan().ToArray();
        outShape[outShape.Length - 1] = Units;
        string m = site.Method;
        ParamTensor? tied = null;
        if (TiedTo is not null)
        {
            if (!builder.Embeddings.TryGetValue(TiedTo, out tied))
            {
                string known = builder.Embeddings.Count == 0 ? string.Empty : "; the embeddings before it are " + string.Join(", ", System.Linq.Enumerable.Select(builder.Embeddings.Keys, k => "'" + k + "'"));
                site.Report(DiagnosticDescriptors.TiedNotFound.Id, Display, site.At, TiedTo, known);
                return false;
            }

            if (tied.Shape[0] != Units || tied.Shape[1] != inFeatures)
            {
                site.Report(DiagnosticDescriptors.TiedShape.Id, Display, site.At, TiedTo, Shapes.Format(tied.Shape), Shapes.Format(Shapes.Of(Units, inFeatures)));
                return false;
            }
        }

        var op = new DenseOp
        {
            Name = site.Name,
            Method = m,
            Display = Display,
            Input = x,
            Weight = tied ?? builder.AddParameter(site.Name + ".weight", m + "Weight", Units, inFeatures),
            Tied = tied is not null,
            InitStd = InitStd,
            Bias = UseBias ? builder.AddParameter(site.Name + ".bias", m + "Bias", Units) : null,
            Rows = Shapes.Product(shape) / inFeatures,
            InFeatures = inFeatures,
            OutFeatures = Units,
            L1 = L1,
            L2 = L2,
            HeInit = ActivationSpec.HeInitialization(Activation, site),
            Output = builder.AddTensor(m + "Out", ActivationSpec.OutputDescription(site.Name, Activation), new EquatableArray<int>(outShape), requiresGrad: true),
        };
        ActivationSpec.AddWeighted(builder, site, op, tied is null ? op.Weight : null, op.Bias, Activation);
        return true;
    }
}

/// <summary>The planned Dense: <c>Kernels.DenseForward</c>/<c>DenseBackward</c> with constant sizes.</summary>
internal sealed record DenseOp : PlanOp
{
    public ParamTensor Weight { get; init; } = null!;

    public ParamTensor? Bias { get; init; }

    /// <summary>Rows per sample (1 for a vector, T for a [T, D] sequence).</summary>
    public int Rows { get; init; }

    public int InFeatures { get; init; }

    public int OutFeatures { get; init; }

    public double L1 { get; init; }

    public double L2 { get; init; }

    public bool HeInit { get; init; }

    /// <summary>The weight is an embedding's (weight tying): initialised there, not here.</summary>
    public bool Tied { get; init; }

    /// <summary>
    /// TrainStep may leave this weight's gradient to the optimizer at small batches (the planner marks
    /// one weight at most: PlanBuilder.DeferLargestWeightGradient); backward then skips it.
    /// </summary>
    public bool DeferWeightGradient { get; init; }

    /// <summary>Initialise the weight from N(0, InitStd²) when positive.</summary>
    public double InitStd { get; init; }

    public override IEnumerable<ParamTensor> ParameterTensors => Bias is null ? new[] { Weight } : new[] { Weight, Bias };

    public override long MultiplyAdds => (long)Rows * InFeatures * OutFeatures;

    public override bool HasPenalty => L1 != 0 || L2 != 0;

    // Gemm (x·Wᵀ + b) on vectors; on sequences [T, D], MatMul by the transposed weight, then the bias.
    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        if (Input.Shape.Length == 1)
        {
            onnx.Node("Gemm", Name, Bias is null ? new[] { x, Weight.Name } : new[] { x, Weight.Name, Bias.Name }, new[] { y }, OnnxBuilder.Int("transB", 1));
            return;
        }

        string transposed = Name + ".weight_t", product = Bias is null ? y : y + "_product";
        onnx.Node("Transpose", Name + ".transpose", new[] { Weight.Name }, new[] { transposed }, OnnxBuilder.Ints("perm", 1, 0));
        onnx.Node("MatMul", Name, new[] { x, transposed }, new[] { product });
        if (Bias is not null)
        {
            onnx.Node("Add", Name + ".add_bias", new[] { product, Bias.Name }, new[] { y });
        }
    }

    public override void EmitMethods(IndentedWriter w)
    {
        string rows = Rows == 1 ? "n" : $"n * {Rows}";
        string dims = $"rows: {rows}, inFeatures: {InFeatures}, outFeatures: {OutFeatures}";
        string rowShape = Rows == 1 ? "n" : $"n*{Rows}";
        using (w.Block($"private void {Method}Forward(int n{InputParameter})"))
        {
            w.Line($"{Ex.Kernels}.DenseForward(");
            w.Line($"    {Ex.A(Output)}, // output ({rowShape}, {OutFeatures})");
            w.Line($"    {InputValues}, // input ({rowShape}, {InFeatures}){(ReadsCallerInput ? ", where the caller passed it" : "")}");
            w.Line($"    {Ex.P(Weight)}, // {Weight.Name} {Shapes.Dims(Weight.Shape)}");
            w.Line(Bias is { } b ? $"    {Ex.P(b)}, // {b.Name} {Shapes.Dims(b.Shape)}" : "    default, // no bias");
            w.Line($"    {dims}, threads: _productThreads);");
        }

        w.Line();
        using (w.Block($"private void {Method}Backward(int n{InputParameter})"))
        {
            w.Line($"{Ex.Kernels}.DenseBackward(");
            w.Line(Input.RequiresGrad
                ? $"    {DInput()}, // d input ({rowShape}, {InFeatures})"
                : "    default, // no layer before this one has parameters: its input needs no gradient");
            w.Line(DeferWeightGradient
                ? $"    _deferWeight ? default : {Ex.G(Weight)}, // d {Weight.Name}, unless TrainStep leaves it to the optimizer"
                : $"    {Ex.G(Weight)}, // d {Weight.Name}");
            w.Line(Bias is { } b ? $"    {Ex.G(b)}, // d {b.Name}" : "    default, // no bias");
            w.Line($"    {Ex.D(Output)}, // d output ({rowShape}, {OutFeatures})");
            w.Line($"    {InputValues},");
            w.Line($"    {Ex.P(Weight)},");
            if (OverwritesGradients)
            {
                w.Line($"    {dims},");
                w.Line("    accumulate: !_overwrite, // a fresh step's gradients are written, not added to");
            }
            else
            {
                w.Line($"    {dims},");
                w.Line("    accumulate: true,");
            }

            w.Line("    threads: _productThreads);");
        }

        w.Line();
    }

    /// <summary>
    /// Whether its backward writes its parameters' gradients instead of adding to them when the
    /// gradients start afresh (ComputeGradients): a weight of its own, no penalty added before backward.
    /// </summary>
    public override bool OverwritesGradients => !Tied && L1 == 0 && L2 == 0;

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        string bias = Bias is { } b ? Ex.P(b) : "default";
        string threads = s.Threads is { } t ? $", threads: {t}" : string.Empty; // the same bits on any thread count
        w.Line($"{Ex.Kernels}.DenseForward({s.Row(Output)}, {s.Row(Input)}, {Ex.P(Weight)}, {bias}, rows: 1, inFeatures: {InFeatures}, outFeatures: {OutFeatures}{threads});");
        return true;
    }

    public override void EmitInitialization(IndentedWriter w)
    {
        if (Tied)
        {
            w.Line($"// {Name}'s weight is {Weight.Name} (tied), initialised with it.");
        }
        else if (InitStd > 0)
        {
            w.Line($"global::NetGen.Initializers.Normal({Ex.P(Weight)}, std: {Ex.Float(InitStd)}, random);");
        }
        else
        {
            w.Line(HeInit
                ? $"global::NetGen.Initializers.HeNormal({Ex.P(Weight)}, fanIn: {InFeatures}, random);"
                : $"global::NetGen.Initializers.GlorotUniform({Ex.P(Weight)}, fanIn: {InFeatures}, fanOut: {OutFeatures}, random);");
        }

        if (Bias is { } bias)
        {
            w.Line($"{Ex.P(bias)}.Clear();");
        }
    }

    public override void EmitPenalty(IndentedWriter w, bool withGradients)
    {
        string gradient = withGradients ? Ex.G(Weight) : "default";
        w.Line($"loss += {Ex.Kernels}.WeightPenalty({gradient}, {Ex.P(Weight)}, l1: {Ex.Float(L1)}, l2: {Ex.Float(L2)}); // {Weight.Name}");
    }
}
