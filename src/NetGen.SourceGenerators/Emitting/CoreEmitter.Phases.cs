using System.Linq;

namespace NetGen.SourceGenerators;

// The phases a shard of a split batch runs (see CoreEmitter.Shards.cs): forward up to each BatchNorm's
// statistics, the loss and backward up to each BatchNorm's gradient sums, and evaluation.
internal static partial class CoreEmitter
{
    // The phases a shard runs: forward up to the first BatchNorm's statistics, ..., the loss and
    // backward up to the last BatchNorm's gradient sums, ...; and evaluation (forward and loss).
    private static void EmitRunPhase(IndentedWriter w, NetworkPlan plan, LossSpec loss)
    {
        var batchNorms = plan.Ops.OfType<BatchNormOp>().ToList();
        using (w.Block("private void RunPhase(int phase, bool first)"))
        {
            w.Line("int n = _shardRows;");
            if (plan.PassesInput)
            {
                EmitShardInput(w);
            }

            using (w.Block("switch (phase)"))
            {
                int phase = 0;
                OpenCase(w, "0");
                using (w.Block("if (!first)"))
                {
                    w.Line("ClearAddedGradients(); // shard 0 adds to (or writes) the network's own gradients; the others start afresh");
                    if (plan.Ops.Any(o => o.OverwritesGradients))
                    {
                        w.Line("_overwrite = true;");
                    }
                }

                foreach (PlanOp op in plan.Ops)
                {
                    if (op is BatchNormOp bn)
                    {
                        w.Line($"{bn.Method}Moments(n{bn.InputArgument});");
                        CloseCase(w);
                        OpenCase(w, (++phase).ToString(System.Globalization.CultureInfo.InvariantCulture));
                        w.Line($"{bn.Method}Normalize(n{bn.InputArgument});");
                        continue;
                    }

                    if (op is ConvOp { StemOf: not null })
                    {
                        continue; // made by its BatchNorm in training
                    }

                    w.Line(op.TakesTrainingFlag ? $"{op.Method}Forward(n, training: true{op.InputArgument});" : $"{op.Method}Forward(n{op.InputArgument});");
                }

                loss.EmitLoss(w, plan, "_shardTargets", "_batchRows");
                w.Line("_shardLoss = loss;");
                for (int i = plan.Ops.Length - 1; i >= 0; i--)
                {
                    PlanOp op = plan.Ops[i];
                    if (op is BatchNormOp bn)
                    {
                        w.Line($"{bn.Method}GradientSums(n{bn.InputArgument});");
                        CloseCase(w);
                        if (bn.Stem is not null)
                        {
                            break; // the stem's convolution is the first with parameters, its gradient made in the merge
                        }

                        OpenCase(w, (++phase).ToString(System.Globalization.CultureInfo.InvariantCulture));
                        if (bn.HasInputGradient)
                        {
                            w.Line($"{bn.Method}InputGradient(n);");
                            EmitFanIn(w, bn);
                        }

                        continue;
                    }

                    if (op.HasBackward)
                    {
                        w.Line($"{op.Method}Backward(n{op.InputArgument});");
                        EmitFanIn(w, op);
                    }
                }

                if (batchNorms.Count == 0 || batchNorms[0].Stem is null)
                {
                    CloseCase(w);
                }

                OpenCase(w, "EvaluatePhase");
                w.Line($"ForwardPass(n, training: false{InputArgument(plan, "input")});");
                loss.EmitLoss(w, plan, "_shardTargets", "_batchRows");
                w.Line("_shardLoss = loss;");
                CloseCase(w);
            }
        }

        w.Line();
        EmitForwardShard(w, plan);
        w.Line();
    }

    private static void EmitShardInput(IndentedWriter w)
    {
        w.Line($"{Ex.ReadOnlySpan} input = _pinnedInput.Length > 0 // the share's samples: where the caller passed them, or copied in by the network");
        w.Line("    ? _pinnedInput.Slice(_shardStart * InputSize, n * InputSize)");
        w.Line("    : A(Input, InputSize, n);");
    }

    // `flag = true;` then `statement` with the flag cleared again in a finally, however it ends.
    private static void EmitFlagged(IndentedWriter w, string flag, string statement)
    {
        w.Line($"{flag} = true;");
        using (w.Block("try"))
        {
            w.Line(statement);
        }

        using (w.Block("finally"))
        {
            w.Line($"{flag} = false;");
        }
    }

    private static void OpenCase(IndentedWriter w, string label)
    {
        w.Line($"case {label}:");
        w.Line("{");
        w.Indent++;
    }

    private static void CloseCase(IndentedWriter w)
    {
        w.Line("break;");
        w.Indent--;
        w.Line("}");
    }

    private static void EmitFanIn(IndentedWriter w, PlanOp op)
    {
        int k = 0;
        foreach (Tensor input in op.Inputs)
        {
            Tensor target = op.InputGradients[k++];
            if (target.Const != input.Const)
            {
                w.Line($"{Ex.Kernels}.AddInto({Ex.D(input)}, {Ex.D(target)}); // {input.Const} is also read by {op.Name}: its gradients add up");
            }
        }
    }
}
