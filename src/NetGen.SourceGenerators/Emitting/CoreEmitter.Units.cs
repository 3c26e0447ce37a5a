using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>One hidden layer of an MLP: a dense layer and the elementwise activation after it.</summary>
internal sealed record HiddenLayer(DenseOp Dense, ActivationOp Activation)
{
    public string Alpha => Activation.Kind == ActivationKind.LeakyReLU ? Ex.Float(Activation.Alpha) : "0f";

    public string Units => Dense.OutFeatures.ToString(CultureInfo.InvariantCulture);

    public string Kind => $"global::NetGen.Activation.{Activation.Kind}";
}

/// <summary>A network that is a chain of hidden layers and an output layer, all dense (an MLP).</summary>
internal sealed record UnitChain(EquatableArray<HiddenLayer> Hidden, DenseOp Output);

// A batch too small to split by samples, on several threads, split by the hidden layers' units instead. Each
// shard computes a block of each hidden layer's units for the whole batch (a run a layer, each shard first
// copying the other blocks of the layer before into its arena); then every shard computes the output layer and
// the loss for the whole batch, and backpropagates into its own units of each hidden layer (a run a layer). The
// hidden layers' weights and gradients, nearly all of the parameters, stay with one core each; the blocks are
// whole 32-unit strips, computed as one thread computes them, and what every shard needs whole (the output
// layer, each hidden layer's input gradient) it computes whole with the calls of one thread: the step has
// exactly the bits of one thread. Measured against splitting each dense product across the threads (the form
// for other networks): the 784-128-10 MLP at batch 32 on 2 threads, see benchmarks/README.md (session 18).
internal static partial class CoreEmitter
{
    /// <summary>The MLP the network is, where a small batch may be split by units; else null.</summary>
    internal static UnitChain? UnitChainOf(NetworkPlan plan)
    {
        int count = plan.Ops.Length;
        if (plan.Loss is null || count < 3 || count % 2 == 0 || plan.Ops[count - 1] is not DenseOp output || !Plain(output)
            || plan.Last?.Const != output.Output.Const)
        {
            return null;
        }

        var hidden = new List<HiddenLayer>();
        string? previous = null;
        for (int i = 0; i + 1 < count; i += 2)
        {
            if (plan.Ops[i] is not DenseOp dense || plan.Ops[i + 1] is not ActivationOp activation || !Plain(dense)
                || dense.OutFeatures % 32 != 0 || dense.OutFeatures < 64 || activation.Kind == ActivationKind.Softmax
                || activation.Input.Const != dense.Output.Const || (previous is null ? !dense.ReadsCallerInput : dense.Input.Const != previous))
            {
                return null;
            }

            hidden.Add(new HiddenLayer(dense, activation));
            previous = activation.Output.Const;
        }

        return output.Input.Const == previous ? new UnitChain(new EquatableArray<HiddenLayer>(hidden.ToArray()), output) : null;

        static bool Plain(DenseOp d) => d.Rows == 1 && !d.HasPenalty && !d.Tied && d.OverwritesGradients;
    }

    private static void EmitUnitField(IndentedWriter w)
    {
        w.Line("private bool _unitSplit; // whether the pinned inputs are for a batch split by units (see SplitUnits)");
        w.Line("private bool _unitTraining; // whether the batch split by units is trained or evaluated");
        w.Line("private bool _unitForward; // whether the batch split by units is only run forward (Forward: its outputs into _gathered)");
    }

    // In Backpropagate and Evaluate, after the split by samples: the split by units where it applies.
    private static void EmitUnitBranch(IndentedWriter w, NetworkPlan plan, string targets, bool deferred, bool training)
    {
        if (UnitChainOf(plan) is null)
        {
            return;
        }

        using (w.Block($"if (UnitShardsFor(n) > 1{(deferred ? " && !_deferWeight" : string.Empty)} && !Owns({plan.InputName}))"))
        {
            w.Line($"return SplitUnits(n, {plan.InputName}, {targets}, training: {(training ? "true" : "false")});");
        }
    }

