namespace NetGen.SourceGenerators;

/// <summary>A network that is a pair of dense layers with an elementwise activation between them (an MLP of one hidden layer).</summary>
internal sealed record UnitPair(DenseOp First, ActivationOp Activation, DenseOp Second)
{
    public string Alpha => Activation.Kind == ActivationKind.LeakyReLU ? Ex.Float(Activation.Alpha) : "0f";
}

// A batch too small to split by samples, on several threads, split by the hidden layer's units instead: each
// shard computes a block of the first layer's units for the whole batch, then (after the run) the second layer
// and the loss for the whole batch from all the units, and backpropagates into its own units. The first
// layer's weights and gradients, nearly all of the parameters, stay with one core each; the blocks are whole
// 32-unit strips, computed as one thread computes them, so the step has exactly the bits of one thread.
// Measured against splitting each dense product across the threads (the form for other networks): the
// 784-128-10 MLP at batch 32 on 2 threads, see benchmarks/README.md (session 18).
internal static partial class CoreEmitter
{
    /// <summary>The pair of dense layers the network is, where a small batch may be split by units; else null.</summary>
    internal static UnitPair? UnitPairOf(NetworkPlan plan)
    {
        if (plan.Loss is null || plan.Ops.Length != 3
            || plan.Ops[0] is not DenseOp first || plan.Ops[1] is not ActivationOp activation || plan.Ops[2] is not DenseOp second)
        {
            return null;
        }

        bool chained = activation.Input.Const == first.Output.Const && second.Input.Const == activation.Output.Const && plan.Last?.Const == second.Output.Const;
        bool plain = first.Rows == 1 && second.Rows == 1 && !first.HasPenalty && !second.HasPenalty && !first.Tied && !second.Tied
            && first.OverwritesGradients && second.OverwritesGradients;
        bool blocks = first.ReadsCallerInput && first.OutFeatures % 32 == 0 && first.OutFeatures >= 64 && activation.Kind != ActivationKind.Softmax;
        return chained && plain && blocks ? new UnitPair(first, activation, second) : null;
    }

    private static void EmitUnitField(IndentedWriter w) =>
        w.Line("private bool _unitSplit; // whether the pinned inputs are for a batch split by units (see BackpropagateUnits)");

    // In Backpropagate, after the split by samples: the split by units where it applies.
    private static void EmitUnitBranch(IndentedWriter w, NetworkPlan plan, string targets, bool deferred)
    {
        if (UnitPairOf(plan) is null)
        {
            return;
        }

        using (w.Block($"if (UnitShardsFor(n) > 1{(deferred ? " && !_deferWeight" : string.Empty)} && !Owns({plan.InputName}))"))
        {
            w.Line($"return BackpropagateUnits(n, {plan.InputName}, {targets});");
        }
    }

