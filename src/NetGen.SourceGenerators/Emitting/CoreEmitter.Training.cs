using System.Linq;

namespace NetGen.SourceGenerators;

// The training methods of the nested implementation: ComputeGradients, AccumulateGradients and
// TrainStep, Evaluate, and the argument checks they share.
internal static partial class CoreEmitter
{
    private static void EmitTraining(IndentedWriter w, NetworkPlan plan, LossSpec loss)
    {
        string target = loss.TargetType;
        string targets = target == "int" ? "labels" : "targets";
        string x = plan.InputName;
        string inputs = $"global::System.ReadOnlySpan<{plan.InputType}> {x}";
        string parameters = $"{inputs}, global::System.ReadOnlySpan<{target}> {targets}";
        Tensor outputs = plan.Probabilities ?? plan.Last!;
        // A BatchNorm layer needs two samples in training: checked with the rest, before anything is written.
        var batchNorms = plan.Ops.OfType<BatchNormOp>().ToList();
        string check = batchNorms.Count > 0 ? "CheckTraining" : "Check";
        bool overwrites = plan.Ops.Any(o => o.OverwritesGradients);
        DenseOp? deferred = DeferredDense(plan);
        using (w.Block($"public float ComputeGradients({parameters})"))
        {
            w.Line($"int n = {check}({x}, {targets});");
            if (deferred is not null)
            {
                w.Line("_deferredRows = 0; // written afresh");
            }

            w.Line("ClearAddedGradients();");
            if (overwrites)
            {
                EmitFlagged(w, "_overwrite", $"return Backpropagate(n, {x}, {targets});");
            }
            else
            {
                w.Line($"return Backpropagate(n, {x}, {targets});");
            }
        }

        w.Line();
        using (w.Block($"public float AccumulateGradients({parameters})"))
        {
            w.Line($"int n = {check}({x}, {targets});");
            if (deferred is not null)
            {
                using (w.Block("if (_deferredRows > 0)"))
                {
                    w.Line("WriteDeferredGradient(); // the last TrainStep's, added to now");
                }
            }

            w.Line($"return Backpropagate(n, {x}, {targets});");
        }

        w.Line();
        if (batchNorms.Count > 0)
        {
            using (w.Block($"private int CheckTraining({parameters})"))
            {
                w.Line($"int n = Check({x}, {targets});");
                foreach (BatchNormOp bn in batchNorms)
                {
                    w.Line($"{Ex.Guard}.TrainingBatchNorm(n, \"{bn.Name} (layer {bn.Row})\", nameof({x}));");
                }

                w.Line("return n;");
            }

            w.Line();
        }

        // A fresh step's gradients: the layers that can write theirs do (no pass to clear them first);
        // the others' are cleared, then added to.
        var overwritten = new System.Collections.Generic.HashSet<string>(plan.Ops.Where(o => o.OverwritesGradients).SelectMany(o => o.ParameterTensors).Select(p => p.Const));
        w.Line("// Clears the gradients of the parameters whose layers add to them (the others are written by their layer).");
        using (w.Block("private void ClearAddedGradients()"))
        {
            var added = plan.Parameters.Where(p => !overwritten.Contains(p.Const)).ToList();
            if (added.Count == 0)
            {
                w.Line("// none: every layer with parameters writes its gradients");
            }

            foreach (ParamTensor p in added)
            {
                w.Line($"{Ex.G(p)}.Clear();");
            }
        }

        w.Line();
        w.Line("// Forward in training mode, the loss, and backward: parameter gradients are added to Gradients (or written, see _overwrite).");
        using (w.Block($"private float Backpropagate(int n, {parameters})"))
        {
            if (batchNorms.Count > 0)
            {
                w.Line("BatchesTracked++; // PyTorch's num_batches_tracked: one per forward pass in training mode");
            }

            using (w.Block("if (ShardsFor(n) > 1)"))
            {
                w.Line($"return BackpropagateShards(n, {x}, {targets});");
            }

            EmitUnitBranch(w, plan, targets, deferred is not null, training: true);
            EmitCopyInput(w, plan);
            bool dense = SplitsProducts(plan);
            if (dense)
            {
                w.Line("_productThreads = _threads; // a batch too small to split across the threads has its large dense products split instead");
            }

            w.Line($"ForwardPass(n, training: true{InputArgument(plan, "input")});");
            EmitLoss(w, plan, loss, withGradients: true);
            w.Line($"BackwardPass(n{InputArgument(plan, "input")});");
            if (deferred is not null)
            {
                using (w.Block("if (_deferWeight)"))
                {
                    w.Line($"{deferred.InputValues}.CopyTo(_deferredInput); // the factors of {deferred.Weight.Name}'s gradient, for the optimizer (see TrainStep)");
                    w.Line($"{Ex.D(deferred.Output)}.CopyTo(_deferredOutputGradient);");
                }
            }
            if (dense)
            {
                w.Line("_productThreads = 1;");
            }

            w.Line("_lastBatch = n;");
            w.Line("_lastShards = 1;");
            w.Line("return loss;");
        }

        w.Line();
        using (w.Block($"public float Evaluate({parameters})"))
        {
            w.Line($"int n = Check({x}, {targets});");
            using (w.Block("if (ShardsFor(n) > 1)"))
            {
                w.Line($"return EvaluateShards(n, {x}, {targets});");
            }

            EmitUnitBranch(w, plan, targets, deferred: false, training: false);
            EmitCopyInput(w, plan);
            w.Line($"ForwardPass(n, training: false{InputArgument(plan, "input")});");
            EmitLoss(w, plan, loss, withGradients: false);
            w.Line("_lastBatch = n;");
            w.Line("_lastShards = 1;");
            w.Line("return loss;");
        }

        w.Line();
        w.Line("public global::System.ReadOnlySpan<float> LastOutputs => _lastBatch == ForwardRan");
        w.Line("    ? throw new global::System.InvalidOperationException(\"LastOutputs: Forward has run since the last ComputeGradients or Evaluate and written over their outputs; Forward's outputs are in the span it was given.\")");
        w.Line($"    : _lastShards > 1 ? Gathered() : A({outputs.Const}, {outputs.Size}, _lastBatch);");
        w.Line();
        w.Line("private const int ForwardRan = -1;");
        w.Line();
        using (w.Block($"public float TrainStep({parameters}, global::NetGen.IOptimizer optimizer, global::NetGen.INetwork owner)"))
        {
            w.Line("global::System.ArgumentNullException.ThrowIfNull(optimizer);");
            w.Line("// An optimizer's state belongs to one network: a second one is refused before anything changes.");
            using (w.Block("if (optimizer is global::NetGen.Optimizer bound)"))
            {
                w.Line("bound.Bind(owner);");
            }

            if (deferred is null)
            {
                w.Line($"float loss = ComputeGradients({x}, {targets});");
                using (w.Block("if (!float.IsFinite(loss))"))
                {
                    w.Line("throw new global::NetGen.NonFiniteLossException(loss); // before the step: the parameters keep their values");
                }

                w.Line("Step(optimizer);");
                w.Line("return loss;");
            }
            else
            {
                EmitDeferredTrainStep(w, deferred, x, targets);
            }
        }

        w.Line();
        w.Line("// NetGen's optimizers update each parameter on its own: on Threads threads, each takes the slice of the");
        w.Line("// buffer in which it added up the shares' gradients (ReduceGradients), the same bits as on one thread.");
        using (w.Block("private void Step(global::NetGen.IOptimizer optimizer)"))
        {
            using (w.Block("if (optimizer is global::NetGen.Optimizer own)"))
            {
                w.Line("own.Step(_parameters, _gradients, threads: _threads);");
            }

            using (w.Block("else"))
            {
                w.Line("optimizer.Step(_parameters, _gradients);");
            }
        }

        if (deferred is not null)
        {
            w.Line();
            EmitWriteDeferredGradient(w, deferred);
        }

        w.Line();
        w.Line("// Every argument checked before anything is written: a refused batch changes nothing.");
        using (w.Block($"private int Check({parameters})"))
        {
            w.Line($"int n = {Ex.Guard}.BatchSize({x}.Length, InputSize, MaxBatchSize, nameof({x}));");
            if (target == "int")
            {
                w.Line(plan.LabelsPerSample == 1
                    ? $"{Ex.Guard}.Length(labels.Length, n, nameof(labels), \"one label per sample\");"
                    : $"{Ex.Guard}.Length(labels.Length, n * {plan.LabelsPerSample}, nameof(labels), \"one label per position, {plan.LabelsPerSample} per sample\");");
                w.Line($"{Ex.Guard}.Labels(labels, {plan.Classes}, nameof(labels));");
            }
            else
            {
                w.Line($"{Ex.Guard}.Length(targets.Length, n * OutputSize, nameof(targets), \"batch size times OutputSize\");");
            }

            EmitTokenCheck(w, plan);
            w.Line("return n;");
        }

        w.Line();
    }

