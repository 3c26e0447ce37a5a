using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>
/// The public surface in the user's partial class: constructor, buffers, layouts, Forward and the
/// training methods, each a one-line call into the nested implementation. Nothing private lives
/// here but the field that holds the implementation.
/// </summary>
internal static class FacadeEmitter
{
    private const string Core = NetworkEmitter.Core;
    private const string Net = NetworkEmitter.Field;
    private const string Span = Ex.Span;
    private const string ReadOnlySpan = Ex.ReadOnlySpan;
    private const string Layout = "global::System.Collections.Generic.IReadOnlyList<global::NetGen.ParameterInfo>";

    public static void Emit(IndentedWriter w, NetworkPlan plan)
    {
        w.Line($"// Everything else lives in {Core}, at the end of this file.");
        w.Line($"private readonly {Core} {Net};");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Creates the network and allocates every buffer it will use, once: nothing is allocated by");
        w.Line("/// <see cref=\"Forward\"/> or by training afterwards. Parameters are initialised from <paramref name=\"seed\"/>.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"maxBatchSize\">The largest batch that will be passed; must be positive.</param>");
        w.Line("/// <param name=\"seed\">Seed for the initial parameters.</param>");
        w.Line($"public {plan.Name}(int maxBatchSize, int seed = 0) => {Net} = new {Core}(maxBatchSize, seed);");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public int MaxBatchSize => {Net}.MaxBatchSize;");
        w.Line();
        if (plan.Loss is not null)
        {
            w.Line("/// <summary>");
            w.Line("/// Threads that ComputeGradients, AccumulateGradients, TrainStep, Evaluate and Forward split a batch across (default 1).");
            w.Line("/// Each thread takes a contiguous share of the batch's samples, with activations and gradients of its own");
            w.Line("/// (allocated here, when the count changes); dropout masks are drawn before the split and BatchNorm");
            w.Line("/// statistics merged across the shares, so the result is the batch's, and the same thread count gives the");
            w.Line("/// same bits on every run (other counts agree to rounding). Nothing is allocated per step.");
            if (CoreEmitter.SplitsProducts(plan))
            {
                w.Line("/// A batch too small to split (fewer than twice <see cref=\"MinSamplesPerThread\"/> samples) is trained on");
                w.Line("/// one share, with its large dense products split across the threads instead: the bits of one thread.");
            }

            w.Line("/// </summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">Not in [1, <see cref=\"global::NetGen.Workers.MaxThreads\"/>].</exception>");
            EmitGuardedProperty(w, plan, "Threads");
            w.Line("/// <summary>");
            w.Line("/// The fewest samples a thread is given: a batch is split into at most <see cref=\"Threads\"/> shares of at");
            w.Line($"/// least this many (default {plan.MinSamplesPerThread.ToString(System.Globalization.CultureInfo.InvariantCulture)}: 64 times the parameters over the multiply-adds per sample, below which");
            w.Line("/// copying and adding a share's gradients costs more than its thread saves). 1 splits any batch.");
            w.Line("/// </summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">Less than 1.</exception>");
            EmitGuardedProperty(w, plan, "MinSamplesPerThread");
        }

        w.Line("/// <inheritdoc/>");
        w.Line($"public {Span} Parameters => {Net}.Parameters;");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public {Span} Gradients => {Net}.Gradients;");
        w.Line();
        w.Line("/// <summary>Name, offset and shape of every parameter tensor, in buffer order.</summary>");
        w.Line($"public {Layout} ParameterLayout => {Core}.ParameterLayout;");
        w.Line();
        w.Line("/// <summary>Tied parameters: each one's name with the offset and shape of the values it shares (empty when nothing is tied).</summary>");
        w.Line($"public {Layout} TiedLayout => {Core}.TiedLayout;");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public {Span} State => {Net}.State;");
        w.Line();
        w.Line("/// <summary>Name, offset and shape of every state tensor, in buffer order.</summary>");
        w.Line($"public {Layout} StateLayout => {Core}.StateLayout;");
        w.Line();
        w.Line($"/// <summary>The shape of one input sample: {Shapes.Format(plan.InputShape)}.</summary>");
        w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> InputShape => {Core}.InputShape;");
        w.Line();
        w.Line($"/// <summary>The shape of one output sample: {Shapes.Format(plan.OutputShape)}.</summary>");
        w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> OutputShape => {Core}.OutputShape;");
        w.Line();
        w.Line("/// <inheritdoc/>");
        using (w.Block("public long BatchesTracked"))
        {
            w.Line($"get => {Net}.BatchesTracked;");
            w.Line($"set => {Net}.BatchesTracked = value >= 0 ? value : throw new global::System.ArgumentOutOfRangeException(nameof(BatchesTracked), value, \"BatchesTracked counts batches and cannot be negative.\");");
        }

        w.Line();
        w.Line("/// <summary>The inference graph in ONNX terms, for <see cref=\"global::NetGen.IO.Onnx\"/> (built on each read).</summary>");
        w.Line($"global::NetGen.IO.OnnxGraph global::NetGen.IO.IOnnxExportable.OnnxGraph => {Core}.CreateOnnxGraph();");
        w.Line();
        w.Line("/// <summary>The layer table: each layer's output shape and parameter count (also in this class's XML docs).</summary>");
        w.Line($"public string Summary => {Core}.Summary;");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public global::NetGen.SeededRandom RandomSource => {Net}.RandomSource;");
        w.Line();
        EmitExplicitInterface(w);
        w.Line("/// <summary>");
        w.Line($"/// Inference on a batch of <c>inputs.Length / InputSize</c> samples; writes {plan.Loss?.OutputsDescription ?? "the last layer's output"}.");
        w.Line("/// </summary>");
        EmitInputParam(w, plan);
        w.Line("/// <param name=\"outputs\">Batch size times <see cref=\"OutputSize\"/> values.</param>");
        w.Line((plan.TokenInput
            ? "/// <exception cref=\"global::System.ArgumentException\">A length does not fit, the batch exceeds <see cref=\"MaxBatchSize\"/>, or a token id lies outside the vocabulary.</exception>"
            : "/// <exception cref=\"global::System.ArgumentException\">A length does not fit, or the batch exceeds <see cref=\"MaxBatchSize\"/>.</exception>"));
        EmitGuarded(w, plan.Name, $"public void Forward(global::System.ReadOnlySpan<{plan.InputType}> {plan.InputName}, {Span} outputs)", "Forward", $"{Net}.Forward({plan.InputName}, outputs);");
        w.Line();
        EmitInferenceContext(w, plan);
        w.Line("/// <inheritdoc/>");
        EmitGuarded(w, plan.Name, "public void ZeroGrad()", "ZeroGrad", $"{Net}.ZeroGrad();");
        w.Line();
        EmitTraining(w, plan);
        w.Line("/// <summary>");
        w.Line("/// Draws new parameters from <paramref name=\"seed\"/>: He normal for a weight followed by a ReLU-family");
        w.Line("/// activation, Glorot uniform for the others; biases zero; BatchNorm scale 1 and running statistics reset.");
        w.Line("/// Allocates only the random generator.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"seed\">The same seed gives the same parameters on every platform.</param>");
        EmitGuarded(w, plan.Name, "public void InitializeParameters(int seed)", "InitializeParameters", $"{Net}.InitializeParameters(seed);");
        w.Line();
    }

    // A network is for one thread at a time (its activations are its own). Concurrent inference
    // (a web server's requests) gets one context per thread: activations of its own, the
    // network's parameters shared, not copied.
    private static void EmitInferenceContext(IndentedWriter w, NetworkPlan plan)
    {
        string x = plan.InputName;
        w.Line("/// <summary>");
        w.Line("/// Creates a context for inference on another thread: activations of its own for up to");
        w.Line("/// <paramref name=\"maxBatchSize\"/> samples, and this network's parameters and state, shared (not copied:");
        w.Line("/// what training changes, the context's next Forward sees). A network, and each context, is for one thread");
        w.Line("/// at a time; use a context per thread (or per request) for concurrent inference. Allocates the activations only.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"maxBatchSize\">The largest batch the context will be given.</param>");
        w.Line("/// <returns>The context.</returns>");
        w.Line($"public InferenceContext CreateInferenceContext(int maxBatchSize) => new(this, maxBatchSize);");
        w.Line();
        w.Line($"/// <summary>Inference on the parameters of a <see cref=\"{plan.Name}\"/>, for one thread at a time: see <see cref=\"CreateInferenceContext\"/>.</summary>");
        NetworkEmitter.EmitTypeAttributes(w);
        using (w.Block("public sealed class InferenceContext"))
        {
            w.Line($"private readonly {Core} _net;");
            w.Line();
            w.Line($"internal InferenceContext({plan.Name} network, int maxBatchSize) => _net = new {Core}(network.{Net}, maxBatchSize);");
            w.Line();
            w.Line("/// <summary>The largest batch this context takes.</summary>");
            w.Line("public int MaxBatchSize => _net.MaxBatchSize;");
            w.Line();
            w.Line(plan.Loss is null
                ? "/// <summary>As the network's Forward, with this context's activations.</summary>"
                : "/// <summary>As the network's Forward, with this context's activations, on the calling thread (the network's Threads split its own calls only).</summary>");
            EmitInputParam(w, plan);
            w.Line("/// <param name=\"outputs\">Batch size times OutputSize values.</param>");
            using (w.Block($"public void Forward(global::System.ReadOnlySpan<{plan.InputType}> {x}, {Span} outputs)"))
            {
                using (w.Block($"using (_net.UseGuard.Enter(nameof(Forward), nameof(InferenceContext)))"))
                {
                    w.Line($"_net.Forward({x}, outputs);");
                }
            }
        }

        w.Line();
    }

    /// <summary>
    /// A public method whose body runs inside the network's concurrent-use guard: a second thread
    /// inside the network at once gets an exception instead of corrupting the first one's results.
    /// </summary>
    public static void EmitGuarded(IndentedWriter w, string network, string header, string method, string statement)
    {
        using (w.Block(header))
        {
            using (w.Block($"using ({Net}.UseGuard.Enter(nameof({method}), nameof({network})))"))
            {
                w.Line(statement);
            }
        }
    }

    private static void EmitGuardedProperty(IndentedWriter w, NetworkPlan plan, string name)
    {
        w.Line($"public int {name}");
        w.Line("{");
        w.Line($"    get => {Net}.{name};");
        w.Line("    set");
        w.Line("    {");
        w.Line($"        using ({Net}.UseGuard.Enter(nameof({name}), nameof({plan.Name})))");
        w.Line("        {");
        w.Line($"            {Net}.{name} = value;");
        w.Line("        }");
        w.Line("    }");
        w.Line("}");
        w.Line();
    }

    public static void EmitExplicitInterface(IndentedWriter w)
    {
        w.Line("int global::NetGen.INetwork.InputSize => InputSize;");
        w.Line();
        w.Line("int global::NetGen.INetwork.OutputSize => OutputSize;");
        w.Line();
        w.Line("int global::NetGen.INetwork.ParameterCount => ParameterCount;");
        w.Line();

    }

    private static void EmitInputParam(IndentedWriter w, NetworkPlan plan) =>
        w.Line(plan.TokenInput
            ? $"/// <param name=\"tokens\">The batch, sample after sample: <see cref=\"InputSize\"/> token ids in [0, <see cref=\"Vocabulary\"/>) each.</param>"
            : "/// <param name=\"inputs\">The batch, sample after sample.</param>");

    private static void EmitTraining(IndentedWriter w, NetworkPlan plan)
    {
        string x = plan.InputName;
        string inputs = $"global::System.ReadOnlySpan<{plan.InputType}> {x}";
        if (plan.Loss is not { } loss)
        {
            string why = $"{plan.Name} has no loss layer, so it cannot be trained; add one, e.g. [SoftmaxCrossEntropy], as its last layer.";
            EmitUnusable(w, plan, "int", "labels", why);
            EmitUnusable(w, plan, "float", "targets", why);
            return;
        }

        string target = loss.TargetType;
        string targets = target == "int" ? "labels" : "targets";
        string parameters = $"{inputs}, global::System.ReadOnlySpan<{target}> {targets}";
        string penalties = plan.Ops.Any(o => o.HasPenalty) ? " plus the L1/L2 penalties" : string.Empty;
        w.Line("/// <summary>");
        w.Line($"/// Training mode: forward pass, {loss.Display} loss{penalties} and backward pass on a batch:");
        w.Line("/// afterwards <see cref=\"Gradients\"/> hold the gradient of the returned mean loss. Parameters are not changed.");
        w.Line("/// </summary>");
        EmitTargetParams(w, plan, target);
        w.Line("/// <returns>The mean loss over the batch.</returns>");
        EmitGuarded(w, plan.Name, $"public float ComputeGradients({parameters})", "ComputeGradients", $"return {Net}.ComputeGradients({x}, {targets});");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// As <see cref=\"ComputeGradients\"/>, but adds this batch's gradient to <see cref=\"Gradients\"/> instead of");
        w.Line("/// replacing it: gradient accumulation over micro-batches. Call <see cref=\"ZeroGrad\"/> before the first;");
        w.Line("/// for the mean over k micro-batches of equal size, scale the sum by 1/k.");
        w.Line("/// </summary>");
        EmitTargetParams(w, plan, target);
        w.Line("/// <returns>The mean loss over this micro-batch.</returns>");
        EmitGuarded(w, plan.Name, $"public float AccumulateGradients({parameters})", "AccumulateGradients", $"return {Net}.AccumulateGradients({x}, {targets});");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Inference mode (dropout off, BatchNorm on running statistics): forward pass and loss, no gradients;");
        w.Line("/// the validation loss. <see cref=\"LastOutputs\"/> then holds the outputs.");
        w.Line("/// </summary>");
        EmitTargetParams(w, plan, target);
        w.Line("/// <returns>The mean loss over the batch.</returns>");
        EmitGuarded(w, plan.Name, $"public float Evaluate({parameters})", "Evaluate", $"return {Net}.Evaluate({x}, {targets});");
        w.Line();
        w.Line("/// <summary>The outputs of the last <see cref=\"ComputeGradients\"/> or <see cref=\"Evaluate\"/> call, batch size times <see cref=\"OutputSize\"/> values.</summary>");
        w.Line("/// <exception cref=\"global::System.InvalidOperationException\"><see cref=\"Forward\"/> has run since, in the same activations (its outputs are in the span it was given).</exception>");
        w.Line($"public global::System.ReadOnlySpan<float> LastOutputs => {Net}.LastOutputs;");
        w.Line();
        w.Line("/// <summary><see cref=\"ComputeGradients\"/>, then one step of <paramref name=\"optimizer\"/> on the parameters.</summary>");
        EmitInputParam(w, plan);
        w.Line($"/// <param name=\"{targets}\">As for <see cref=\"ComputeGradients\"/>.</param>");
        w.Line("/// <param name=\"optimizer\">Updates the parameters from the gradients.</param>");
        w.Line("/// <returns>The mean loss over the batch, before the update.</returns>");
        w.Line("/// <exception cref=\"global::NetGen.NonFiniteLossException\">The loss is NaN or infinite: the optimizer did not step, the parameters keep their values.</exception>");
        w.Line("/// <exception cref=\"global::System.InvalidOperationException\">The optimizer is bound to another network (its state belongs to one).</exception>");
        EmitGuarded(w, plan.Name, $"public float TrainStep({parameters}, global::NetGen.IOptimizer optimizer)", "TrainStep", $"return {Net}.TrainStep({x}, {targets}, optimizer, this);");
        w.Line();
        string other = target == "int" ? "float" : "int";
        string message = target == "int"
            ? $"{plan.Name} is trained with int class labels: its loss is {loss.Display}."
            : $"{plan.Name} is trained with float targets: its loss is {loss.Display}.";
        EmitUnusable(w, plan, other, other == "int" ? "labels" : "targets", message);
    }

    private static void EmitTargetParams(IndentedWriter w, NetworkPlan plan, string target)
    {
        EmitInputParam(w, plan);
        string per = plan.LabelsPerSample == 1 ? "per sample" : $"per position ({plan.LabelsPerSample} per sample)";
        w.Line(target == "int"
            ? $"/// <param name=\"labels\">One class label in [0, {plan.Classes}) {per}.</param>"
            : "/// <param name=\"targets\">Batch size times <see cref=\"OutputSize\"/> target values.</param>");
    }

    // Overloads that must not be called: they exist so that the mistake is a compile-time error
    // with a message that says what to do, not "no overload takes these arguments".
    private static void EmitUnusable(IndentedWriter w, NetworkPlan plan, string target, string targets, string message)
    {
        string literal = NetworkEmitter.Literal(message);
        string x = plan.InputName;
        foreach ((string method, string extra) in new[] { ("ComputeGradients", ""), ("AccumulateGradients", ""), ("Evaluate", ""), ("TrainStep", ", global::NetGen.IOptimizer optimizer") })
        {
            w.Line($"/// <summary>Not available: {NetworkEmitter.XmlEscape(message)}</summary>");
            w.Line($"/// <param name=\"{x}\">Unused.</param>");
            w.Line($"/// <param name=\"{targets}\">Unused.</param>");
            if (extra.Length > 0)
            {
                w.Line("/// <param name=\"optimizer\">Unused.</param>");
            }

            w.Line("/// <returns>Never returns.</returns>");
            w.Line($"[global::System.Obsolete({literal}, error: true)]");
            w.Line($"public float {method}(global::System.ReadOnlySpan<{plan.InputType}> {x}, global::System.ReadOnlySpan<{target}> {targets}{extra}) =>");
            w.Line($"    throw new global::System.NotSupportedException({literal});");
            w.Line();
        }
    }
}
