using System.Collections.Generic;
using System.Text;

namespace NetGen.SourceGenerators;

/// <summary>
/// <c>[BatchNorm(Momentum, Epsilon)]</c>: PyTorch's BatchNorm1d on a vector, BatchNorm2d (per
/// channel) on [C, H, W]. <c>weight</c>/<c>bias</c> are parameters, the running statistics state.
/// </summary>
internal sealed record BatchNormSpec(double Momentum, double Epsilon) : LayerSpec
{
    public const double DefaultMomentum = 0.1;
    public const double DefaultEpsilon = 1e-5;

    public override string NamePrefix => "batchnorm";

    public override bool IsTransparentForInitialization => true;

    public override string Display
    {
        get
        {
            var bn = new StringBuilder("BatchNorm");
            if (Momentum != DefaultMomentum || Epsilon != DefaultEpsilon)
            {
                bn.Append("(Momentum = ").Append(Format(Momentum)).Append(", Epsilon = ").Append(Format(Epsilon)).Append(')');
            }

            return bn.ToString();
        }
    }

    public static LayerSpec Read(AttributeArgs a) =>
        new BatchNormSpec(a.NamedDouble("Momentum", DefaultMomentum), a.NamedDouble("Epsilon", DefaultEpsilon)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() =>
        !(Momentum >= 0 && Momentum <= 1) ? $"Momentum must lie in [0, 1], but is {Format(Momentum)}"
        : !(Epsilon > 0) || double.IsInfinity(Epsilon) ? $"Epsilon must be positive, but is {Format(Epsilon)}"
        : null;

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        EquatableArray<int> shape = x.Shape;
        if (shape.Length != 1 && shape.Length != 3)
        {
            site.Report(DiagnosticDescriptors.BatchNormInput.Id, Display, site.At, Shapes.FormatWithCount(shape));
            return false;
        }

        int features = shape[0];
        string m = site.Method;
        var op = new BatchNormOp
        {
            Name = site.Name,
            Method = m,
            Display = Display,
            Input = x,
            Row = builder.NextRow,
            Features = features,
            Spatial = shape.Length == 3 ? shape[1] * shape[2] : 1,
            Momentum = Momentum,
            Epsilon = Epsilon,
            Weight = builder.AddParameter(site.Name + ".weight", m + "Weight", features),
            Bias = builder.AddParameter(site.Name + ".bias", m + "Bias", features),
            RunningMean = builder.AddState(site.Name + ".running_mean", m + "RunningMean", features),
            RunningVariance = builder.AddState(site.Name + ".running_var", m + "RunningVar", features),
            ScratchOffset = builder.AddScratch(4 * features),
            Output = builder.AddTensor(m + "Out", site.Name + " output", shape, requiresGrad: true),
        };
        builder.AddOp(op);
        builder.Current = op.Output;
        builder.AddRow(site.Name, Display, shape, 2L * features);
        return true;
    }
}

/// <summary>The planned BatchNorm: batch statistics in a per-batch scratch, running statistics in State.</summary>
internal sealed partial record BatchNormOp : PlanOp
{
    /// <summary>The layer's row in the summary table (named in the small-batch error).</summary>
    public int Row { get; init; }

    public int Features { get; init; }

    /// <summary>Values per channel per sample (1 for vectors, H·W for images).</summary>
    public int Spatial { get; init; }

    public double Momentum { get; init; }

    public double Epsilon { get; init; }

    public ParamTensor Weight { get; init; } = null!;

    public ParamTensor Bias { get; init; } = null!;

    public ParamTensor RunningMean { get; init; } = null!;

    public ParamTensor RunningVariance { get; init; } = null!;

    public int ScratchOffset { get; init; }

    /// <summary>The name of the ReLU layer after this one that it applies itself (PlanBuilder.FuseReluIntoBatchNorm), or null.</summary>
    public string? FusedRelu { get; init; }

    /// <summary>The 2x2 max pooling after this one (and its ReLU) that its training pass does (PlanBuilder.FusePoolIntoBatchNorm), or null.</summary>
    public PoolOp? FusedPool { get; init; }

    public override IEnumerable<ParamTensor> ParameterTensors => new[] { Weight, Bias };

    public override bool TakesTrainingFlag => true;

    private string Scratch => Method + "Scratch";

    public override void EmitConstants(IndentedWriter w)
    {
        w.Line($"private const int {Scratch} = {ScratchOffset}; // {Name}: batch mean, 1/std, and on a split batch Σdy, Σdy·x̂ ({Features} each)");
        EmitStemConstants(w);
    }

    // Inference: the running statistics; a fused ReLU as the Relu operator after it.
    public override void EmitOnnx(OnnxBuilder onnx)
    {
        string x = onnx.In(Input), y = onnx.Out(Output);
        string normalised = FusedRelu is null ? y : y + "_before_relu";
        onnx.Node("BatchNormalization", Name, new[] { x, Weight.Name, Bias.Name, RunningMean.Name, RunningVariance.Name }, new[] { normalised }, OnnxBuilder.Float("epsilon", Epsilon));
        if (FusedRelu is { } relu)
        {
            onnx.Node("Relu", relu, new[] { normalised }, new[] { y });
        }
    }