    // TrainStep when a weight's gradient may be deferred: at small batches (one thread) its backward
    // skips that product, and the optimizer computes the gradient a block of rows at a time where it
    // applies it (the same values, bit for bit); its factors are kept for Gradients.
    private static void EmitDeferredTrainStep(IndentedWriter w, DenseOp d, string x, string targets)
    {
        w.Line($"// At batches of up to DeferMaxRows (one thread), {d.Weight.Name}'s gradient is not written out here: the");
        w.Line("// optimizer computes it a few rows at a time where it applies them (the same values, without");
        w.Line("// writing the gradient out and reading it back); Gradients writes it if it is read.");
        w.Line($"int n = {x}.Length / InputSize;");
        w.Line("bool defer = n <= DeferMaxRows && ShardsFor(n) == 1 && optimizer is global::NetGen.Optimizer { IsElementwise: true };");
        w.Line("_deferWeight = defer;");
        w.Line("float loss;");
        using (w.Block("try"))
        {
            w.Line($"loss = ComputeGradients({x}, {targets});");
        }

        using (w.Block("finally"))
        {
            w.Line("_deferWeight = false;");
        }

        using (w.Block("if (defer)"))
        {
            w.Line("_deferredRows = n; // Backpropagate kept the factors");
        }

        using (w.Block("if (!float.IsFinite(loss))"))
        {
            w.Line("throw new global::NetGen.NonFiniteLossException(loss); // before the step: the parameters keep their values");
        }

        using (w.Block("if (defer)"))
        {
            w.Line($"var gradient = new global::NetGen.DeferredWeightGradient({d.Weight.Const}, DeferredOutputGradient(n), DeferredInput(n), n, inFeatures: {d.InFeatures}, outFeatures: {d.OutFeatures});");
            w.Line("((global::NetGen.Optimizer)optimizer).Step(_parameters, _gradients, gradient);");
        }

        using (w.Block("else"))
        {
            w.Line("Step(optimizer);");
        }

        w.Line("return loss;");
    }

