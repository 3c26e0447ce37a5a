using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>A tensor in the activation arena (or its gradient twin); sizes are per sample.</summary>
/// <param name="Const">The name of its offset constant in the generated code.</param>
/// <param name="Description">What it holds, for the constant's comment.</param>
/// <param name="Shape">One sample's shape.</param>
/// <param name="Offset">Per-sample offset in the arena.</param>
/// <param name="RequiresGrad">Whether a parameter lies before it, so that backward must produce its gradient.</param>
internal sealed record Tensor(string Const, string Description, EquatableArray<int> Shape, int Offset, bool RequiresGrad)
{
    /// <summary>Token ids in the integer arena (a token input), not float activations.</summary>
    public bool Tokens { get; init; }

    public int Size => Shapes.Product(Shape);

    public long LongSize => Shapes.LongProduct(Shape);
}

/// <summary>A tensor in the flat parameter (or state) buffer.</summary>
/// <param name="Name">The saved name, as PyTorch's state_dict: <c>layer1.0.conv1.weight</c>.</param>
/// <param name="Const">The name of its offset constant.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Offset">Offset in the buffer.</param>
internal sealed record ParamTensor(string Name, string Const, EquatableArray<int> Shape, int Offset)
{
    public int Size => Shapes.Product(Shape);

    public long LongSize => Shapes.LongProduct(Shape);
}

/// <summary>One row of the summary table (one user layer, or a block use).</summary>
internal sealed record PlanRow(int Index, string Name, string Display, EquatableArray<int> OutputShape, long Parameters);

/// <summary>A convolution or pooling window over a [C, H, W] input (mirrors <c>NetGen.Window2D</c>).</summary>
internal sealed record PlanWindow(int Channels, int Height, int Width, int Kernel, int Stride, int Dilation, int PadTop, int PadLeft, int OutHeight, int OutWidth)
{
    public int PatchSize => Channels * Kernel * Kernel;

    public int Positions => OutHeight * OutWidth;
}

/// <summary>
/// One operation of the forward pass over named tensors, with what it emits: its forward and
/// backward methods, its initialisation and any constants of its own. A record per kind, in
/// the kind's file under <c>Layers/</c>.
/// </summary>
internal abstract record PlanOp
{
    /// <summary>The op's dotted name (<c>dense1</c>, <c>dense1.relu</c>, <c>layer1.0.conv1</c>).</summary>
    public string Name { get; init; } = "";

    /// <summary>The identifier its methods start with (<c>Dense1</c> gives <c>Dense1Forward</c>).</summary>
    public string Method { get; init; } = "";

    /// <summary>The display text of the layer it belongs to (<c>Dense(128, ReLU)</c>).</summary>
    public string Display { get; init; } = "";

    /// <summary>The (first) input.</summary>
    public Tensor Input { get; init; } = null!;

    public Tensor Output { get; init; } = null!;

    /// <summary>
    /// Where backward writes each input's gradient: the input's own gradient, or, for every
    /// consumer of a tensor read twice but the first to run backward, a private slot that the
    /// backward pass then adds into the tensor's gradient (so a tensor used twice gets the sum).
    /// Empty until the plan is finished.
    /// </summary>
    public EquatableArray<Tensor> InputGradients { get; init; } = EquatableArray<Tensor>.Empty;

    /// <summary>
    /// Whether the op reads the network's input where the caller passed it (its methods' <c>input</c>
    /// parameter) instead of from a copy in the arena: set on a Dense or Conv2D that reads the input
    /// when no other kind of op does (see <c>PlanBuilder.ReadCallerInput</c>), and on the BatchNorm of a
    /// stem whose convolution does (<c>PlanBuilder.FuseStems</c>).
    /// </summary>
    public bool ReadsCallerInput { get; init; }

    /// <summary>The op's input activations: <c>input</c> where it reads the caller's, else <c>A(...)</c>.</summary>
    public string InputValues => ReadsCallerInput ? "input" : Ex.A(Input);

    /// <summary>The parameter its forward and backward methods take after <c>n</c>, if any.</summary>
    public string InputParameter => ReadsCallerInput ? ", " + Ex.ReadOnlySpan + " input" : "";

    /// <summary>The argument its forward and backward calls pass after <c>n</c>, if any.</summary>
    public string InputArgument => ReadsCallerInput ? ", input" : "";