    private static void EmitUnits(IndentedWriter w, NetworkPlan plan, LossSpec loss, UnitPair pair)
    {
        string core = NetworkEmitter.Core;
        string targets = loss.TargetType == "int" ? "labels" : "targets";
        int perSample = loss.TargetType == "int" ? plan.LabelsPerSample : plan.OutputSize;
        DenseOp first = pair.First, second = pair.Second;
        string units = first.Name, hidden = first.OutFeatures.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string activation = $"global::NetGen.Activation.{pair.Activation.Kind}";

        w.Line($"// Threads for {units}'s units at a batch of n: at most Threads, in whole 32-unit strips of 2^18 multiply-adds or more.");
        w.Line($"private int UnitShardsFor(int n) => {Ex.Kernels}.DenseColumnBlocks(n, inFeatures: {first.InFeatures}, outFeatures: {hidden}, _threads);");
        w.Line();
        w.Line($"// A batch too small to split by samples, on Threads threads: {first.Name} and {second.Name} split by {units}'s units.");
        w.Line($"// Shard s computes its block of {units}'s units for the whole batch (a run); then every shard computes {second.Name}");
        w.Line("// and the loss for the whole batch from all the units, and backpropagates into its own units, writing their rows");
        w.Line($"// of {first.Name}'s gradients (a second run). Every value is computed as on one thread: the same bits. The units'");
        w.Line("// weights and gradients stay with one thread each, step after step (the optimizer's split step updates them there).");
        using (w.Block($"private float BackpropagateUnits(int n, {Ex.ReadOnlySpan} {plan.InputName}, global::System.ReadOnlySpan<{loss.TargetType}> {targets})"))
        {
            w.Line("int k = UnitShardsFor(n);");
            using (w.Block("for (int s = 0; s < k; s++)"))
            {
                w.Line($"{core} shard = Shard(s);");
                w.Line("shard._shardRows = n;");
                w.Line("shard._batchRows = n;");
                w.Line($"{targets}.Slice(0, {Times("n", perSample)}).CopyTo(shard._shardTargets);");
            }

            w.Line("_shardCount = k;");
            w.Line("_unitSplit = true;");
            using (w.Block("try"))
            {
                w.Line($"return global::NetGen.PinnedInput.Run({plan.InputName}, this);");
            }

            using (w.Block("finally"))
            {
                w.Line("_unitSplit = false;");
            }
        }

        w.Line();
        using (w.Block("private float RunUnits(int n, int k)"))
        {
            w.Line("RunShards(UnitsForwardPhase, k);");
            w.Line("RunShards(UnitsBackwardPhase, k);");
            w.Line("_lastBatch = n;");
            w.Line("_lastShards = 1; // this network's arena holds the whole batch's outputs");
            w.Line("return _shardLoss;");
        }

        w.Line();
        w.Line("private const int UnitsForwardPhase = EvaluatePhase + 1;");
        w.Line();
        w.Line("private const int UnitsBackwardPhase = EvaluatePhase + 2;");
        w.Line();
        w.Line($"// Shard `part` of k of a batch split by units, in its own arena (each shard writes only its own buffers and its");
        w.Line($"// rows of `main`'s gradients, the network's: no cache line is written by two threads).");
        using (w.Block($"private void RunUnitPhase(bool forward, int part, int k, {core} main)"))
        {
            w.Line("int n = _shardRows;");
            w.Line($"(int first, int units) = {Ex.Kernels}.DenseColumnBlock({hidden}, part, k);");
            w.Line($"{Ex.ReadOnlySpan} input = _pinnedInput.Slice(0, n * InputSize);");
            string z = Ex.A(first.Output), h = Ex.A(pair.Activation.Output);
            string bias1 = first.Bias is null ? "default" : Ex.P(first.Bias), gBias1 = first.Bias is null ? "default" : $"main.{Ex.G(first.Bias)}";
            using (w.Block("if (forward)"))
            {
                w.Line($"{Ex.Kernels}.DenseForwardColumns({z}, input, {Ex.P(first.Weight)}, {bias1}, rows: n, inFeatures: {first.InFeatures}, outFeatures: {hidden}, first, units);");
                w.Line($"{Ex.Kernels}.ActivationForwardColumns({h}, {z}, {activation}, alpha: {pair.Alpha}, rows: n, cols: {hidden}, first, units);");
                w.Line("return;");
            }

            w.Line();
            w.Line($"// The other shards' units of {pair.Activation.Name}'s output, into this shard's arena beside its own");
            using (w.Block("for (int s = 0; s < k; s++)"))
            {
                using (w.Block("if (s != part)"))
                {
                    w.Line($"(int from, int count) = {Ex.Kernels}.DenseColumnBlock({hidden}, s, k);");
                    w.Line($"{Ex.Kernels}.CopyColumns({h}, main.Shard(s).{h}, rows: n, cols: {hidden}, from, count);");
                }
            }

            w.Line();
            w.Line($"// {second.Name} and the loss for the whole batch, on every shard: the calls of one thread, so its bits");
            string bias2 = second.Bias is null ? "default" : Ex.P(second.Bias);
            w.Line($"{Ex.Kernels}.DenseForward({Ex.A(second.Output)}, {h}, {Ex.P(second.Weight)}, {bias2}, rows: n, inFeatures: {second.InFeatures}, outFeatures: {second.OutFeatures});");
            loss.EmitLoss(w, plan, "_shardTargets", null);
            w.Line("_shardLoss = loss;");
            w.Line($"// {second.Name}'s input gradient on every shard; its parameters' gradients on shard 0");
            string gBias2 = second.Bias is null ? "default" : $"part == 0 ? main.{Ex.G(second.Bias)} : default";
            w.Line($"{Ex.Kernels}.DenseBackward({Ex.D(pair.Activation.Output)}, part == 0 ? main.{Ex.G(second.Weight)} : default, {gBias2}, {Ex.D(second.Output)}, {h}, {Ex.P(second.Weight)}, rows: n, inFeatures: {second.InFeatures}, outFeatures: {second.OutFeatures}, accumulate: !main._overwrite);");
            w.Line($"// {pair.Activation.Name} and {first.Name} on this shard's units");
            w.Line($"{Ex.Kernels}.ActivationBackwardColumns({Ex.D(first.Output)}, {Ex.D(pair.Activation.Output)}, {z}, {h}, {activation}, alpha: {pair.Alpha}, rows: n, cols: {hidden}, first, units);");
            w.Line($"{Ex.Kernels}.DenseBackwardColumns(main.{Ex.G(first.Weight)}, {gBias1}, {Ex.D(first.Output)}, input, rows: n, inFeatures: {first.InFeatures}, outFeatures: {hidden}, first, units, accumulate: !main._overwrite);");
        }

        w.Line();
    }
}
