namespace NetGen.SourceGenerators;

/// <summary>
/// A network whose attributes have errors still gets its public surface, with bodies that throw,
/// so that the user's own code binds and the only errors shown are NetGen's diagnostics.
/// </summary>
internal static class InvalidEmitter
{
    public static void Emit(IndentedWriter w, NetworkPlan plan)
    {
        string name = plan.Name;
        string inputs = $"global::System.ReadOnlySpan<{plan.InputType}> {plan.InputName}";
        w.Line("/// <summary>Not generated: the NetGen layer attributes of this class have errors (see the NGxxxx diagnostics).</summary>");
        NetworkEmitter.EmitTypeAttributes(w);
        using (w.Block($"partial class {name} : global::NetGen.INetwork<{plan.InputType}>"))
        {
            string error = $"NetGen could not generate {name}: its layer attributes have errors; see the NetGen diagnostics (NGxxxx) in the build output.";
            string fail = "throw new global::System.InvalidOperationException(__GenerationError);";
            w.Line($"private const string __GenerationError = \"{error}\";");
            w.Line();
            w.Line("/// <summary>Unknown: the network has errors.</summary>");
            w.Line("public const int InputSize = 0;");
            w.Line();
            w.Line("/// <summary>Unknown: the network has errors.</summary>");
            w.Line("public const int OutputSize = 0;");
            w.Line();
            w.Line("/// <summary>Unknown: the network has errors.</summary>");
            w.Line("public const int ParameterCount = 0;");
            w.Line();
            w.Line("/// <summary>The network has errors.</summary>");
            w.Line("public string Summary => __GenerationError;");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line("/// <param name=\"maxBatchSize\">Unused.</param>");
            w.Line("/// <param name=\"seed\">Unused.</param>");
            w.Line($"public {name}(int maxBatchSize, int seed = 0) => {fail}");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line($"public global::System.Collections.Generic.IReadOnlyList<global::NetGen.ParameterInfo> ParameterLayout => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public int MaxBatchSize => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public {Ex.Span} Parameters => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public {Ex.Span} Gradients => {fail}");
            w.Line();
            w.Line("/// <summary>Unknown: the network has errors.</summary>");
            w.Line("public const int StateCount = 0;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public {Ex.Span} State => {fail}");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line($"public global::System.Collections.Generic.IReadOnlyList<global::NetGen.ParameterInfo> StateLayout => {fail}");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line($"public global::System.Collections.Generic.IReadOnlyList<global::NetGen.ParameterInfo> TiedLayout => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public global::NetGen.SeededRandom RandomSource => {fail}");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line($"public global::System.ReadOnlySpan<float> LastOutputs => {fail}");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> InputShape => {fail}");
            w.Line();
            w.Line("/// <summary>Always throws: the network has errors.</summary>");
            w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> OutputShape => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public long BatchesTracked {{ get => {fail} set => {fail} }}");
            w.Line();
            FacadeEmitter.EmitExplicitInterface(w);
            w.Line("/// <inheritdoc/>");
            w.Line($"public void Forward({inputs}, {Ex.Span} outputs) => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public void InitializeParameters(int seed) => {fail}");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line($"public void ZeroGrad() => {fail}");
            foreach ((string target, string targets) in new[] { ("int", "labels"), ("float", "targets") })
            {
                w.Line();
                w.Line("/// <summary>Always throws: the network has errors.</summary>");
                w.Line($"/// <param name=\"{plan.InputName}\">Unused.</param>");
                w.Line($"/// <param name=\"{targets}\">Unused.</param>");
                w.Line("/// <returns>Never returns.</returns>");
                w.Line($"public float ComputeGradients({inputs}, global::System.ReadOnlySpan<{target}> {targets}) => {fail}");
                w.Line();
                w.Line("/// <summary>Always throws: the network has errors.</summary>");
                w.Line($"/// <param name=\"{plan.InputName}\">Unused.</param>");
                w.Line($"/// <param name=\"{targets}\">Unused.</param>");
                w.Line("/// <returns>Never returns.</returns>");
                w.Line($"public float AccumulateGradients({inputs}, global::System.ReadOnlySpan<{target}> {targets}) => {fail}");
                w.Line();
                w.Line("/// <summary>Always throws: the network has errors.</summary>");
                w.Line($"/// <param name=\"{plan.InputName}\">Unused.</param>");
                w.Line($"/// <param name=\"{targets}\">Unused.</param>");
                w.Line("/// <returns>Never returns.</returns>");
                w.Line($"public float Evaluate({inputs}, global::System.ReadOnlySpan<{target}> {targets}) => {fail}");
                w.Line();
                w.Line("/// <summary>Always throws: the network has errors.</summary>");
                w.Line($"/// <param name=\"{plan.InputName}\">Unused.</param>");
                w.Line($"/// <param name=\"{targets}\">Unused.</param>");
                w.Line("/// <param name=\"optimizer\">Unused.</param>");
                w.Line("/// <returns>Never returns.</returns>");
                w.Line($"public float TrainStep({inputs}, global::System.ReadOnlySpan<{target}> {targets}, global::NetGen.IOptimizer optimizer) => {fail}");
            }
        }
    }
}