    // The arguments that fuse the ReLU after the layer, or nothing.
    private string ReluFlag => FusedRelu is null ? string.Empty : ", relu: true";

    private string ReluBeta => FusedRelu is null ? string.Empty : $", reluBeta: {Ex.P(Bias)}";

    public override void EmitMethods(IndentedWriter w)
    {
        if (Stem is not null)
        {
            EmitStemMethods(w);
            return;
        }

        int f = Features;
        string x = Ex.A(Input);
        string gamma = Ex.P(Weight);
        string beta = Ex.P(Bias);
        string mean = $"W({Scratch}, {f})";
        string inv = $"W({Scratch} + {f}, {f})";
        string dims = $"rows: n, channels: {f}, spatial: {Spatial}";
        if (FusedRelu is { } fused)
        {
            w.Line($"// {Name} and {fused}: the ReLU applied as the normalised values are written, and its gradient mask");
            w.Line("// recomputed from the input in backward (no tensor or pass of its own).");
        }

        using (w.Block($"private void {Method}Forward(int n, bool training)"))
        {
            using (w.Block("if (training)"))
            {
                EmitTrainingForward(w, mean, inv, x, gamma, beta, dims);
            }

            EmitInferenceForward(w);
        }

        w.Line();
        using (w.Block($"private void {Method}Backward(int n)"))
        {
            if (FusedPool is { } pool)
            {
                w.Line($"// From {pool.Name}'s output gradient and winners: {Name}'s output gradient is made a channel at a time, not written.");
            }

            w.Line(FusedPool is null ? $"{Ex.Kernels}.BatchNormBackward(" : $"{Ex.ConvKernels}.BatchNormMaxPoolBackward(");
            w.Line(Input.RequiresGrad
                ? $"    {DInput()}, // d input"
                : "    default, // no layer before this one has parameters: its input needs no gradient");
            w.Line($"    {Ex.G(Weight)}, {Ex.G(Bias)}, // d {Weight.Name}, d {Bias.Name}");
            w.Line($"    {OutputGradient}, {x}, {gamma}, {mean}, {inv},");
            w.Line($"    {PoolDims(dims)}{ReluBeta});");
        }

        w.Line();
    }

    // The output gradient backward reads: the layer's own, or with the pooling fused in, the pooling's and its winners.
    private string OutputGradient => FusedPool is { } pool ? $"{Ex.D(pool.Output)}, {Ex.I(pool.Argmax!)}" : Ex.D(Output);

    // The shape arguments of the backward kernels: the tensor's, or the pooling's window.
    private string PoolDims(string dims) => FusedPool is { } pool ? $"batch: n, {pool.Method}Window" : dims;

    private void EmitInferenceForward(IndentedWriter w)
    {
        using (w.Block("else"))
        {
            w.Line($"{Ex.Kernels}.BatchNormInferenceForward(");
            w.Line($"    {Ex.A(Output)}, {Ex.A(Input)}, {Ex.P(Weight)}, {Ex.P(Bias)}, {Ex.S(RunningMean)}, {Ex.S(RunningVariance)},");
            w.Line($"    rows: n, channels: {Features}, spatial: {Spatial}, epsilon: {Ex.Float(Epsilon)}{ReluFlag});");
        }
    }

    private void EmitTrainingForward(IndentedWriter w, string mean, string inv, string x, string gamma, string beta, string dims)
    {
        if (FusedPool is { } pool)
        {
            w.Line($"// {pool.Name} pools as the values are normalised: {Name}'s output is not written in training.");
            w.Line($"{Ex.ConvKernels}.BatchNormMaxPoolTrainingForward(");
            w.Line($"    {Ex.A(pool.Output)}, {Ex.I(pool.Argmax!)}, {mean}, {inv}, // {pool.Name} output and winners, batch mean, batch 1/std");
            w.Line($"    {Ex.S(RunningMean)}, {Ex.S(RunningVariance)}, // {RunningMean.Name}, {RunningVariance.Name}");
            w.Line($"    {x}, {gamma}, {beta},");
            w.Line($"    batch: n, momentum: {Ex.Float(Momentum)}, epsilon: {Ex.Float(Epsilon)}, relu: {(FusedRelu is null ? "false" : "true")}, {pool.Method}Window);");
            return;
        }

        w.Line($"{Ex.Kernels}.BatchNormTrainingForward(");
        w.Line($"    {Ex.A(Output)}, {mean}, {inv}, // output, batch mean, batch 1/std");
        w.Line($"    {Ex.S(RunningMean)}, {Ex.S(RunningVariance)}, // {RunningMean.Name}, {RunningVariance.Name}");
        w.Line($"    {x}, {gamma}, {beta},");
        w.Line($"    {dims}, momentum: {Ex.Float(Momentum)}, epsilon: {Ex.Float(Epsilon)}{ReluFlag});");
    }

    /// <summary>Whether backward must produce the input's gradient (a layer before has parameters, and not as a stem's).</summary>
    public bool HasInputGradient => Input.RequiresGrad && Stem is null;

