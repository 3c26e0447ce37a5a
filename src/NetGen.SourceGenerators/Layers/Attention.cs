using System.Collections.Generic;
using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary>
/// <c>[MultiHeadAttention(heads, Causal, UseBias, InitStd, OutputInitStd, Dropout)]</c> on a [T, D] sequence:
/// nanoGPT's CausalSelfAttention, planned as three ops: the fused projection <c>c_attn</c> (a
/// Dense to 3D), the attention itself, and the output projection <c>c_proj</c> (a Dense to D).
/// </summary>
internal sealed record MultiHeadAttentionSpec(int Heads, bool Causal, bool UseBias, double InitStd, double OutputInitStd, double Dropout) : LayerSpec
{
    public override string NamePrefix => "attention";

    public override string Display => $"MultiHeadAttention({Heads}" + (Causal ? ", causal" : string.Empty) + (Dropout != 0 ? ", Dropout = " + Format(Dropout) : string.Empty) + ")";

    public static LayerSpec Read(AttributeArgs a) => new MultiHeadAttentionSpec(
        a.Int(0),
        a.NamedBool("Causal", true),
        a.NamedBool("UseBias", true),
        a.NamedDouble("InitStd", 0),
        a.NamedDouble("OutputInitStd", 0),
        a.NamedDouble("Dropout", 0))
    { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError()
    {
        if (Heads <= 0)
        {
            return $"heads must be positive, but is {Heads}";
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            return $"Dropout must lie in [0, 1), but is {Format(Dropout)}";
        }

        return NonNegativeFinite(InitStd, nameof(InitStd)) ?? NonNegativeFinite(OutputInitStd, nameof(OutputInitStd));
    }

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (!SequenceRules.IsSequence(x, site))
        {
            return false;
        }

        int length = x.Shape[0], dimension = x.Shape[1];
        if (dimension % Heads != 0)
        {
            site.Report(DiagnosticDescriptors.HeadsDoNotDivide.Id, Display, site.At, dimension.ToString(CultureInfo.InvariantCulture), Shapes.Format(x.Shape), Heads.ToString(CultureInfo.InvariantCulture));
            return false;
        }

        string m = site.Method;
        string qkvName = site.Name + ".c_attn", projName = site.Name + ".c_proj";
        var qkv = new DenseOp
        {
            Name = qkvName,
            Method = m + "CAttn",
            Display = Display,
            Input = x,
            Weight = builder.AddParameter(qkvName + ".weight", m + "CAttnWeight", 3 * dimension, dimension),
            Bias = UseBias ? builder.AddParameter(qkvName + ".bias", m + "CAttnBias", 3 * dimension) : null,
            Rows = length,
            InFeatures = dimension,
            OutFeatures = 3 * dimension,
            InitStd = InitStd,
            Output = builder.AddTensor(m + "Qkv", qkvName + " output: queries, keys, values", Shapes.Of(length, 3 * dimension), requiresGrad: true),
        };
        builder.AddOp(qkv);
        var attention = new AttentionOp
        {
            Name = site.Name,
            Method = m,
            Display = Display,
            Input = qkv.Output,
            Length = length,
            Dimension = dimension,
            Heads = Heads,
            Causal = Causal,
            Probabilities = builder.AddTensor(m + "Att", site.Name + " attention weights, softmax over keys", Shapes.Of(Heads, length, length), requiresGrad: false),
            Dropout = Dropout,
            Mask = Dropout > 0 ? builder.AddTensor(m + "AttMask", site.Name + " dropout mask of the attention weights (0 or 1/(1-p))", Shapes.Of(Heads, length, length), requiresGrad: false) : null,
            Scratch = builder.AddSharedScratch("attention", AttentionOp.ScratchSize(length, dimension, Heads)),
            Output = builder.AddTensor(m + "Heads", site.Name + " heads side by side, before c_proj", x.Shape, requiresGrad: true),
        };
        builder.AddOp(attention);
        var proj = new DenseOp
        {
            Name = projName,
            Method = m + "CProj",
            Display = Display,
            Input = attention.Output,
            Weight = builder.AddParameter(projName + ".weight", m + "CProjWeight", dimension, dimension),
            Bias = UseBias ? builder.AddParameter(projName + ".bias", m + "CProjBias", dimension) : null,
            Rows = length,
            InFeatures = dimension,
            OutFeatures = dimension,
            InitStd = OutputInitStd != 0 ? OutputInitStd : InitStd,
            Output = builder.AddTensor(m + "Out", site.Name + " output (c_proj)", x.Shape, requiresGrad: true),
        };
        builder.AddOp(proj);
        builder.Current = proj.Output;
        long parameters = qkv.Weight.LongSize + (qkv.Bias?.LongSize ?? 0) + proj.Weight.LongSize + (proj.Bias?.LongSize ?? 0);
        builder.AddRow(site.Name, Display, x.Shape, parameters);
        return true;
    }
}