    private static void EmitUnits(IndentedWriter w, NetworkPlan plan, LossSpec loss, UnitChain chain)
    {
        string core = NetworkEmitter.Core;
        string targets = loss.TargetType == "int" ? "labels" : "targets";
        int perSample = loss.TargetType == "int" ? plan.LabelsPerSample : plan.OutputSize;
        var hidden = chain.Hidden;
        int m = hidden.Length;
        string names = string.Join(", ", hidden.Select(h => h.Dense.Name));

        w.Line($"// Threads for the units of {names} at a batch of n: at most Threads, in whole 32-unit strips of 2^18 multiply-adds");
        w.Line("// or more a layer.");
        string blocks = $"{Ex.Kernels}.DenseColumnBlocks(n, inFeatures: {hidden[0].Dense.InFeatures}, outFeatures: {hidden[0].Units}, _threads)";
        foreach (HiddenLayer h in hidden.Skip(1))
        {
            blocks = $"global::System.Math.Min({blocks}, {Ex.Kernels}.DenseColumnBlocks(n, inFeatures: {h.Dense.InFeatures}, outFeatures: {h.Units}, _threads))";
        }

        w.Line($"private int UnitShardsFor(int n) => {blocks};");
        w.Line();
        w.Line($"// A batch too small to split by samples, on Threads threads: the MLP split by the units of {names}, {m * 2} runs");
        w.Line($"// in training ({m + 1} to evaluate or run Forward). Shard s computes its block of each hidden layer's units for the");
        w.Line("// whole batch; then every shard computes the output layer and the loss for the whole batch (shard 0 alone to");
        w.Line("// evaluate, or to write Forward's outputs), and");
        w.Line("// backpropagates into its own units of each hidden layer, writing their rows of its gradients. Every value is");
        w.Line("// computed as on one thread: the same bits. The units' weights and gradients stay with one thread each, step");
        w.Line("// after step (the optimizer's split step updates them there).");
        using (w.Block($"private float SplitUnits(int n, {Ex.ReadOnlySpan} {plan.InputName}, global::System.ReadOnlySpan<{loss.TargetType}> {targets}, bool training)"))
        {
            w.Line("int k = UnitShardsFor(n);");
            using (w.Block("for (int s = 0; s < k; s++)"))
            {
                w.Line($"{core} shard = Shard(s);");
                w.Line("shard._shardRows = n;");
                w.Line("shard._batchRows = n;");
                using (w.Block($"if (!{targets}.IsEmpty) // empty: Forward, which has no loss"))
                {
                    w.Line($"{targets}.Slice(0, {Times("n", perSample)}).CopyTo(shard._shardTargets);");
                }
            }

            w.Line("_shardCount = k;");
            w.Line("_unitTraining = training;");
            EmitFlagged(w, "_unitSplit", $"return global::NetGen.PinnedInput.Run({plan.InputName}, this);");
        }

        w.Line();
        using (w.Block("private float RunUnits(int n, int k)"))
        {
            using (w.Block($"for (int step = 0, steps = _unitTraining ? {m * 2} : {m + 1}; step < steps; step++)"))
            {
                w.Line("RunShards(UnitsPhase + step, k);");
            }

            using (w.Block("if (_unitForward)"))
            {
                w.Line("return 0; // Forward: no loss, and LastOutputs refuses (see Forward)");
            }

            w.Line();
            w.Line("_lastBatch = n;");
            w.Line("_lastShards = 1; // this network's arena holds the whole batch's outputs");
            w.Line("return _shardLoss;");
        }

        w.Line();
        w.Line("// Forward on a batch split by units: the hidden layers' runs, then shard 0 the output layer, writing the");
        w.Line("// outputs into _gathered, where Forward copies them from.");
        using (w.Block($"private void ForwardUnits(int n, {Ex.ReadOnlySpan} {plan.InputName})"))
        {
            EmitFlagged(w, "_unitForward", $"SplitUnits(n, {plan.InputName}, default, training: false);");
        }

        w.Line();
        w.Line("private const int UnitsPhase = ForwardPhase + 1;");
        w.Line();
        w.Line("// Step `step` of shard `part` of k of a batch split by units, in its own arena: each shard writes only its own");
        w.Line("// buffers and its rows of `main`'s gradients (main is the network), so that no cache line is written by two threads.");
        using (w.Block($"private void RunUnitPhase(int step, int part, int k, {core} main)"))
        {
            w.Line("int n = _shardRows;");
            w.Line($"{Ex.ReadOnlySpan} input = _pinnedInput.Slice(0, n * InputSize);");
            using (w.Block("switch (step)"))
            {
                for (int i = 0; i < m; i++)
                {
                    EmitUnitsForward(w, hidden, i);
                }

                EmitUnitsOutput(w, plan, loss, chain);
                for (int i = m - 2; i >= 0; i--)
                {
                    EmitUnitsBackward(w, hidden, i, (2 * m) - 1 - i);
                }
            }
        }

        w.Line();
        w.Line("// Copies the other shards' blocks of units of the [n, units] tensor at `offset` (its values, or its gradients)");
        w.Line("// into this shard's.");
        using (w.Block($"private void GatherUnits({core} main, int part, int k, int offset, int units, bool gradients)"))
        {
            w.Line("int n = _shardRows;");
            using (w.Block("for (int s = 0; s < k; s++)"))
            {
                using (w.Block("if (s != part)"))
                {
                    w.Line($"(int from, int count) = {Ex.Kernels}.DenseColumnBlock(units, s, k);");
                    w.Line($"{core} other = main.Shard(s);");
                    w.Line($"{Ex.Kernels}.CopyColumns(gradients ? D(offset, units, n) : A(offset, units, n), gradients ? other.D(offset, units, n) : other.A(offset, units, n), rows: n, cols: units, from, count);");
                }
            }
        }

        w.Line();
    }