    /// <summary>Every input, in order (one for most ops; two for the residual add).</summary>
    public virtual IEnumerable<Tensor> Inputs
    {
        get { yield return Input; }
    }

    /// <summary>Trainable parameters (a weight first).</summary>
    public virtual IEnumerable<ParamTensor> ParameterTensors => Array.Empty<ParamTensor>();

    /// <summary>Whether the forward method takes the training flag (dropout, batch statistics).</summary>
    public virtual bool TakesTrainingFlag => false;

    /// <summary>Whether the op has a backward method: it has parameters, or an input needs a gradient.</summary>
    public virtual bool HasBackward => ParameterTensors.Any() || Inputs.Any(t => t.RequiresGrad);

    /// <summary>What the backward pass says in place of an op without a backward method.</summary>
    public virtual string NoBackwardNote => "no layer before it has parameters, so its input needs no gradient.";

    /// <summary>The gradient span for input <paramref name="index"/>: <c>D(...)</c>, or <c>default</c> when none is needed.</summary>
    public string DInput(int index = 0)
    {
        Tensor input = Inputs.ElementAt(index);
        Tensor target = InputGradients.Length > index ? InputGradients[index] : input;
        return input.RequiresGrad ? Ex.D(target) : "default";
    }

    /// <summary>Writes the forward and backward methods (the caller writes the heading comment).</summary>
    public abstract void EmitMethods(IndentedWriter w);

    /// <summary>
    /// Adds the op's inference-mode ONNX nodes (opset 17) to <paramref name="onnx"/>; by default the
    /// op has no ONNX form, which export reports naming the layer.
    /// </summary>
    public virtual void EmitOnnx(OnnxBuilder onnx) => onnx.NotSupported(this);

    /// <summary>Writes the statements that initialise its parameters and state.</summary>
    public virtual void EmitInitialization(IndentedWriter w)
    {
    }

    /// <summary>Writes private constants of its own (windows, scratch offsets).</summary>
    public virtual void EmitConstants(IndentedWriter w)
    {
    }

    /// <summary>
    /// Writes the op's step of incremental generation: its output's row at position <c>p</c> from its
    /// inputs' rows (see <see cref="StepLayout"/>); false when the op cannot work position by position.
    /// </summary>
    public virtual bool EmitStep(IndentedWriter w, StepLayout s) => false;

    /// <summary>Multiply-adds of its forward pass per sample (products only; elementwise work counts 0).</summary>
    public virtual long MultiplyAdds => 0;

    /// <summary>
    /// The dropout masks the op draws in training, in order, with their rates: a batch split across
    /// threads draws them before the split, in sample order, so that any thread count sees one stream.
    /// </summary>
    public virtual IEnumerable<(Tensor Mask, double Rate)> DropoutMasks => Array.Empty<(Tensor, double)>();

    /// <summary>
    /// Whether its backward overwrites its parameters' gradients when the step's gradients start
    /// afresh (the generated <c>_overwrite</c>), so that they need no clearing first; the other ops'
    /// parameter gradients are cleared and added to.
    /// </summary>
    public virtual bool OverwritesGradients => false;

    /// <summary>Whether the op adds a penalty to the loss (L1/L2).</summary>
    public virtual bool HasPenalty => false;

    /// <summary>Writes <c>loss += penalty</c>, with its gradient when <paramref name="withGradients"/>.</summary>
    public virtual void EmitPenalty(IndentedWriter w, bool withGradients)
    {
    }
}

