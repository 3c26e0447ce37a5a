namespace NetGen.SourceGenerators;

// The forward and backward passes: every op's forward method in order, every backward method in reverse
// with the gradients of a tensor read twice added up (EmitFanIn).
internal static partial class CoreEmitter
{
    private static void EmitPasses(IndentedWriter w, NetworkPlan plan)
    {
        w.Line("// The forward pass: every op in order, reading the arena and writing the next tensor.");
        w.Line("// Training mode draws dropout masks and normalises with batch statistics; inference does neither.");
        if (plan.PassesInput)
        {
            w.Line("// The first layer reads the input where the caller passed it (or the copy StepInput made).");
        }

        using (w.Block($"private void ForwardPass(int n, bool training{InputParameter(plan)})"))
        {
            foreach (PlanOp op in plan.Ops)
            {
                w.Line(op.TakesTrainingFlag ? $"{op.Method}Forward(n, training{op.InputArgument});" : $"{op.Method}Forward(n{op.InputArgument});");
            }
        }

        w.Line();
        w.Line("// The backward pass: every op in reverse, from the loss gradient in D(last) to the first layer.");
        using (w.Block($"private void BackwardPass(int n{InputParameter(plan)})"))
        {
            for (int i = plan.Ops.Length - 1; i >= 0; i--)
            {
                PlanOp op = plan.Ops[i];
                if (!op.HasBackward)
                {
                    w.Line($"// {op.Name}: {op.NoBackwardNote}");
                    continue;
                }

                w.Line($"{op.Method}Backward(n{op.InputArgument});");
                EmitFanIn(w, op);
            }
        }

        w.Line();
    }

    private static string InputParameter(NetworkPlan plan) => plan.PassesInput ? $", {Ex.ReadOnlySpan} input" : "";

    private static string InputArgument(NetworkPlan plan, string input) => plan.PassesInput ? ", " + input : "";
}
