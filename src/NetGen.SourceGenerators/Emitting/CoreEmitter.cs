using System.Collections.Generic;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>
/// The nested implementation class. It reads like llm.c's train_gpt2.c: named constant offsets into
/// one parameter buffer, one gradient buffer and one activation arena; one forward and one backward
/// method per op; the forward pass in order and the backward pass in reverse, with the gradients of
/// a tensor read twice added up explicitly.
/// </summary>
internal static partial class CoreEmitter
{
    private const string Span = Ex.Span;
    private const string ReadOnlySpan = Ex.ReadOnlySpan;
    private const string Layout = "global::System.Collections.Generic.IReadOnlyList<global::NetGen.ParameterInfo>";

    public static void Emit(IndentedWriter w, NetworkPlan plan, StepLayout? generation)
    {
        w.Line("/// <summary>The implementation: buffers, offsets, and one forward and backward method per op.</summary>");
        NetworkEmitter.EmitTypeAttributes(w);
        string work = plan.Loss is null ? string.Empty : plan.PassesInput ? " : global::NetGen.IShardedWork, global::NetGen.IPinnedWork" : " : global::NetGen.IShardedWork";
        using (w.Block($"private sealed class {NetworkEmitter.Core}{work}"))
        {
            EmitConstants(w, plan);
            EmitFieldsAndConstructor(w, plan);
            EmitForward(w, plan);
            if (plan.Loss is not null)
            {
                EmitTraining(w, plan, plan.Loss);
                EmitShards(w, plan, plan.Loss);
            }

            EmitInitialization(w, plan);
            if (generation is not null)
            {
                GenerationEmitter.EmitCore(w, plan, generation);
            }

            EmitPasses(w, plan);
            foreach (PlanOp op in plan.Ops)
            {
                w.Line(Ex.Heading(op));
                op.EmitMethods(w);
            }

            EmitBufferHelpers(w, plan);
        }
    }

    private static void EmitConstants(IndentedWriter w, NetworkPlan plan)
    {
        if (plan.Parameters.Length > 0)
        {
            w.Line("// Parameters: offsets into Parameters and Gradients, layer by layer, weight then bias.");
            EmitOffsets(w, plan.Parameters.Select(p => (p.Const, p.Offset, p.Name + " " + Shapes.Dims(p.Shape))));
            w.Line();
        }

        if (plan.State.Length > 0)
        {
            w.Line("// State: offsets into State (not trained by gradients; saved with the model).");
            EmitOffsets(w, plan.State.Select(p => (p.Const, p.Offset, p.Name + " " + Shapes.Dims(p.Shape))));
            w.Line();
        }

        w.Line($"// Scratch: per-batch working space, independent of the batch size ({plan.ScratchSize} values).");
        foreach (BatchNormOp op in plan.Ops.OfType<BatchNormOp>())
        {
            op.EmitConstants(w);
        }

        if (plan.ColumnsSize > 0)
        {
            w.Line($"private const int Columns = {plan.ColumnsOffset}; // im2col scratch (patch matrices, and outputs of several samples at once), shared by the convolutions ({plan.ColumnsSize} values at most)");
        }

        w.Line($"private const int ScratchSize = {plan.ScratchSize};");
        w.Line();
        if (plan.IndexTensors.Length > 0)
        {
            w.Line("// Integer tensors (max-pooling winners), per sample, laid out as the activations.");
            EmitOffsets(w, plan.IndexTensors.Select(t => (t.Const, t.Offset, t.Description + " " + Shapes.Dims(t.Shape))));
            w.Line($"private const int IndicesPerSample = {plan.IndicesPerSample};");
            w.Line();
        }

        foreach (PlanOp op in plan.Ops.Where(o => o is not BatchNormOp))
        {
            op.EmitConstants(w);
        }

        w.Line("// Activations, per sample: with a batch of n, the tensor at offset T of size S occupies");
        w.Line("// [T * n, (T + S) * n) of the arena, so every batch size packs without gaps. Their gradients");
        w.Line("// lie at the same offsets of the gradient arena.");
        EmitOffsets(w, plan.Tensors.Select(t => (t.Const, t.Offset, t.Description + " " + Shapes.Dims(t.Shape))));
        w.Line($"private const int ActivationsPerSample = {plan.ActivationsPerSample};");
        w.Line();
        if (plan.GradientSlots.Length > 0)
        {
            w.Line("// Gradient slots after the activations' gradients: a tensor read by more than one op gets");
            w.Line("// each reader's gradient but the first (in backward order) here, then added into its own.");
            EmitOffsets(w, plan.GradientSlots.Select(t => (t.Const, t.Offset, t.Description + " " + Shapes.Dims(t.Shape))));
            w.Line();
        }

        w.Line($"private const int GradientsPerSample = {plan.GradientsPerSample};");
        w.Line();
        w.Line("// The layer table (the network's Summary).");
        NetworkEmitter.EmitSummaryConstant(w, plan);
    }