    /// <summary>
    /// The methods of a batch split across threads: each shard's moments, merged by the network (shard 0),
    /// then every shard normalises with the whole batch's statistics; the same for the gradient sums.
    /// </summary>
    public void EmitShardMethods(IndentedWriter w)
    {
        if (Stem is not null)
        {
            EmitStemShardMethods(w);
            return;
        }

        int f = Features;
        string mean = $"W({Scratch}, {f})";
        string inv = $"W({Scratch} + {f}, {f})";
        string sumDy = $"W({Scratch} + {2 * f}, {f})";
        string sumDyXhat = $"W({Scratch} + {3 * f}, {f})";
        string dims = $"rows: n, channels: {f}, spatial: {Spatial}";
        w.Line($"// {Name} on a split batch: each shard's mean and Σ(x − mean)², merged here in shard order; then every shard");
        w.Line("// normalises with the whole batch's statistics. Backward likewise with Σdy and Σdy·x̂.");
        w.Line($"private void {Method}Moments(int n) =>");
        w.Line($"    {Ex.Kernels}.BatchNormShardMoments({mean}, {inv}, {Ex.A(Input)}, {dims});");
        w.Line();
        string values = Spatial == 1 ? "" : $" * {Spatial}";
        using (w.Block($"private void {Method}MergeStatistics(int k)"))
        {
            w.Line($"long count = (long)_shardRows{values};");
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"{NetworkEmitter.Core} shard = _shards[s - 1];");
                w.Line($"long shardCount = (long)shard._shardRows{values};");
                w.Line($"{Ex.Kernels}.BatchNormMerge({mean}, {inv}, count, shard.{mean}, shard.{inv}, shardCount);");
                w.Line("count += shardCount;");
            }

            w.Line($"{Ex.Kernels}.BatchNormFinish({inv}, {mean}, {Ex.S(RunningMean)}, {Ex.S(RunningVariance)}, count, momentum: {Ex.Float(Momentum)}, epsilon: {Ex.Float(Epsilon)});");
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"W({Scratch}, {2 * f}).CopyTo(_shards[s - 1].W({Scratch}, {2 * f}));");
            }
        }

        w.Line();
        w.Line($"private void {Method}Normalize(int n) =>");
        w.Line(FusedPool is { } pool
            ? $"    {Ex.ConvKernels}.BatchNormMaxPool({Ex.A(pool.Output)}, {Ex.I(pool.Argmax!)}, {Ex.A(Input)}, {mean}, {inv}, {Ex.P(Weight)}, {Ex.P(Bias)}, batch: n, relu: {(FusedRelu is null ? "false" : "true")}, {pool.Method}Window); // and {pool.Name}"
            : $"    {Ex.Kernels}.BatchNormNormalize({Ex.A(Output)}, {Ex.A(Input)}, {mean}, {inv}, {Ex.P(Weight)}, {Ex.P(Bias)}, {dims}{ReluFlag});");
        w.Line();
        w.Line($"private void {Method}GradientSums(int n) =>");
        w.Line($"    {(FusedPool is null ? Ex.Kernels + ".BatchNormShardGradientSums" : Ex.ConvKernels + ".BatchNormMaxPoolShardGradientSums")}({sumDy}, {sumDyXhat}, {OutputGradient}, {Ex.A(Input)}, {mean}, {inv}, {PoolDims(dims)}{(FusedRelu is null ? string.Empty : $", reluGamma: {Ex.P(Weight)}")}{ReluBeta});");
        w.Line();
        using (w.Block($"private void {Method}MergeGradientSums(int k)"))
        {
            string sums = $"W({Scratch} + {2 * f}, {2 * f})";
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"{Ex.Kernels}.AddInto({sums}, _shards[s - 1].{sums});");
            }

            w.Line($"{Ex.Kernels}.AddInto({Ex.G(Weight)}, {sumDyXhat}); // d {Weight.Name} += Σ dy·x̂");
            w.Line($"{Ex.Kernels}.AddInto({Ex.G(Bias)}, {sumDy}); // d {Bias.Name} += Σ dy");
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"{sums}.CopyTo(_shards[s - 1].{sums});");
            }
        }

        w.Line();
        if (HasInputGradient)
        {
            w.Line($"private void {Method}InputGradient(int n) =>");
            w.Line($"    {(FusedPool is null ? Ex.Kernels + ".BatchNormShardInputGradient" : Ex.ConvKernels + ".BatchNormMaxPoolShardInputGradient")}({DInput()}, {OutputGradient}, {Ex.A(Input)}, {Ex.P(Weight)}, {mean}, {inv}, {sumDy}, {sumDyXhat}, count: (long)_batchRows{values}, {PoolDims(dims)}{ReluBeta});");
            w.Line();
        }
    }

    public override void EmitInitialization(IndentedWriter w)
    {
        w.Line($"{Ex.P(Weight)}.Fill(1f); // {Name}: scale 1, shift 0, running mean 0, running variance 1");
        w.Line($"{Ex.P(Bias)}.Clear();");
        w.Line($"{Ex.S(RunningMean)}.Clear();");
        w.Line($"{Ex.S(RunningVariance)}.Fill(1f);");
    }
}
