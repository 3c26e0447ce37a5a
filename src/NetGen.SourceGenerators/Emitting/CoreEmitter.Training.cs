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
        using (w.Block($"public float ComputeGradients({parameters})"))
        {
            w.Line($"int n = {check}({x}, {targets});");
            w.Line("ClearAddedGradients();");
            if (overwrites)
            {
                w.Line("_overwrite = true;");
                using (w.Block("try"))
                {
                    w.Line($"return Backpropagate(n, {x}, {targets});");
                }

                using (w.Block("finally"))
                {
                    w.Line("_overwrite = false;");
                }
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

            EmitCopyInput(w, plan);
            w.Line("ForwardPass(n, training: true);");
            EmitLoss(w, plan, loss, withGradients: true);
            w.Line("BackwardPass(n);");
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

            EmitCopyInput(w, plan);
            w.Line("ForwardPass(n, training: false);");
            EmitLoss(w, plan, loss, withGradients: false);
            w.Line("_lastBatch = n;");
            w.Line("_lastShards = 1;");
            w.Line("return loss;");
        }

        w.Line();
        w.Line($"public global::System.ReadOnlySpan<float> LastOutputs => _lastShards > 1 ? Gathered() : A({outputs.Const}, {outputs.Size}, _lastBatch);");
        w.Line();
        using (w.Block($"public float TrainStep({parameters}, global::NetGen.IOptimizer optimizer, global::NetGen.INetwork owner)"))
        {
            w.Line("global::System.ArgumentNullException.ThrowIfNull(optimizer);");
            w.Line("// An optimizer's state belongs to one network: a second one is refused before anything changes.");
            using (w.Block("if (optimizer is global::NetGen.Optimizer bound)"))
            {
                w.Line("bound.Bind(owner);");
            }

            w.Line($"float loss = ComputeGradients({x}, {targets});");
            using (w.Block("if (!float.IsFinite(loss))"))
            {
                w.Line("throw new global::NetGen.NonFiniteLossException(loss); // before the step: the parameters keep their values");
            }

            w.Line("optimizer.Step(_parameters, _gradients);");
            w.Line("return loss;");
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

    private static void EmitLoss(IndentedWriter w, NetworkPlan plan, LossSpec loss, bool withGradients)
    {
        loss.EmitLoss(w, plan, plan.Loss!.TargetType == "int" ? "labels" : "targets", null);
        foreach (PlanOp op in plan.Ops.Where(o => o.HasPenalty))
        {
            op.EmitPenalty(w, withGradients);
        }
    }
}