/// <summary>The planned attention between the projections: <c>Kernels.AttentionForward</c>/<c>AttentionBackward</c>.</summary>
internal sealed record AttentionOp : PlanOp
{
    public int Length { get; init; }

    public int Dimension { get; init; }

    public int Heads { get; init; }

    public bool Causal { get; init; }

    // Scores and the weighted values: T·T·D each (the causal mask's zeros counted too).
    public override long MultiplyAdds => 2L * Length * Length * Dimension;

    /// <summary>The softmax weights [heads, T, T], kept for the backward pass.</summary>
    public Tensor Probabilities { get; init; } = null!;

    /// <summary>Offset of the scratch both passes use for their per-head matrix products (<see cref="ScratchSize(int, int, int)"/> values, shared by the attention layers).</summary>
    public int Scratch { get; init; }

    /// <summary>As Kernels.AttentionScratchSize: seven [T, hs] matrices and one [T, T].</summary>
    public static int ScratchSize(int length, int dimension, int heads) => Shapes.Clamp((7L * length * (dimension / heads)) + ((long)length * length));

    private string ScratchArgument => $"W({Scratch}, {ScratchSize(Length, Dimension, Heads)})";

    /// <summary>Dropout on the attention weights in training (0: none).</summary>
    public double Dropout { get; init; }

    /// <summary>The dropout mask [heads, T, T] when <see cref="Dropout"/> is positive, drawn in training and read by backward.</summary>
    public Tensor? Mask { get; init; }

    public override bool TakesTrainingFlag => Mask is not null;

    public override IEnumerable<(Tensor Mask, double Rate)> DropoutMasks =>
        Mask is null ? base.DropoutMasks : new[] { (Mask, Dropout) };

    // Causal attention only: position p attends to positions 0 to p, whose keys and values are cached.
    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        if (!Causal)
        {
            return false;
        }

