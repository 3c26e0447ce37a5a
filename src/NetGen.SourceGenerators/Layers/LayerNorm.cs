using System.Collections.Generic;

namespace NetGen.SourceGenerators;

/// <summary><c>[LayerNorm(Epsilon, UseBias)]</c>: normalisation of each position over the last axis of a vector or a [T, D] sequence.</summary>
internal sealed record LayerNormSpec(double Epsilon, bool UseBias) : LayerSpec
{
    public override string NamePrefix => "layernorm";

    public override string Display => "LayerNorm" + (Epsilon == 1e-5 ? string.Empty : "(ε = " + Format(Epsilon) + ")");

    public override bool IsTransparentForInitialization => true;

    public static LayerSpec Read(AttributeArgs a) =>
        new LayerNormSpec(a.NamedDouble("Epsilon", 1e-5), a.NamedBool("UseBias", true)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() =>
        Epsilon > 0 && !double.IsInfinity(Epsilon) ? null : $"Epsilon must be positive and finite, but is {Format(Epsilon)}";

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (x.Shape.Length > 2 && !SequenceRules.IsSequence(x, site))
        {
            return false;
        }

        int cols = x.Shape[x.Shape.Length - 1];
        int rows = x.Size / cols;
        string m = site.Method;
        var op = new LayerNormOp
        {
            Name = site.Name,
            Method = m,
            Display = Display,
            Input = x,
            Weight = builder.AddParameter(site.Name + ".weight", m + "Weight", cols),
            Bias = UseBias ? builder.AddParameter(site.Name + ".bias", m + "Bias", cols) : null,
            Rows = rows,
            Columns = cols,
            Epsilon = Epsilon,
            Mean = builder.AddTensor(m + "Mean", site.Name + " mean of each row", Shapes.Of(rows), requiresGrad: false),
            Rstd = builder.AddTensor(m + "Rstd", site.Name + " 1/sqrt(variance + eps) of each row", Shapes.Of(rows), requiresGrad: false),
            Scratch = builder.AddScratch(2 * cols),
            Output = builder.AddTensor(m + "Out", site.Name + " output", x.Shape, requiresGrad: true),
        };
        builder.AddOp(op);
        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, x.Shape, op.Weight.LongSize + (op.Bias?.LongSize ?? 0));
        return true;
    }
}

/// <summary>The planned layer normalisation: <c>Kernels.LayerNormForward</c>/<c>LayerNormBackward</c>.</summary>
internal sealed record LayerNormOp : PlanOp
{
    public ParamTensor Weight { get; init; } = null!;

    public ParamTensor? Bias { get; init; }

    /// <summary>Rows per sample (T for a sequence, 1 for a vector).</summary>
    public int Rows { get; init; }

    public int Columns { get; init; }

    public double Epsilon { get; init; }

    public Tensor Mean { get; init; } = null!;

    public Tensor Rstd { get; init; } = null!;

    /// <summary>Offset of the backward pass's 2·Columns values of scratch.</summary>
    public int Scratch { get; init; }

    public override IEnumerable<ParamTensor> ParameterTensors => Bias is null ? new[] { Weight } : new[] { Weight, Bias };

    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        onnx.Node("LayerNormalization", Name, Bias is null ? new[] { x, Weight.Name } : new[] { x, Weight.Name, Bias.Name }, new[] { y }, OnnxBuilder.Int("axis", -1), OnnxBuilder.Float("epsilon", Epsilon));
    }

    public override void EmitMethods(IndentedWriter w)
    {
        string rows = Rows == 1 ? "n" : $"n * {Rows}";
        string bias = Bias is { } b ? Ex.P(b) : "default";
        string dBias = Bias is { } db ? Ex.G(db) : "default";
        w.Line($"private void {Method}Forward(int n) =>");
        w.Line($"    {Ex.Kernels}.LayerNormForward({Ex.A(Output)}, {Ex.A(Mean)}, {Ex.A(Rstd)}, {Ex.A(Input)}, {Ex.P(Weight)}, {bias}, rows: {rows}, cols: {Columns}, epsilon: {Ex.Float(Epsilon)});");
        w.Line();
        w.Line($"private void {Method}Backward(int n) =>");
        w.Line($"    {Ex.Kernels}.LayerNormBackward({DInput()}, {Ex.G(Weight)}, {dBias}, {Ex.D(Output)}, {Ex.A(Input)}, {Ex.P(Weight)}, {Ex.A(Mean)}, {Ex.A(Rstd)}, W({Scratch}, {2 * Columns}), rows: {rows}, cols: {Columns});");
        w.Line();
    }

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        string bias = Bias is { } b ? Ex.P(b) : "default";
        w.Line($"{Ex.Kernels}.LayerNormForward({s.Row(Output)}, {s.Row(Mean)}, {s.Row(Rstd)}, {s.Row(Input)}, {Ex.P(Weight)}, {bias}, rows: 1, cols: {Columns}, epsilon: {Ex.Float(Epsilon)});");
        return true;
    }

    public override void EmitInitialization(IndentedWriter w)
    {
        w.Line($"{Ex.P(Weight)}.Fill(1f);");
        if (Bias is { } bias)
        {
            w.Line($"{Ex.P(bias)}.Clear();");
        }
    }
}