    private static void EmitOffsets(IndentedWriter w, IEnumerable<(string Name, int Offset, string Comment)> rows)
    {
        var list = rows.ToList();
        int width = list.Max(r => r.Name.Length);
        foreach ((string name, int offset, string comment) in list)
        {
            w.Line($"private const int {name.PadRight(width)} = {offset,9}; // {comment}");
        }
    }

    private static void EmitFieldsAndConstructor(IndentedWriter w, NetworkPlan plan)
    {
        w.Line("private readonly float[] _parameters;");
        w.Line("private readonly float[] _gradients;");
        w.Line("private readonly float[] _state;");
        w.Line("private readonly float[] _scratch = new float[ScratchSize];");
        w.Line("private readonly float[] _activations;");
        w.Line("private readonly float[] _activationGradients;");
        if (plan.IndexTensors.Length > 0)
        {
            w.Line("private readonly int[] _indices;");
        }

        if (plan.Ops.Any(o => o.DropoutMasks.Any()))
        {
            w.Line("private bool _masksDrawn; // a batch split across threads has its dropout masks drawn before the split");
        }

        if (plan.Ops.Any(o => o.OverwritesGradients))
        {
            w.Line(plan.Loss is null
                ? "private const bool _overwrite = false; // no loss, no training: the backward methods are never called"
                : "private bool _overwrite; // a backward pass that starts the gradients afresh: the layers that can write theirs instead of adding");
        }

        if (SplitsProducts(plan))
        {
            w.Line(plan.Loss is null
                ? "private const int _productThreads = 1; // no training: every product on the calling thread"
                : "private int _productThreads = 1; // threads a dense product may use: Threads while a batch too small to split is trained");
        }

        if (plan.Loss is { } loss)
        {
            w.Line("private int _lastBatch; // the rows LastOutputs holds; ForwardRan once a Forward has written over them");
            EmitShardFields(w, plan, loss);
        }

        if (DeferredDense(plan) is { } deferred)
        {
            w.Line($"// TrainStep at batches of up to DeferMaxRows leaves {deferred.Weight.Name}'s gradient to the optimizer (see TrainStep),");
            w.Line("// keeping the two factors it is made of, so that Gradients can write it when it is read.");
            w.Line("private const int DeferMaxRows = 4;");
            w.Line("private bool _deferWeight;");
            w.Line("private int _deferredRows; // the batch whose deferred gradient Gradients has not written yet; 0: none");
            w.Line("private readonly float[] _deferredInput = global::System.Array.Empty<float>(); // the network's own instance only, not its shards or contexts");
            w.Line("private readonly float[] _deferredOutputGradient = global::System.Array.Empty<float>();");
        }

        w.Line();
        w.Line("/// <summary>Makes a second thread inside the same network at once an exception instead of wrong results.</summary>");
        w.Line("public readonly global::NetGen.ConcurrentUseGuard UseGuard = new();");
        w.Line();
        using (w.Block($"public {NetworkEmitter.Core}(int maxBatchSize, int seed)"))
        {
            w.Line($"{Ex.Guard}.MaxBatchSize(maxBatchSize, nameof(maxBatchSize));");
            w.Line("MaxBatchSize = maxBatchSize;");
            w.Line("_parameters = new float[ParameterCount];");
            w.Line("global::NetGen.ParameterBuffers.Register(_parameters, this); // so that an optimizer tells this network from another");
            w.Line("_gradients = new float[ParameterCount];");
            w.Line("_state = new float[StateCount];");
            w.Line($"_activations = new float[{Ex.Guard}.BufferLength(maxBatchSize, ActivationsPerSample, \"activations\", nameof(maxBatchSize))];");
            w.Line($"_activationGradients = new float[{Ex.Guard}.BufferLength(maxBatchSize, GradientsPerSample, \"activation gradients\", nameof(maxBatchSize))];");
            if (plan.IndexTensors.Length > 0)
            {
                w.Line($"_indices = new int[{Ex.Guard}.BufferLength(maxBatchSize, IndicesPerSample, \"indices\", nameof(maxBatchSize))];");
            }

            if (DeferredDense(plan) is { } d)
            {
                w.Line($"_deferredInput = new float[DeferMaxRows * {d.InFeatures}];");
                w.Line($"_deferredOutputGradient = new float[DeferMaxRows * {d.OutFeatures}];");
            }

            w.Line("RandomSource = new global::NetGen.SeededRandom(unchecked(seed ^ 0x5EED));");
            w.Line("InitializeParameters(seed);");
        }

        w.Line();
        string shardParameter = plan.Loss is null ? string.Empty : ", bool gradients = false";
        w.Line("// An inference context: the parameters and state of another instance (shared, not copied),");
        w.Line(plan.Loss is null
            ? "// activations of its own, no gradients."
            : "// activations of its own, no gradients; or, with gradients, a shard of a batch split across threads.");
        using (w.Block($"public {NetworkEmitter.Core}({NetworkEmitter.Core} shared, int maxBatchSize{shardParameter})"))
        {
            w.Line($"{Ex.Guard}.MaxBatchSize(maxBatchSize, nameof(maxBatchSize));");
            w.Line("MaxBatchSize = maxBatchSize;");
            w.Line("_parameters = shared._parameters;");
            w.Line(plan.Loss is null ? "_gradients = shared._gradients;" : "_gradients = gradients ? new float[ParameterCount] : shared._gradients;");
            w.Line("_state = shared._state;");
            w.Line($"_activations = new float[{Ex.Guard}.BufferLength(maxBatchSize, ActivationsPerSample, \"activations\", nameof(maxBatchSize))];");
            w.Line(plan.Loss is null
                ? "_activationGradients = global::System.Array.Empty<float>();"
                : $"_activationGradients = gradients ? new float[{Ex.Guard}.BufferLength(maxBatchSize, GradientsPerSample, \"activation gradients\", nameof(maxBatchSize))] : global::System.Array.Empty<float>();");
            if (plan.IndexTensors.Length > 0)
            {
                w.Line($"_indices = new int[{Ex.Guard}.BufferLength(maxBatchSize, IndicesPerSample, \"indices\", nameof(maxBatchSize))];");
            }

            w.Line("RandomSource = new global::NetGen.SeededRandom(0);");
        }
        w.Line();
        w.Line("public int MaxBatchSize { get; }");
        w.Line();
        w.Line("public global::NetGen.SeededRandom RandomSource { get; }");
        w.Line();
        w.Line($"public {Span} Parameters => _parameters;");
        w.Line();
        if (DeferredDense(plan) is null)
        {
            w.Line($"public {Span} Gradients => _gradients;");
        }
        else
        {
            using (w.Block($"public {Span} Gradients"))
            {
                using (w.Block("get"))
                {
                    using (w.Block("if (_deferredRows > 0)"))
                    {
                        w.Line("WriteDeferredGradient();");
                    }

                    w.Line("return _gradients;");
                }
            }
        }
        w.Line();
        w.Line($"public {Span} State => _state;");
        w.Line();
        w.Line($"public static global::System.Collections.Generic.IReadOnlyList<int> InputShape {{ get; }} = global::System.Array.AsReadOnly(new int[] {{ {string.Join(", ", plan.InputShape)} }});");
        w.Line();
        w.Line($"public static global::System.Collections.Generic.IReadOnlyList<int> OutputShape {{ get; }} = global::System.Array.AsReadOnly(new int[] {{ {string.Join(", ", plan.OutputShape)} }});");
        w.Line();
        w.Line("public long BatchesTracked;");
        w.Line();
        OnnxBuilder.Emit(w, plan);
        EmitLayout(w, "ParameterLayout", plan.Parameters);
        EmitLayout(w, "StateLayout", plan.State);
        EmitLayout(w, "TiedLayout", new EquatableArray<ParamTensor>(plan.Ops.OfType<DenseOp>().Where(d => d.Tied).Select(d => new ParamTensor(d.Name + ".weight", d.Weight.Const, d.Weight.Shape, d.Weight.Offset)).ToArray()));
    }

