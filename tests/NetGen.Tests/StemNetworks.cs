using NetGen;

namespace NetGen.Tests;

// Networks whose first convolution is a stem (ConvKernels.Stem.cs): in training its BatchNorm takes the batch
// statistics from the patches' moments, makes each sample's convolution output itself and pools it, and makes the
// convolution's weight gradient from the pooled gradient.

/// <summary>
/// A stem with a convolution bias (which the BatchNorm subtracts: its gradient is 0) and a ReLU, then a second
/// block of convolution, BatchNorm and pooling that is not a stem (its input needs a gradient).
/// </summary>
[Network]
[Input(2, 8, 8)]
[Conv2D(5, 3, Padding = Padding.Same)]
[BatchNorm]
[ReLU]
[MaxPool2D(2)]
[Conv2D(4, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[MaxPool2D(2)]
[Flatten]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class StemCnn;

/// <summary>
/// <see cref="StemCnn"/> with a Dropout(0) after the first ReLU, an identity that keeps the first pooling a layer
/// of its own: no stem, the convolution's output and its gradient written, the layers one by one.
/// </summary>
[Network]
[Input(2, 8, 8)]
[Conv2D(5, 3, Padding = Padding.Same)]
[BatchNorm]
[ReLU]
[Dropout(0)]
[MaxPool2D(2)]
[Conv2D(4, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[MaxPool2D(2)]
[Flatten]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class UnstemmedCnn;

/// <summary>A stem with stride 2 and no ReLU, its 7x7 output pooled to 3x3 (the last row and column dropped).</summary>
[Network]
[Input(1, 13, 13)]
[Conv2D(4, 3, Stride = 2, PaddingPixels = 1, UseBias = false)]
[BatchNorm(Momentum = 0.2, Epsilon = 0.001)]
[MaxPool2D(2)]
[Flatten]
[Dense(2)]
[MeanSquaredError]
public partial class StridedStemNet;
