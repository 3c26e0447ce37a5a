using System;
using System.Diagnostics;

namespace NetGen;

// Every attribute here is [Conditional]: the generator reads it from source, and it is not
// kept in the user's compiled assembly unless NETGEN_KEEP_ATTRIBUTES is defined.

/// <summary>
/// Marks a <c>partial class</c> as a neural network. The layer attributes on the same
/// declaration, in order, describe it; NetGen generates the parameter layout, forward and
/// backward passes, training step, initialisation and summary at compile time.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class NetworkAttribute : Attribute
{
}

/// <summary>Base type of every layer attribute; the generator reads them in declaration order.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public abstract class LayerAttribute : Attribute
{
    /// <summary>
    /// The layer's name in parameter names and saved files (<c>conv1</c> gives <c>conv1.weight</c>);
    /// by default the kind and a counter (<c>dense1</c>, <c>conv2</c>). Dot-separated segments of
    /// letters, digits and underscores; unique among its siblings. Set it to reproduce a PyTorch
    /// module's names and exchange weights through safetensors.
    /// </summary>
    public string? Name { get; set; }
}

/// <summary>
/// The shape of one input sample, without the batch axis (channels first for images:
/// <c>[Input(1, 28, 28)]</c>). Must be the first layer.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class InputAttribute : LayerAttribute
{
    /// <summary>Creates the input layer.</summary>
    /// <param name="shape">One sample's shape; every dimension must be positive.</param>
    public InputAttribute(params int[] shape) => Shape = shape;

    /// <summary>One sample's shape.</summary>
    public int[] Shape { get; }

    /// <summary>
    /// What the input holds: float values (the default), or token ids
    /// (<see cref="InputKind.Tokens"/>: <c>[Input(64, Kind = InputKind.Tokens)]</c> is a sequence
    /// of 64 ids, and the first layer must be an <see cref="EmbeddingAttribute"/>).
    /// </summary>
    public InputKind Kind { get; set; }
}

/// <summary>
/// A fully connected layer, <c>y = x·Wᵀ + b</c>, acting on the last axis (as PyTorch's
/// <c>nn.Linear</c> and Keras's <c>Dense</c>). The weight is laid out <c>[units, inputs]</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class DenseAttribute : LayerAttribute
{
    /// <summary>Creates a dense layer.</summary>
    /// <param name="units">Output features; must be positive.</param>
    public DenseAttribute(int units) => Units = units;

    /// <summary>Output features.</summary>
    public int Units { get; }

    /// <summary>Activation applied to the output; <see cref="NetGen.Activation.None"/> by default.</summary>
    public Activation Activation { get; set; }

    /// <summary>Whether the layer has a bias vector (default true).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>
    /// L1 penalty on the weight (not the bias): <c>L1·Σ|w|</c> is added to the loss and
    /// <c>L1·sign(w)</c> to its gradient (Keras's kernel_regularizer). Default 0.
    /// </summary>
    public double L1 { get; set; }

    /// <summary>
    /// L2 penalty on the weight (not the bias): <c>L2·Σw²</c> is added to the loss and
    /// <c>2·L2·w</c> to its gradient (Keras's kernel_regularizer). Default 0. For PyTorch-style
    /// weight decay on every parameter use the optimizer's <c>weightDecay</c> instead.
    /// </summary>
    public double L2 { get; set; }

    /// <summary>
    /// Weight tying (GPT-2, nanoGPT): the name of an <see cref="EmbeddingAttribute"/> layer (e.g.
    /// <c>"transformer.wte"</c>) whose <c>[vocabulary, dimension]</c> weight this layer uses as its
    /// own <c>[units, inputs]</c> weight. The matrix exists once, in the embedding's place in the
    /// parameter buffer, and its gradient is the sum of both uses. Null (the default): untied.
    /// </summary>
    public string? TiedTo { get; set; }

    /// <summary>
    /// Initialise the weight from N(0, InitStd²) instead of He or Glorot (nanoGPT: 0.02, and
    /// 0.02/√(2·layers) for the projections into the residual stream). 0 (the default): He normal
    /// before a ReLU-family activation, Glorot uniform otherwise.
    /// </summary>
    public double InitStd { get; set; }
}