    private static void EmitWriteDeferredGradient(IndentedWriter w, DenseOp d)
    {
        w.Line($"// Writes the gradient of {d.Weight.Name} that the last TrainStep left to the optimizer, from the factors it kept.");
        using (w.Block("private void WriteDeferredGradient()"))
        {
            w.Line("int n = _deferredRows;");
            w.Line("_deferredRows = 0;");
            w.Line($"{Ex.Kernels}.DenseBackward(default, {Ex.G(d.Weight)}, default, DeferredOutputGradient(n), DeferredInput(n), default,");
            w.Line($"    rows: n, inFeatures: {d.InFeatures}, outFeatures: {d.OutFeatures}, accumulate: false);");
        }

        w.Line();
        w.Line($"private global::System.ReadOnlySpan<float> DeferredInput(int n) => new(_deferredInput, 0, n * {d.InFeatures});");
        w.Line();
        w.Line($"private global::System.ReadOnlySpan<float> DeferredOutputGradient(int n) => new(_deferredOutputGradient, 0, n * {d.OutFeatures});");
    }

    private static void EmitLoss(IndentedWriter w, NetworkPlan plan, LossSpec loss, bool withGradients)
    {
        loss.EmitLoss(w, plan, plan.Loss!.TargetType == "int" ? "labels" : "targets", null);
        foreach (PlanOp op in plan.Ops.Where(o => o.HasPenalty))
        {
            op.EmitPenalty(w, withGradients);
        }
    }
}