    private static void EmitLayout(IndentedWriter w, string name, EquatableArray<ParamTensor> tensors)
    {
        w.Line($"public static {Layout} {name} {{ get; }} =");
        w.Line("    global::System.Array.AsReadOnly(new global::NetGen.ParameterInfo[]");
        w.Line("    {");
        foreach (ParamTensor p in tensors)
        {
            w.Line($"        new(\"{p.Name}\", {p.Const}, {string.Join(", ", p.Shape)}),");
        }

        w.Line("    });");
        w.Line();
    }

    private static void EmitForward(IndentedWriter w, NetworkPlan plan)
    {
        string x = plan.InputName;
        using (w.Block($"public void Forward(global::System.ReadOnlySpan<{plan.InputType}> {x}, {Span} outputs)"))
        {
            w.Line($"int n = {Ex.Guard}.BatchSize({x}.Length, InputSize, MaxBatchSize, nameof({x}));");
            w.Line($"{Ex.Guard}.Length(outputs.Length, n * OutputSize, nameof(outputs), \"batch size times OutputSize\");");
            EmitTokenCheck(w, plan);
            if (plan.Loss is not null)
            {
                w.Line("_lastBatch = ForwardRan; // its activations are written over: LastOutputs refuses until the next evaluation");
                using (w.Block("if (ShardsFor(n) > 1)"))
                {
                    w.Line($"ForwardShards(n, {x});");
                    w.Line("new global::System.ReadOnlySpan<float>(_gathered, 0, n * OutputSize).CopyTo(outputs);");
                    w.Line("return;");
                }

                if (UnitChainOf(plan) is not null)
                {
                    using (w.Block($"if (UnitShardsFor(n) > 1 && !Owns({x}))"))
                    {
                        w.Line($"ForwardUnits(n, {x});");
                        w.Line("new global::System.ReadOnlySpan<float>(_gathered, 0, n * OutputSize).CopyTo(outputs);");
                        w.Line("return;");
                    }
                }
            }

            EmitCopyInput(w, plan);
            w.Line($"ForwardPass(n, training: false{InputArgument(plan, "input")});");
            if (plan.Loss is null)
            {
                w.Line($"{Ex.A(plan.Last!)}.CopyTo(outputs);");
            }
            else
            {
                w.Line("WriteOutputs(n, outputs);");
            }
        }

        w.Line();
        if (plan.Loss is { } loss)
        {
            w.Line("// What Forward returns, from the last layer's activations of n samples (on each shard of a split batch too).");
            using (w.Block($"private void WriteOutputs(int n, {Span} outputs)"))
            {
                loss.EmitOutputs(w, plan);
            }

            w.Line();
        }
        if (DeferredDense(plan) is null)
        {
            w.Line("public void ZeroGrad() => global::System.Array.Clear(_gradients);");
        }
        else
        {
            using (w.Block("public void ZeroGrad()"))
            {
                w.Line("_deferredRows = 0;");
                w.Line("global::System.Array.Clear(_gradients);");
            }
        }

        w.Line();
    }

