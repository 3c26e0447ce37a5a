namespace NetGen.SourceGenerators;

/// <summary>
/// A loss: the last layer of a trainable network. It says what targets it takes, what
/// <c>Forward</c> returns, and writes the loss (and the gradient of its input) in the training step.
/// </summary>
internal abstract record LossSpec : LayerSpec
{
    public override bool IsLoss => true;

    public override string NamePrefix => "loss";

    /// <summary>The target element type: <c>int</c> class labels or <c>float</c> targets.</summary>
    public abstract string TargetType { get; }

    /// <summary>What <c>Forward</c> writes, for its XML docs.</summary>
    public virtual string OutputsDescription => "the last layer's output";

    /// <summary>The ONNX operator that turns the last layer's output into what Forward writes (Softmax, Sigmoid), or null.</summary>
    public virtual string? OnnxOutput => null;

    /// <summary>The activation the loss applies itself (warned about when a layer before applies it too), or none.</summary>
    protected virtual ActivationKind Applies => ActivationKind.None;

    /// <summary>The description of the Probabilities tensor, or null when the loss keeps none.</summary>
    protected virtual string? ProbabilitiesDescription => null;

    /// <summary>What the loss needs of its input, or null when any shape fits.</summary>
    protected virtual string? Misfit(EquatableArray<int> shape) => null;

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        if (Misfit(x.Shape) is { } needs)
        {
            site.Report(DiagnosticDescriptors.LossDoesNotFit.Id, Display, site.At, needs, Shapes.FormatWithCount(x.Shape));
            return false;
        }

        if (Applies != ActivationKind.None && site.Previous is { } previous &&
            ((previous is ActivationSpec a && a.Kind == Applies) || (previous is DenseSpec d && d.Activation == Applies)))
        {
            string what = Applies.ToString().ToLowerInvariant();
            builder.Report(Problem.Create(DiagnosticDescriptors.DoubleActivation.Id, previous.AttributeIndex, previous.Display, site.Scope.At(site.Index - 1), Display, what));
        }

        builder.Loss = this;
        if (ProbabilitiesDescription is { } description)
        {
            builder.Probabilities = builder.AddTensor("Probabilities", description, x.Shape, requiresGrad: false);
        }

        builder.AddRow("loss", Display, x.Shape, 0);
        return true;
    }

    /// <summary>Writes <c>float loss = ...;</c> on the logits (<c>plan.Last</c>); the loss kernels also write the logits' gradient.</summary>
    /// <param name="w">The writer.</param>
    /// <param name="plan">The network.</param>
    /// <param name="targets">The targets' expression (<c>labels</c>, or a shard's copy).</param>
    /// <param name="batchRows">For a shard of a split batch, the whole batch's rows (the mean is over them); else null.</param>
    public abstract void EmitLoss(IndentedWriter w, NetworkPlan plan, string targets, string? batchRows);

    /// <summary>The <c>meanOver</c> argument of a shard's loss, or nothing.</summary>
    protected static string MeanOver(string? batchRows, int perSample) =>
        batchRows is null ? string.Empty : perSample == 1 ? $", meanOver: {batchRows}" : $", meanOver: {batchRows} * {perSample}";

    /// <summary>Writes what <c>Forward</c> copies or computes into <c>outputs</c>.</summary>
    public virtual void EmitOutputs(IndentedWriter w, NetworkPlan plan) => w.Line($"{Ex.A(plan.Last!)}.CopyTo(outputs);");
}

/// <summary><c>[SoftmaxCrossEntropy]</c>: fused, stable softmax and cross-entropy on logits, int labels.</summary>
internal sealed record SoftmaxCrossEntropySpec(double LabelSmoothing) : LossSpec
{
    public override string Display => LabelSmoothing == 0 ? "SoftmaxCrossEntropy" : "SoftmaxCrossEntropy(LabelSmoothing = " + Format(LabelSmoothing) + ")";

    public override string? OnnxOutput => "Softmax";

    public override string TargetType => "int";

    public override string OutputsDescription => "the class probabilities (softmax of the logits)";