/// <summary>
/// Inverted dropout: in training, each value is zeroed with probability <c>rate</c> and the
/// others are scaled by <c>1 / (1 − rate)</c>; at inference it is the identity (PyTorch's
/// <c>nn.Dropout</c>). The mask comes from the network's seeded <c>RandomSource</c>, so a run is
/// reproducible, and the backward pass uses the same mask.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class DropoutAttribute : LayerAttribute
{
    /// <summary>Creates the layer.</summary>
    /// <param name="rate">Probability of zeroing a value, in [0, 1).</param>
    public DropoutAttribute(double rate) => Rate = rate;

    /// <summary>Probability of zeroing a value.</summary>
    public double Rate { get; }
}

/// <summary>
/// Batch normalisation over the features of a vector input (PyTorch's <c>nn.BatchNorm1d</c>), or
/// over the channels of a <c>[C, H, W]</c> input (<c>nn.BatchNorm2d</c>: statistics over the batch
/// and every position):
/// in training, each feature is normalised with the batch's mean and (biased) variance and the
/// running estimates are updated, <c>running = (1 − momentum)·running + momentum·batch</c>, with
/// the unbiased variance; at inference the running estimates are used. Learnable scale
/// (<c>weight</c>, initially 1) and shift (<c>bias</c>, initially 0). The running statistics are
/// state, not trainable parameters: they live in the network's <c>State</c> buffer.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class BatchNormAttribute : LayerAttribute
{
    /// <summary>Weight of the current batch in the running statistics, in [0, 1] (default 0.1).</summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>Added to the variance before the square root; positive (default 1e-5).</summary>
    public double Epsilon { get; set; } = 1e-5;
}

/// <summary>Rectified linear unit, <c>max(x, 0)</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class ReLUAttribute : LayerAttribute
{
}

/// <summary>Leaky ReLU, <c>x</c> for positive <c>x</c>, else <c>alpha·x</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class LeakyReLUAttribute : LayerAttribute
{
    /// <summary>Creates the layer.</summary>
    /// <param name="alpha">Slope for negative inputs; must be non-negative (default 0.01, as PyTorch).</param>
    public LeakyReLUAttribute(double alpha = 0.01) => Alpha = alpha;

    /// <summary>Slope for negative inputs.</summary>
    public double Alpha { get; }
}

/// <summary>Logistic sigmoid, <c>1 / (1 + e^-x)</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class SigmoidAttribute : LayerAttribute
{
}

/// <summary>Hyperbolic tangent.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class TanhAttribute : LayerAttribute
{
}

/// <summary>
/// Gaussian error linear unit in its tanh approximation,
/// <c>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>, the same as PyTorch's
/// <c>nn.GELU(approximate='tanh')</c> and GPT-2's.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class GeluAttribute : LayerAttribute
{
}

/// <summary>
/// Gaussian error linear unit with the error function, <c>0.5·x·(1 + erf(x/√2))</c>: PyTorch's
/// default <c>nn.GELU()</c> (nanoGPT's MLP).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class GeluExactAttribute : LayerAttribute
{
}

/// <summary>Softmax over the last axis.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class SoftmaxAttribute : LayerAttribute
{
}

/// <summary>
/// Softmax followed by cross-entropy against integer class labels, fused and numerically
/// stable (PyTorch's <c>nn.CrossEntropyLoss</c> on logits, mean over the batch). The
/// network's <c>Forward</c> returns the class probabilities.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class SoftmaxCrossEntropyAttribute : LayerAttribute
{
    /// <summary>
    /// PyTorch's <c>label_smoothing</c> ε: the target is <c>(1 − ε)·onehot + ε/classes</c> instead of the
    /// one-hot label, which keeps the network from growing ever more confident. Default 0; must lie in [0, 1].
    /// </summary>
    public double LabelSmoothing { get; set; }
}

/// <summary>
/// Mean squared error against float targets of the output's size, averaged over every
/// element of the batch (PyTorch's <c>nn.MSELoss</c> with reduction 'mean').
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class MeanSquaredErrorAttribute : LayerAttribute
{
}

/// <summary>
/// Binary cross-entropy on logits, fused with the sigmoid and numerically stable, against
/// float targets in [0, 1], averaged over every element (PyTorch's
/// <c>nn.BCEWithLogitsLoss</c>). The network's <c>Forward</c> returns the probabilities.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class BinaryCrossEntropyAttribute : LayerAttribute
{
}