        w.Line($"{Ex.Kernels}.AttentionStep({s.Row(Output)}, R({s.Scores}, {Length}), {s.Cache(Input)}, keys: p + 1, dimension: {Dimension}, heads: {Heads});");
        return true;
    }

    // Scaled dot-product attention written out in opset-17 operators: split q, k, v; heads as an
    // axis; scores by MatMul, scaled by 1/√(D/heads); the causal mask added (-1e30 above the
    // diagonal: a zero weight after softmax); softmax over keys; weighted values; heads side by side.
    // (Opset 17 has no attention operator.)
    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        int head = Dimension / Heads;
        string Value(string part) => y + "_" + part;
        string split = onnx.Int64Constant($"attention.split_{Dimension}", new long[] { 3 }, new long[] { Dimension, Dimension, Dimension });
        string byHead = onnx.Int64Constant($"attention.heads_{Length}x{Heads}x{head}", new long[] { 4 }, new long[] { -1, Length, Heads, head });
        string joined = onnx.Int64Constant($"attention.joined_{Length}x{Dimension}", new long[] { 3 }, new long[] { -1, Length, Dimension });
        onnx.Node("Split", Name + ".split", new[] { x, split }, new[] { Value("q"), Value("k"), Value("v") }, OnnxBuilder.Int("axis", 2));
        foreach (string part in new[] { "q", "k", "v" })
        {
            onnx.Node("Reshape", Name + ".heads_" + part, new[] { Value(part), byHead }, new[] { Value(part + "_heads") });
        }

        onnx.Node("Transpose", Name + ".q_t", new[] { Value("q_heads") }, new[] { Value("q_t") }, OnnxBuilder.Ints("perm", 0, 2, 1, 3));
        onnx.Node("Transpose", Name + ".k_t", new[] { Value("k_heads") }, new[] { Value("k_t") }, OnnxBuilder.Ints("perm", 0, 2, 3, 1));
        onnx.Node("Transpose", Name + ".v_t", new[] { Value("v_heads") }, new[] { Value("v_t") }, OnnxBuilder.Ints("perm", 0, 2, 1, 3));
        onnx.Node("MatMul", Name + ".scores", new[] { Value("q_t"), Value("k_t") }, new[] { Value("scores") });
        string scale = onnx.FloatConstant($"attention.scale_{head}", new long[0], new[] { (float)(1.0 / System.Math.Sqrt(head)) });
        onnx.Node("Mul", Name + ".scale", new[] { Value("scores"), scale }, new[] { Value("scaled") });
        string logits = Value("scaled");
        if (Causal)
        {
            // The mask built in the graph (a [T, T] literal would be T² values in the generated code):
            // ones above the diagonal (Trilu), times -1e30.
            string square = onnx.Int64Constant($"attention.square_{Length}", new long[] { 2 }, new long[] { Length, Length });
            string one = onnx.FloatConstant("attention.one", new long[0], new[] { 1f });
            string aboveDiagonal = onnx.Int64Constant("attention.above_diagonal", new long[0], new long[] { 1 });
            string masked = onnx.FloatConstant("attention.masked", new long[0], new[] { -1e30f });
            onnx.Node("Expand", Name + ".ones", new[] { one, square }, new[] { Value("ones") });
            onnx.Node("Trilu", Name + ".future", new[] { Value("ones"), aboveDiagonal }, new[] { Value("future") }, OnnxBuilder.Int("upper", 1));
            onnx.Node("Mul", Name + ".mask_values", new[] { Value("future"), masked }, new[] { Value("mask") });
            onnx.Node("Add", Name + ".mask", new[] { logits, Value("mask") }, new[] { Value("masked") });
            logits = Value("masked");
        }

        onnx.Node("Softmax", Name + ".softmax", new[] { logits }, new[] { Value("weights") }, OnnxBuilder.Int("axis", -1));
        onnx.Node("MatMul", Name + ".weighted", new[] { Value("weights"), Value("v_t") }, new[] { Value("weighted") });
        onnx.Node("Transpose", Name + ".heads_back", new[] { Value("weighted") }, new[] { Value("by_position") }, OnnxBuilder.Ints("perm", 0, 2, 1, 3));
        onnx.Node("Reshape", Name + ".join", new[] { Value("by_position"), joined }, new[] { y });
    }

    public override void EmitMethods(IndentedWriter w)
    {
        string sizes = $"sequences: n, length: {Length}, dimension: {Dimension}, heads: {Heads}, causal: {(Causal ? "true" : "false")}";
        if (Mask is null)
        {
            w.Line($"private void {Method}Forward(int n) =>");
            w.Line($"    {Ex.Kernels}.AttentionForward({Ex.A(Output)}, {Ex.A(Probabilities)}, {Ex.A(Input)}, {sizes}, scratch: {ScratchArgument});");
            w.Line();
            w.Line($"private void {Method}Backward(int n) =>");
            w.Line($"    {Ex.Kernels}.AttentionBackward({DInput()}, {Ex.D(Output)}, {Ex.A(Input)}, {Ex.A(Probabilities)}, {ScratchArgument}, {sizes});");
            w.Line();
            return;
        }

        // Dropout on the weights: the mask drawn in training (before a split across threads, when
        // there is one), applied to the weights as the values are summed; backward reads it again.
        DropoutOp.EmitForward(
            w, Method, Mask, Dropout,
            $"{Ex.Kernels}.AttentionForward({Ex.A(Output)}, {Ex.A(Probabilities)}, {Ex.A(Input)}, {sizes}, dropoutMask: {Ex.A(Mask)}, scratch: {ScratchArgument});",
            $"{Ex.Kernels}.AttentionForward({Ex.A(Output)}, {Ex.A(Probabilities)}, {Ex.A(Input)}, {sizes}, scratch: {ScratchArgument});");
        w.Line();
        w.Line($"private void {Method}Backward(int n) =>");
        w.Line($"    {Ex.Kernels}.AttentionBackward({DInput()}, {Ex.D(Output)}, {Ex.A(Input)}, {Ex.A(Probabilities)}, {ScratchArgument}, {sizes}, dropoutMask: {Ex.A(Mask)});");
        w.Line();
    }
}
