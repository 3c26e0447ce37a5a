namespace NetGen.SourceGenerators;

// Forward on several threads: a batch split by samples as Evaluate splits it, each shard running the forward pass
// in inference mode on its rows and writing their outputs into _gathered (the buffer LastOutputs gathers into),
// from which Forward copies them; an MLP's smaller batch is split by units instead (CoreEmitter.Units.cs).
internal static partial class CoreEmitter
{
    // ForwardShards: the batch given to the shards (in place, pinned, or copied in), then their run.
    private static void EmitForwardShards(IndentedWriter w, NetworkPlan plan)
    {
        string x = plan.InputName;
        w.Line("// Forward on a batch split across the threads: each shard writes its rows' outputs into _gathered, where");
        w.Line("// Forward copies them from (LastOutputs' scratch too, which refuses after a Forward).");
        using (w.Block($"private void ForwardShards(int n, global::System.ReadOnlySpan<{plan.InputType}> {x})"))
        {
            if (plan.PassesInput)
            {
                w.Line($"bool copy = Owns({x});");
                w.Line($"int k = Split(n, {x}, default, training: false, copyInputs: copy);");
                using (w.Block("if (copy)"))
                {
                    w.Line("RunShards(ForwardPhase, k);");
                    w.Line("return;");
                }

                w.Line();
                EmitFlagged(w, "_splitForward", $"global::NetGen.PinnedInput.Run({x}, this);");
            }
            else
            {
                w.Line($"int k = Split(n, {x}, default, training: false);");
                w.Line("RunShards(ForwardPhase, k);");
            }
        }

        w.Line();
    }

    // ForwardShard: one shard's phase.
    private static void EmitForwardShard(IndentedWriter w, NetworkPlan plan)
    {
        w.Line("// Forward's phase: this shard's rows in inference mode, their outputs written into `outputs`.");
        using (w.Block($"private void ForwardShard({Span} outputs)"))
        {
            w.Line("int n = _shardRows;");
            if (plan.PassesInput)
            {
                EmitShardInput(w);
            }

            w.Line($"ForwardPass(n, training: false{InputArgument(plan, "input")});");
            w.Line("WriteOutputs(n, outputs);");
        }
    }
}