/// <summary>Activation applied by a layer such as <see cref="DenseAttribute"/>.</summary>
public enum Activation
{
    /// <summary>No activation (identity).</summary>
    None = 0,
    /// <summary>Rectified linear unit.</summary>
    ReLU = 1,
    /// <summary>Leaky ReLU with slope 0.01 for negative inputs.</summary>
    LeakyReLU = 2,
    /// <summary>Logistic sigmoid.</summary>
    Sigmoid = 3,
    /// <summary>Hyperbolic tangent.</summary>
    Tanh = 4,
    /// <summary>GELU, tanh approximation (PyTorch's approximate='tanh').</summary>
    Gelu = 5,
    /// <summary>Softmax over the last axis.</summary>
    Softmax = 6,
    /// <summary>GELU with the error function, <c>0.5·x·(1 + erf(x/√2))</c> (PyTorch's default <c>nn.GELU()</c>).</summary>
    GeluExact = 7,
}

/// <summary>How a convolution or pooling window treats the borders.</summary>
public enum Padding
{
    /// <summary>No padding: windows stay inside the input (the default).</summary>
    Valid = 0,

    /// <summary>
    /// Pad so that the output side is ⌈input / stride⌉. When the total padding is odd, the extra
    /// row and column go after (bottom and right), as in TensorFlow and PyTorch; NetGen warns (NG1006).
    /// </summary>
    Same = 1,
}

/// <summary>
/// 2-D convolution (cross-correlation, as PyTorch's <c>nn.Conv2d</c>) over a channels-first
/// <c>[C, H, W]</c> input: <c>filters</c> output channels, a square <c>kernel</c>; weight laid
/// out <c>[filters, C, kernel, kernel]</c>. Lowered to im2col and the SIMD matrix product.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class Conv2DAttribute : LayerAttribute
{
    /// <summary>Creates the layer.</summary>
    /// <param name="filters">Output channels; positive.</param>
    /// <param name="kernel">Kernel side; positive.</param>
    public Conv2DAttribute(int filters, int kernel)
    {
        Filters = filters;
        Kernel = kernel;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel side.</summary>
    public int Kernel { get; }

    /// <summary>Step between windows (default 1).</summary>
    public int Stride { get; set; } = 1;

    /// <summary>Spacing between kernel taps (default 1; the window spans dilation·(kernel − 1) + 1).</summary>
    public int Dilation { get; set; } = 1;

    /// <summary><see cref="NetGen.Padding.Valid"/> (default) or <see cref="NetGen.Padding.Same"/>.</summary>
    public Padding Padding { get; set; }

    /// <summary>Explicit zero padding on every side, in pixels (PyTorch's <c>padding=p</c>); overrides <see cref="Padding"/> when set.</summary>
    public int PaddingPixels { get; set; } = -1;

    /// <summary>Whether the layer has a bias per filter (default true).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>Activation applied to the output (default none).</summary>
    public Activation Activation { get; set; }
}

/// <summary>What the two pooling layers share: a square window, its stride and padding.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public abstract class Pool2DAttribute : LayerAttribute
{
    /// <summary>Sets the window side.</summary>
    /// <param name="size">Window side; positive.</param>
    protected Pool2DAttribute(int size) => Size = size;

    /// <summary>Window side.</summary>
    public int Size { get; }

    /// <summary>Step between windows; positive (not set: the window side).</summary>
    public int Stride { get; set; }

    /// <summary><see cref="NetGen.Padding.Valid"/> (default) or <see cref="NetGen.Padding.Same"/>.</summary>
    public Padding Padding { get; set; }

    /// <summary>Explicit padding on every side, in pixels, at most half the window (as PyTorch); overrides <see cref="Padding"/> when set.</summary>
    public int PaddingPixels { get; set; } = -1;
}

/// <summary>2-D max pooling over each channel of a <c>[C, H, W]</c> input (PyTorch's <c>nn.MaxPool2d</c>); padding never wins.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class MaxPool2DAttribute : Pool2DAttribute
{
    /// <summary>Creates the layer.</summary>
    /// <param name="size">Window side; positive.</param>
    public MaxPool2DAttribute(int size)
        : base(size)
    {
    }
}

/// <summary>
/// 2-D average pooling over each channel of a <c>[C, H, W]</c> input (PyTorch's
/// <c>nn.AvgPool2d</c>; padding counts as zeros, count_include_pad=True).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class AvgPool2DAttribute : Pool2DAttribute
{
    /// <summary>Creates the layer.</summary>
    /// <param name="size">Window side; positive.</param>
    public AvgPool2DAttribute(int size)
        : base(size)
    {
    }
}

/// <summary>Global average pooling: the mean of each channel, <c>[C, H, W]</c> → <c>[C]</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class GlobalAveragePoolAttribute : LayerAttribute
{
}

/// <summary>Flattens one sample into a vector, <c>[C, H, W]</c> → <c>[C·H·W]</c>; costs nothing (same memory).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class FlattenAttribute : LayerAttribute
{
}