    // Step i: hidden layer i's own units (after the layer before's, gathered).
    private static void EmitUnitsForward(IndentedWriter w, EquatableArray<HiddenLayer> hidden, int i)
    {
        HiddenLayer h = hidden[i];
        OpenCase(w, i.ToString(CultureInfo.InvariantCulture));
        w.Line($"// {h.Dense.Name} and {h.Activation.Name} on this shard's units{(i == 0 ? string.Empty : $", from all of {hidden[i - 1].Activation.Name}'s")}");
        string x = i == 0 ? "input" : Ex.A(hidden[i - 1].Activation.Output);
        if (i > 0)
        {
            w.Line($"GatherUnits(main, part, k, {hidden[i - 1].Activation.Output.Const}, {hidden[i - 1].Units}, gradients: false);");
        }

        w.Line($"(int first, int units) = {Ex.Kernels}.DenseColumnBlock({h.Units}, part, k);");
        string bias = h.Dense.Bias is null ? "default" : Ex.P(h.Dense.Bias);
        w.Line($"{Ex.Kernels}.DenseForwardColumns({Ex.A(h.Dense.Output)}, {x}, {Ex.P(h.Dense.Weight)}, {bias}, rows: n, inFeatures: {h.Dense.InFeatures}, outFeatures: {h.Units}, first, units);");
        w.Line($"{Ex.Kernels}.ActivationForwardColumns({Ex.A(h.Activation.Output)}, {Ex.A(h.Dense.Output)}, {h.Kind}, alpha: {h.Alpha}, rows: n, cols: {h.Units}, first, units);");
        CloseCase(w);
    }

    // Step m: the output layer and the loss, whole on every shard; then the last hidden layer's own units backward.
    private static void EmitUnitsOutput(IndentedWriter w, NetworkPlan plan, LossSpec loss, UnitChain chain)
    {
        var hidden = chain.Hidden;
        int m = hidden.Length;
        HiddenLayer last = hidden[m - 1];
        DenseOp output = chain.Output;
        OpenCase(w, m.ToString(CultureInfo.InvariantCulture));
        using (w.Block("if (!main._unitTraining && part != 0)"))
        {
            w.Line("break; // evaluated: the outputs and the loss are shard 0's");
        }

        w.Line();
        w.Line($"GatherUnits(main, part, k, {last.Activation.Output.Const}, {last.Units}, gradients: false);");
        w.Line($"// {output.Name} and the loss for the whole batch, on every shard: the calls of one thread, so its bits");
        string bias = output.Bias is null ? "default" : Ex.P(output.Bias);
        string h = Ex.A(last.Activation.Output);
        w.Line($"{Ex.Kernels}.DenseForward({Ex.A(output.Output)}, {h}, {Ex.P(output.Weight)}, {bias}, rows: n, inFeatures: {output.InFeatures}, outFeatures: {output.OutFeatures});");
        using (w.Block("if (main._unitForward)"))
        {
            w.Line("WriteOutputs(n, new global::System.Span<float>(main._gathered, 0, n * OutputSize));");
            w.Line("break;");
        }

        w.Line();
        loss.EmitLoss(w, plan, "_shardTargets", null);
        w.Line("_shardLoss = loss;");
        using (w.Block("if (!main._unitTraining)"))
        {
            w.Line("break;");
        }

        w.Line();
        w.Line($"// {output.Name}'s input gradient on every shard; its parameters' gradients on shard 0");
        string gBias = output.Bias is null ? "default" : $"part == 0 ? main.{Ex.G(output.Bias)} : default";
        w.Line($"{Ex.Kernels}.DenseBackward({Ex.D(last.Activation.Output)}, part == 0 ? main.{Ex.G(output.Weight)} : default, {gBias}, {Ex.D(output.Output)}, {h}, {Ex.P(output.Weight)}, rows: n, inFeatures: {output.InFeatures}, outFeatures: {output.OutFeatures}, accumulate: !main._overwrite);");
        EmitUnitsGradients(w, hidden, m - 1);
        CloseCase(w);
    }

    // Step `step`: hidden layer i's input gradient, whole, from all of layer i + 1's units (gathered); then its own units backward.
    private static void EmitUnitsBackward(IndentedWriter w, EquatableArray<HiddenLayer> hidden, int i, int step)
    {
        HiddenLayer h = hidden[i], next = hidden[i + 1];
        OpenCase(w, step.ToString(CultureInfo.InvariantCulture));
        w.Line($"GatherUnits(main, part, k, {next.Dense.Output.Const}, {next.Units}, gradients: true);");
        w.Line($"// {next.Dense.Name}'s input gradient, whole on every shard: the call of one thread");
        w.Line($"{Ex.Kernels}.DenseBackward({Ex.D(h.Activation.Output)}, default, default, {Ex.D(next.Dense.Output)}, {Ex.A(h.Activation.Output)}, {Ex.P(next.Dense.Weight)}, rows: n, inFeatures: {next.Dense.InFeatures}, outFeatures: {next.Units}, accumulate: !main._overwrite);");
        EmitUnitsGradients(w, hidden, i);
        CloseCase(w);
    }

    // Hidden layer i's own units backward: its activation's, then its rows of the dense layer's gradients.
    private static void EmitUnitsGradients(IndentedWriter w, EquatableArray<HiddenLayer> hidden, int i)
    {
        HiddenLayer h = hidden[i];
        string x = i == 0 ? "input" : Ex.A(hidden[i - 1].Activation.Output);
        w.Line($"// {h.Activation.Name} and {h.Dense.Name} on this shard's units");
        w.Line($"(int first, int units) = {Ex.Kernels}.DenseColumnBlock({h.Units}, part, k);");
        w.Line($"{Ex.Kernels}.ActivationBackwardColumns({Ex.D(h.Dense.Output)}, {Ex.D(h.Activation.Output)}, {Ex.A(h.Dense.Output)}, {Ex.A(h.Activation.Output)}, {h.Kind}, alpha: {h.Alpha}, rows: n, cols: {h.Units}, first, units);");
        string gBias = h.Dense.Bias is null ? "default" : $"main.{Ex.G(h.Dense.Bias)}";
        w.Line($"{Ex.Kernels}.DenseBackwardColumns(main.{Ex.G(h.Dense.Weight)}, {gBias}, {Ex.D(h.Dense.Output)}, {x}, rows: n, inFeatures: {h.Dense.InFeatures}, outFeatures: {h.Units}, first, units, accumulate: !main._overwrite);");
    }
}
