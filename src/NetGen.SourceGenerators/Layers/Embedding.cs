using System.Collections.Generic;

namespace NetGen.SourceGenerators;

/// <summary><c>[Embedding(vocabulary, dimension, InitStd)]</c>: token ids [T] to vectors [T, D], weight [V, D].</summary>
internal sealed record EmbeddingSpec(int Vocabulary, int Dimension, double InitStd) : LayerSpec
{
    public override string NamePrefix => "embedding";

    public override string Display => $"Embedding({Vocabulary}, {Dimension})";

    public override bool ReadsTokens => true;

    public static LayerSpec Read(AttributeArgs a) =>
        new EmbeddingSpec(a.Int(0), a.Int(1), a.NamedDouble("InitStd", 0)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError()
    {
        if (Vocabulary <= 0)
        {
            return $"vocabulary must be positive, but is {Vocabulary}";
        }

        if (Dimension <= 0)
        {
            return $"dimension must be positive, but is {Dimension}";
        }

        return NonNegativeFinite(InitStd, nameof(InitStd));
    }

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor tokens = builder.Current!;
        int length = tokens.Shape[0];
        var op = new EmbeddingOp
        {
            Name = site.Name,
            Method = site.Method,
            Display = Display,
            Input = tokens,
            Weight = builder.AddParameter(site.Name + ".weight", site.Method + "Weight", Vocabulary, Dimension),
            Dimension = Dimension,
            InitStd = InitStd == 0 ? 1 : InitStd,
            Output = builder.AddTensor(site.Method + "Out", site.Name + " output: one row per token", Shapes.Of(length, Dimension), requiresGrad: true),
        };
        builder.AddOp(op);
        builder.Embeddings[site.Name] = op.Weight;
        if (builder.Vocabulary == 0)
        {
            builder.Vocabulary = Vocabulary;
        }

        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, op.Output.Shape, op.Weight.LongSize);
        return true;
    }
}

/// <summary>The planned embedding: <c>Kernels.EmbeddingForward</c>/<c>EmbeddingBackward</c> on the token ids.</summary>
internal sealed record EmbeddingOp : PlanOp
{
    public ParamTensor Weight { get; init; } = null!;

    public int Dimension { get; init; }

    public double InitStd { get; init; }

    public override IEnumerable<ParamTensor> ParameterTensors => new[] { Weight };

    // Gather of the weight's rows by token id.
    public override void EmitOnnx(OnnxBuilder onnx) =>
        onnx.Node("Gather", Name, new[] { Weight.Name, onnx.In(Input) }, new[] { onnx.Out(Output) }, OnnxBuilder.Int("axis", 0));

    public override void EmitMethods(IndentedWriter w)
    {
        w.Line($"private void {Method}Forward(int n) =>");
        w.Line($"    {Ex.Kernels}.EmbeddingForward({Ex.A(Output)}, {Ex.I(Input)}, {Ex.P(Weight)}, dimension: {Dimension});");
        w.Line();
        w.Line($"private void {Method}Backward(int n) =>");
        w.Line($"    {Ex.Kernels}.EmbeddingBackward({Ex.G(Weight)}, {Ex.D(Output)}, {Ex.I(Input)}, dimension: {Dimension});");
        w.Line();
    }

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        w.Line($"{Ex.P(Weight)}.Slice(token * {Dimension}, {Dimension}).CopyTo({s.Row(Output)});");
        return true;
    }

    public override void EmitInitialization(IndentedWriter w) =>
        w.Line($"global::NetGen.Initializers.Normal({Ex.P(Weight)}, std: {Ex.Float(InitStd)}, random);");
}

/// <summary><c>[PositionalEmbedding(contextLength)]</c>: a learned [T, D] table added to a [T, D] sequence.</summary>
internal sealed record PositionalEmbeddingSpec(int ContextLength, double InitStd) : LayerSpec
{
    public override string NamePrefix => "positions";

    public override string Display => ContextLength == 0 ? "PositionalEmbedding" : $"PositionalEmbedding({ContextLength})";

    public static LayerSpec Read(AttributeArgs a) =>
        new PositionalEmbeddingSpec(a.Int(0), a.NamedDouble("InitStd", 0)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError()
    {
        if (ContextLength < 0)
        {
            return $"contextLength must be positive, but is {ContextLength}";
        }

        return NonNegativeFinite(InitStd, nameof(InitStd));
    }

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (!SequenceRules.IsSequence(x, site))
        {
            return false;
        }

        int length = x.Shape[0], dimension = x.Shape[1];
        if (ContextLength != 0 && ContextLength != length)
        {
            site.Report(DiagnosticDescriptors.ContextLength.Id, Display, site.At, ContextLength.ToString(System.Globalization.CultureInfo.InvariantCulture), Shapes.Format(x.Shape), length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return false;
        }

        var op = new PositionalOp
        {
            Name = site.Name,
            Method = site.Method,
            Display = Display,
            Input = x,
            Weight = builder.AddParameter(site.Name + ".weight", site.Method + "Weight", length, dimension),
            InitStd = InitStd == 0 ? 1 : InitStd,
            Output = builder.AddTensor(site.Method + "Out", site.Name + " output: input + position rows", x.Shape, requiresGrad: true),
        };
        builder.AddOp(op);
        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, x.Shape, op.Weight.LongSize);
        return true;
    }
}

/// <summary>The planned position embedding: <c>Kernels.PositionalForward</c>/<c>PositionalBackward</c>.</summary>
internal sealed record PositionalOp : PlanOp
{
    public ParamTensor Weight { get; init; } = null!;

    public double InitStd { get; init; }

    public override IEnumerable<ParamTensor> ParameterTensors => new[] { Weight };

    // The [T, D] table added to every sample (broadcast over the batch).
    public override void EmitOnnx(OnnxBuilder onnx) =>
        onnx.Node("Add", Name, new[] { onnx.In(Input), Weight.Name }, new[] { onnx.Out(Output) });

    public override void EmitMethods(IndentedWriter w)
    {
        w.Line($"private void {Method}Forward(int n) =>");
        w.Line($"    {Ex.Kernels}.PositionalForward({Ex.A(Output)}, {Ex.A(Input)}, {Ex.P(Weight)}, sampleSize: {Input.Size});");
        w.Line();
        w.Line($"private void {Method}Backward(int n) =>");
        w.Line($"    {Ex.Kernels}.PositionalBackward({DInput()}, {Ex.G(Weight)}, {Ex.D(Output)}, sampleSize: {Input.Size});");
        w.Line();
    }

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        int row = Input.Size / s.Length;
        w.Line($"{Ex.Kernels}.Add({s.Row(Output)}, {s.Row(Input)}, {Ex.P(Weight)}.Slice(p * {row}, {row}));");
        return true;
    }

    public override void EmitInitialization(IndentedWriter w) =>
        w.Line($"global::NetGen.Initializers.Normal({Ex.P(Weight)}, std: {Ex.Float(InitStd)}, random);");
}

/// <summary>Shape rules shared by the sequence layers.</summary>
internal static class SequenceRules
{
    /// <summary>True for a [T, D] sequence; else reports NG1012 on the layer.</summary>
    public static bool IsSequence(Tensor x, LayerSite site)
    {
        if (x.Shape.Length == 2)
        {
            return true;
        }

        site.Report(DiagnosticDescriptors.NeedsSequence.Id, site.Display, site.At, Shapes.FormatWithCount(x.Shape));
        return false;
    }
}
