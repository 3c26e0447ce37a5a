using System;
using System.Collections.Generic;

namespace NetGen;

/// <summary>
/// What every generated network offers, whatever its input and loss: sizes, buffers, layouts.
/// <see cref="INetwork{TInput}"/> adds the forward pass for its input type.
/// </summary>
public interface INetwork
{
    /// <summary>Values in one input sample.</summary>
    int InputSize { get; }

    /// <summary>Values in one output sample.</summary>
    int OutputSize { get; }

    /// <summary>Trainable parameters, in total.</summary>
    int ParameterCount { get; }

    /// <summary>The largest batch the buffers were sized for at construction.</summary>
    int MaxBatchSize { get; }

    /// <summary>Every trainable parameter in one contiguous buffer, layer by layer, weight then bias.</summary>
    Span<float> Parameters { get; }

    /// <summary>The gradient of the mean loss for each parameter, laid out as <see cref="Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>Name, offset and shape of every parameter tensor in <see cref="Parameters"/>.</summary>
    IReadOnlyList<ParameterInfo> ParameterLayout { get; }

    /// <summary>
    /// Tied parameters (weight tying, as GPT-2's <c>lm_head.weight</c> is <c>transformer.wte.weight</c>):
    /// each entry's name with the offset and shape of the values it shares with a tensor of
    /// <see cref="ParameterLayout"/>. They are not counted or stepped twice; saved files list them
    /// under their own names too, as PyTorch's state_dict does. Empty when nothing is tied.
    /// </summary>
    IReadOnlyList<ParameterInfo> TiedLayout { get; }

    /// <summary>
    /// State that is not trained by gradients but belongs to the model (BatchNorm's running
    /// mean and variance), in one buffer; empty when the network has none.
    /// </summary>
    Span<float> State { get; }

    /// <summary>Name, offset and shape of every tensor in <see cref="State"/>.</summary>
    IReadOnlyList<ParameterInfo> StateLayout { get; }

    /// <summary>
    /// The seeded generator that draws dropout masks (seeded from the constructor's seed); reset
    /// it to repeat a run. Not named Random, so that <c>Random</c> inside a network class still
    /// means <see cref="System.Random"/>.
    /// </summary>
    SeededRandom RandomSource { get; }

    /// <summary>A table of the layers with their output shapes and parameter counts.</summary>
    string Summary { get; }

    /// <summary>The shape of one input sample (<c>[1, 28, 28]</c>; <c>[T]</c> token ids for a token network); its product is <see cref="InputSize"/>.</summary>
    IReadOnlyList<int> InputShape { get; }

    /// <summary>The shape of one output sample; its product is <see cref="OutputSize"/>.</summary>
    IReadOnlyList<int> OutputShape { get; }

    /// <summary>
    /// Batches the BatchNorm layers' running statistics have absorbed: one per forward pass in
    /// training mode (<c>ComputeGradients</c>, <c>AccumulateGradients</c>, <c>TrainStep</c>), as
    /// PyTorch's <c>num_batches_tracked</c>, with which safetensors files carry it. Always 0 for a
    /// network without BatchNorm unless set. Not negative.
    /// </summary>
    long BatchesTracked { get; set; }

    /// <summary>Re-initialises the parameters (He for ReLU-family layers, Glorot otherwise; biases zero).</summary>
    void InitializeParameters(int seed);

    /// <summary>Sets every gradient to zero.</summary>
    void ZeroGrad();
}

/// <summary>A network whose input samples are <typeparamref name="TInput"/> values: <see cref="float"/>, or <see cref="int"/> token ids.</summary>
/// <typeparam name="TInput">The input element type.</typeparam>
public interface INetwork<TInput> : INetwork
    where TInput : unmanaged
{
    /// <summary>Inference: runs the network on a batch (<c>inputs.Length / InputSize</c> samples).</summary>
    void Forward(ReadOnlySpan<TInput> inputs, Span<float> outputs);
}