/// <summary>
/// The network after planning: every size known, every tensor placed and named. Value-equatable,
/// so that the generator's plan step caches; the problems live beside it, for the analyzer.
/// </summary>
internal sealed record NetworkPlan(
    string Namespace,
    string Name,
    string MetadataName,
    bool HasErrors,
    EquatableArray<int> InputShape,
    EquatableArray<int> OutputShape,
    EquatableArray<PlanRow> Rows,
    EquatableArray<PlanOp> Ops,
    EquatableArray<Tensor> Tensors,
    EquatableArray<Tensor> GradientSlots,
    EquatableArray<Tensor> IndexTensors,
    EquatableArray<ParamTensor> Parameters,
    EquatableArray<ParamTensor> State,
    int ScratchSize,
    int ColumnsOffset,
    int ColumnsSize,
    LossSpec? Loss,
    Tensor? InputTensor,
    Tensor? Probabilities,
    int Vocabulary)
{
    /// <summary>Whether the input is token ids (<c>ReadOnlySpan&lt;int&gt;</c>) rather than float values.</summary>
    public bool TokenInput => InputTensor?.Tokens == true;

    /// <summary>The C# element type of the input: <c>int</c> for token ids, else <c>float</c>.</summary>
    public string InputType => TokenInput ? "int" : "float";

    /// <summary>The input parameter's name in generated methods.</summary>
    public string InputName => TokenInput ? "tokens" : "inputs";

    /// <summary>The last axis of the output: the classes of a cross-entropy loss.</summary>
    public int Classes => OutputShape.Length == 0 ? 0 : OutputShape[OutputShape.Length - 1];

    /// <summary>Class labels per sample for an int-target loss: 1 for a vector, T for a [T, V] sequence.</summary>
    public int LabelsPerSample => Classes == 0 ? 1 : OutputSize / Classes;

    public int InputSize => Shapes.Product(InputShape);

    public int OutputSize => Shapes.Product(OutputShape);

    public int ParameterCount => Shapes.Clamp(Parameters.Sum(p => p.LongSize));

    public int StateCount => Shapes.Clamp(State.Sum(p => p.LongSize));

    public int ActivationsPerSample => Shapes.Clamp(Tensors.Sum(t => t.LongSize));

    /// <summary>The activation arena's twin for gradients: the activations, then the private slots.</summary>
    public int GradientsPerSample => Shapes.Clamp(Tensors.Sum(t => t.LongSize) + GradientSlots.Sum(t => t.LongSize));

    public int IndicesPerSample => Shapes.Clamp(IndexTensors.Sum(t => t.LongSize));

    /// <summary>Multiply-adds of the forward pass per sample.</summary>
    public long MultiplyAddsPerSample => Ops.Sum(o => o.MultiplyAdds);

    /// <summary>
    /// The fewest samples worth a thread of their own: a share of the batch must do at least 64 times
    /// as many multiply-adds as the network has parameters, or copying and adding up its own gradient
    /// buffer costs more than the thread saves (the 784-128-10 MLP measured 0.7x on 2 threads at batch
    /// 32, 1.3-1.6x at 256).
    /// </summary>
    public int MinSamplesPerThread => (int)Math.Max(1, Math.Min(1L << 20, ((64L * ParameterCount) + Math.Max(1, MultiplyAddsPerSample) - 1) / Math.Max(1, MultiplyAddsPerSample)));

    /// <summary>Whether the passes take the caller's input as a parameter (see <see cref="PlanOp.ReadsCallerInput"/>).</summary>
    public bool PassesInput => Ops.Any(o => o.ReadsCallerInput);

    /// <summary>The tensor the loss reads (the last op's output, or the input).</summary>
    public Tensor? Last => Ops.Length > 0 ? Ops[Ops.Length - 1].Output : InputTensor;
}

/// <summary>Shape arithmetic and formatting.</summary>
internal static class Shapes
{
    public static int Product(EquatableArray<int> shape) => Clamp(LongProduct(shape));

    /// <summary>The product, saturating at 2⁴⁰ (far above any int size, and no long overflow on the way).</summary>
    public static long LongProduct(EquatableArray<int> shape)
    {
        const long Cap = 1L << 40;
        long p = 1;
        foreach (int d in shape)
        {
            p = d > 0 && p > Cap / d ? Cap : Math.Min(p * d, Cap);
        }

        return p;
    }

    public static int Clamp(long value) => (int)Math.Min(int.MaxValue, value);

    public static string Format(EquatableArray<int> shape) => "[" + string.Join(", ", shape) + "]";

    public static string FormatWithCount(EquatableArray<int> shape) =>
        Format(shape) + " (" + Product(shape).ToString("N0", CultureInfo.InvariantCulture) + (Product(shape) == 1 ? " value)" : " values)");

    /// <summary>A shape as the generated comments write it: <c>(128, 784)</c>.</summary>
    public static string Dims(EquatableArray<int> shape) => "(" + string.Join(", ", shape) + ")";

    public static EquatableArray<int> Of(params int[] dims) => new(dims);
}