    protected override ActivationKind Applies => ActivationKind.Softmax;

    protected override string ProbabilitiesDescription => "softmax of the logits";

    public static LayerSpec Read(AttributeArgs a) => new SoftmaxCrossEntropySpec(a.NamedDouble("LabelSmoothing", 0)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() =>
        !(LabelSmoothing >= 0 && LabelSmoothing <= 1) ? $"LabelSmoothing must lie in [0, 1], but is {Format(LabelSmoothing)}" : null;

    // A vector of class scores, or a sequence [T, classes] with a label per position (next-token prediction).
    protected override string? Misfit(EquatableArray<int> shape) =>
        shape.Length is < 1 or > 2 || shape[shape.Length - 1] < 2 ? "a vector of at least 2 class scores, or a sequence [T, classes] of them" : null;

    public override void EmitLoss(IndentedWriter w, NetworkPlan plan, string targets, string? batchRows)
    {
        string rows = plan.LabelsPerSample == 1 ? "n" : $"n * {plan.LabelsPerSample}";
        w.Line($"float loss = {Ex.Kernels}.SoftmaxCrossEntropy(A(Probabilities, {plan.OutputSize}, n), {Ex.D(plan.Last!)}, {Ex.A(plan.Last!)}, {targets}, rows: {rows}, classes: {plan.Classes}{MeanOver(batchRows, plan.LabelsPerSample)}{(LabelSmoothing == 0 ? string.Empty : ", labelSmoothing: " + Ex.Float(LabelSmoothing))});");
    }

    public override void EmitOutputs(IndentedWriter w, NetworkPlan plan) =>
        w.Line($"{Ex.Kernels}.SoftmaxRows(outputs, {Ex.A(plan.Last!)}, cols: {plan.Classes});");
}

/// <summary><c>[MeanSquaredError]</c>: the mean over every element, float targets.</summary>
internal sealed record MeanSquaredErrorSpec : LossSpec
{
    public override string Display => "MeanSquaredError";

    public override string TargetType => "float";

    public static LayerSpec Read(AttributeArgs a) => new MeanSquaredErrorSpec { AttributeIndex = a.Index, Name = a.LayerName };

    public override void EmitLoss(IndentedWriter w, NetworkPlan plan, string targets, string? batchRows) =>
        w.Line($"float loss = {Ex.Kernels}.MeanSquaredError({Ex.D(plan.Last!)}, {Ex.A(plan.Last!)}, {targets}, count: n * {plan.OutputSize}{MeanOver(batchRows, plan.OutputSize)});");
}

/// <summary><c>[BinaryCrossEntropy]</c>: fused, stable sigmoid and BCE on logits, float targets in [0, 1].</summary>
internal sealed record BinaryCrossEntropySpec : LossSpec
{
    public override string Display => "BinaryCrossEntropy";

    public override string? OnnxOutput => "Sigmoid";

    public override string TargetType => "float";

    public override string OutputsDescription => "the probabilities (sigmoid of the logits)";

    protected override ActivationKind Applies => ActivationKind.Sigmoid;

    protected override string ProbabilitiesDescription => "sigmoid of the logits";

    public static LayerSpec Read(AttributeArgs a) => new BinaryCrossEntropySpec { AttributeIndex = a.Index, Name = a.LayerName };

    public override void EmitLoss(IndentedWriter w, NetworkPlan plan, string targets, string? batchRows) =>
        w.Line($"float loss = {Ex.Kernels}.BinaryCrossEntropyWithLogits(A(Probabilities, {plan.OutputSize}, n), {Ex.D(plan.Last!)}, {Ex.A(plan.Last!)}, {targets}, count: n * {plan.OutputSize}{MeanOver(batchRows, plan.OutputSize)});");

    public override void EmitOutputs(IndentedWriter w, NetworkPlan plan) =>
        w.Line($"{Ex.Kernels}.ActivationForward(outputs, {Ex.A(plan.Last!)}, global::NetGen.Activation.Sigmoid, alpha: 0f, cols: {plan.OutputSize});");
}