/// <summary>
/// A network with a loss, on <typeparamref name="TInput"/> inputs (float values or int token ids),
/// trained against targets of type <typeparamref name="TTarget"/> (<see cref="int"/> class labels
/// or <see cref="float"/> values).
/// </summary>
/// <typeparam name="TInput">The input element type.</typeparam>
/// <typeparam name="TTarget">The target element type.</typeparam>
public interface ITrainableNetwork<TInput, TTarget> : INetwork<TInput>
    where TInput : unmanaged
    where TTarget : unmanaged
{
    /// <summary>
    /// Threads a batch is split across in training, evaluation and Forward (default 1; see the generated property).
    /// The same count gives the same bits on every run.
    /// </summary>
    int Threads { get; set; }

    /// <summary>The fewest samples a thread is given when a batch is split (see the generated property; 1 splits any batch).</summary>
    int MinSamplesPerThread { get; set; }

    /// <summary>
    /// Forward pass, loss and backward pass: afterwards <see cref="INetwork.Gradients"/> hold the
    /// gradient of the returned mean loss. Parameters are not changed.
    /// </summary>
    float ComputeGradients(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TTarget> targets);

    /// <summary>
    /// As <see cref="ComputeGradients"/>, but adds the gradient to <see cref="INetwork.Gradients"/>
    /// instead of replacing it: gradient accumulation over micro-batches (call
    /// <see cref="INetwork.ZeroGrad"/> first, and scale the sum by one over the number of micro-batches
    /// for the mean).
    /// </summary>
    float AccumulateGradients(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TTarget> targets);

    /// <summary><see cref="ComputeGradients"/>, then one step of <paramref name="optimizer"/>.</summary>
    float TrainStep(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TTarget> targets, IOptimizer optimizer);

    /// <summary>
    /// Inference-mode forward pass and loss (dropout off, BatchNorm on running statistics), no
    /// gradients: the validation loss. Includes the layers' L1/L2 penalties, as the training loss does.
    /// </summary>
    float Evaluate(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TTarget> targets);

    /// <summary>
    /// The outputs of the last <see cref="ComputeGradients"/> or <see cref="Evaluate"/> call
    /// (probabilities for the cross-entropy losses), batch size times <see cref="INetwork.OutputSize"/> values.
    /// </summary>
    /// <exception cref="InvalidOperationException">Forward has run since, in the same activations, and written over them.</exception>
    ReadOnlySpan<float> LastOutputs { get; }
}

/// <summary>A network with a loss on float inputs (the common case): see <see cref="ITrainableNetwork{TInput, TTarget}"/>.</summary>
/// <typeparam name="TTarget">The target element type.</typeparam>
public interface ITrainableNetwork<TTarget> : ITrainableNetwork<float, TTarget>
    where TTarget : unmanaged
{
}

/// <summary>Updates a flat parameter buffer from its gradient buffer.</summary>
public interface IOptimizer
{
    /// <summary>The step size; learning-rate schedules change it between steps.</summary>
    float LearningRate { get; set; }

    /// <summary>One update step. Must not allocate.</summary>
    void Step(Span<float> parameters, ReadOnlySpan<float> gradients);
}

/// <summary>One parameter tensor inside a network's flat parameter buffer.</summary>
public sealed class ParameterInfo
{
    private readonly int[] _shape;

    /// <summary>Creates the description.</summary>
    public ParameterInfo(string name, int offset, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name;
        Offset = offset;
        _shape = (int[])shape.Clone();
        int length = 1;
        foreach (int d in shape)
        {
            length *= d;
        }

        Length = length;
    }

    /// <summary>The tensor's name, as PyTorch would name it (<c>dense1.weight</c>).</summary>
    public string Name { get; }

    /// <summary>Index of the first value in the parameter buffer.</summary>
    public int Offset { get; }

    /// <summary>Number of values.</summary>
    public int Length { get; }

    /// <summary>The tensor's shape (<c>[out, in]</c> for a dense weight).</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({string.Join(", ", _shape)}) @ {Offset}";
}
