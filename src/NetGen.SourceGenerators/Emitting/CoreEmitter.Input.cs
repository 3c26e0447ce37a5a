namespace NetGen.SourceGenerators;

// The network's input in a step: copied into the arena, or, where the first layer reads it where the
// caller passed it (PlanOp.ReadsCallerInput), handed to the passes as the local `input`.
internal static partial class CoreEmitter
{
    private static void EmitCopyInput(IndentedWriter w, NetworkPlan plan)
    {
        if (plan.PassesInput)
        {
            w.Line($"{Ex.ReadOnlySpan} input = StepInput(inputs, n);");
            return;
        }

        w.Line(plan.TokenInput
            ? $"tokens.CopyTo(I(Input, {plan.InputSize}, n));"
            : $"inputs.CopyTo(A(Input, {plan.InputSize}, n));");
    }

    private static void EmitStepInput(IndentedWriter w, NetworkPlan plan)
    {
        if (!plan.PassesInput)
        {
            return;
        }

        w.Line();
        w.Line("// The input as the first layer reads it: where the caller passed it, without copying it into the arena,");
        w.Line("// unless it lies in this network's own activations or gradients (LastOutputs, Gradients), which the");
        w.Line("// step writes before it is done reading the input: then a copy in the arena.");
        using (w.Block($"private {Ex.ReadOnlySpan} StepInput({Ex.ReadOnlySpan} inputs, int n)"))
        {
            using (w.Block("if (!Owns(inputs))"))
            {
                w.Line("return inputs;");
            }

            w.Line($"inputs.CopyTo(A(Input, {plan.InputSize}, n));");
            w.Line($"return A(Input, {plan.InputSize}, n);");
        }

        w.Line();
        if (plan.Loss is null)
        {
            w.Line("// Whether the inputs lie in this network's own activations or gradients, which a step writes.");
        }
        else
        {
            w.Line("// Whether the inputs lie in this network's own activations or gradients, which a step writes, or in the");
            w.Line("// outputs of a split batch gathered for LastOutputs, where a split Forward writes.");
        }

        w.Line($"private bool Owns({Ex.ReadOnlySpan} inputs) =>");
        w.Line($"    global::System.MemoryExtensions.Overlaps(inputs, new {Ex.ReadOnlySpan}(_activations))");
        w.Line($"    || global::System.MemoryExtensions.Overlaps(inputs, new {Ex.ReadOnlySpan}(_gradients)){(plan.Loss is null ? ";" : string.Empty)}");
        if (plan.Loss is not null)
        {
            w.Line($"    || global::System.MemoryExtensions.Overlaps(inputs, new {Ex.ReadOnlySpan}(_gathered));");
        }
    }
}
