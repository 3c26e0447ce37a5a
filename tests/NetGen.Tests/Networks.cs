using NetGen;

namespace NetGen.Tests;

// The networks the runtime tests train and check. Each is generated at build time by the
// generator referenced as an analyzer, exactly as in a user's project.

[Network]
[Input(784)]
[Dense(128, Activation = Activation.ReLU)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class FashionMlp;

[Network]
[Input(2)]
[Dense(4, Activation = Activation.Tanh)]
[Dense(1)]
[BinaryCrossEntropy]
public partial class XorNet;

[Network]
[Input(5)]
[Dense(7, Activation = Activation.Tanh)]
[Dense(6, Activation = Activation.Sigmoid)]
[Dense(4)]
[SoftmaxCrossEntropy]
public partial class ThreeLayerNet;

[Network]
[Input(6)]
[Dense(5)]
[LeakyReLU(0.1)]
[Dense(5, Activation = Activation.Gelu)]
[Dense(4, UseBias = false)]
[ReLU]
[Dense(3)]
[MeanSquaredError]
public partial class RegressionNet;

[Network]
[Input(4)]
[Dense(6, Activation = Activation.LeakyReLU)]
[Sigmoid]
[Dense(5)]
[Tanh]
[Dense(3)]
[Softmax]
[MeanSquaredError]
public partial class SoftmaxOutputNet;

[Network]
[Input(3, 4)]
[Dense(5, Activation = Activation.ReLU)]
[Gelu]
[Dense(2)]
[BinaryCrossEntropy]
public partial class SequenceNet;

[Network]
[Input(8)]
[Dense(4, Activation = Activation.ReLU)]
[Dense(2)]
public partial class InferenceOnlyNet;

[Network]
[Input(6)]
[Dense(8, L1 = 0.001, L2 = 0.01)]
[BatchNorm]
[ReLU]
[Dropout(0.3)]
[Dense(5, Activation = Activation.Tanh, L2 = 0.05)]
[BatchNorm(Momentum = 0.2, Epsilon = 0.001)]
[Dropout(0.5)]
[Dense(4)]
[SoftmaxCrossEntropy]
public partial class RegularizedNet;

[Network]
[Input(3)]
[Dropout(0.2)]
[Dense(2)]
[MeanSquaredError]
public partial class InputDropoutNet;

[Network]
[Input(2, 7, 6)]
[Conv2D(3, 3, Padding = Padding.Same, Activation = Activation.Tanh)]
[BatchNorm]
[MaxPool2D(2)]
[Conv2D(4, 2, Dilation = 2, PaddingPixels = 1)]
[AvgPool2D(2, Stride = 1)]
[Flatten]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class SmallCnn;

[Network]
[Input(3, 6, 6)]
[Conv2D(4, 3, Stride = 2, PaddingPixels = 1, Activation = Activation.Sigmoid, UseBias = false)]
[GlobalAveragePool]
[Dense(2)]
[MeanSquaredError]
public partial class GapCnn;

/// <summary>VGG-style: ten 3x3 convolutions in four blocks with pooling, for 32x32 colour images.</summary>
[Network]
[Input(3, 32, 32)]
[Conv2D(8, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[Conv2D(8, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[MaxPool2D(2)]
[Conv2D(16, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[Conv2D(16, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[MaxPool2D(2)]
[Conv2D(32, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[Conv2D(32, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[Conv2D(32, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[MaxPool2D(2)]
[Conv2D(32, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[Conv2D(32, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[Conv2D(32, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
[MaxPool2D(2)]
[Flatten]
[Dense(64, Activation = Activation.ReLU)]
[Dropout(0.5)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class VggNet;

/// <summary>
/// BatchNorm + ReLU + MaxPool and BatchNorm + MaxPool: the pooling done in the BatchNorm's training pass
/// (the normalised tensor not written). <see cref="UnfusedPoolCnn"/> is the same network with each pooling
/// on its own. The first convolution's Tanh keeps it from being a stem (StemNetworks.cs), whose sums are not
/// the layers' bits.
/// </summary>
[Network]
[Input(1, 16, 16)]
[Conv2D(4, 3, Padding = Padding.Same, UseBias = false, Activation = Activation.Tanh)]
[BatchNorm]
[ReLU]
[MaxPool2D(2)]
[Conv2D(6, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[MaxPool2D(2)]
[Flatten]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class FusedPoolCnn;

/// <summary>
/// <see cref="FusedPoolCnn"/> with a Dropout(0) before each pooling: an identity (every mask value 1) that
/// keeps the pooling a layer of its own, which normalises into a tensor and pools it in two passes.
/// </summary>
[Network]
[Input(1, 16, 16)]
[Conv2D(4, 3, Padding = Padding.Same, UseBias = false, Activation = Activation.Tanh)]
[BatchNorm]
[ReLU]
[Dropout(0)]
[MaxPool2D(2)]
[Conv2D(6, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[Dropout(0)]
[MaxPool2D(2)]
[Flatten]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class UnfusedPoolCnn;

/// <summary>
/// Convolutions that take the padded-input products where 512-bit vectors are accelerated: 8 filters from 8
/// channels (the forward on the padded input; no input gradient), then 8 more (the forward and the input
/// gradient on the padded input, the weight gradient several samples per product at 36 positions).
/// </summary>
[Network]
[Input(8, 6, 6)]
[Conv2D(8, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[Conv2D(8, 3, Padding = Padding.Same)]
[Flatten]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class PaddedInputCnn;