    /// <summary>The Dense whose weight gradient TrainStep may leave to the optimizer, if any.</summary>
    internal static DenseOp? DeferredDense(NetworkPlan plan) => plan.Ops.OfType<DenseOp>().FirstOrDefault(d => d.DeferWeightGradient);

    // Whether the network has dense products that a batch too small to split spreads across its threads
    // (the _productThreads field, set around an unsplit training pass, and Threads' documentation).
    internal static bool SplitsProducts(NetworkPlan plan) => plan.Ops.Any(o => o is DenseOp);

    private static void EmitTokenCheck(IndentedWriter w, NetworkPlan plan)
    {
        if (plan.TokenInput)
        {
            w.Line($"{Ex.Guard}.Tokens(tokens, Vocabulary, InputSize, nameof(tokens));");
        }
    }

    private static void EmitInitialization(IndentedWriter w, NetworkPlan plan)
    {
        using (w.Block("public void InitializeParameters(int seed)"))
        {
            w.Line("var random = new global::NetGen.SeededRandom(seed);");
            foreach (PlanOp op in plan.Ops)
            {
                op.EmitInitialization(w);
            }
        }

        w.Line();
    }

    private static void EmitBufferHelpers(IndentedWriter w, NetworkPlan plan)
    {
        w.Line("// Views of the buffers: P and G by parameter offset, A and D by per-sample activation offset.");
        w.Line($"private {Span} P(int offset, int length) => new(_parameters, offset, length);");
        w.Line();
        w.Line($"private {Span} G(int offset, int length) => new(_gradients, offset, length);");
        w.Line();
        w.Line($"private {Span} A(int offset, int size, int n) => new(_activations, offset * n, size * n);");
        w.Line();
        w.Line($"private {Span} D(int offset, int size, int n) => new(_activationGradients, offset * n, size * n);");
        w.Line();
        w.Line($"private {Span} S(int offset, int length) => new(_state, offset, length);");
        w.Line();
        w.Line($"private {Span} W(int offset, int length) => new(_scratch, offset, length);");
        if (plan.IndexTensors.Length > 0)
        {
            w.Line();
            w.Line("private global::System.Span<int> I(int offset, int size, int n) => new(_indices, offset * n, size * n);");
        }

        EmitStepInput(w, plan);
    }
}
