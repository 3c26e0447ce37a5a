using NetGen;

namespace FashionMnist;

// Three multi-layer perceptrons for 28x28 grayscale images (784 inputs, ten class scores);
// pick one with --model. NetGen generates everything else at compile time.

/// <summary>Two hidden ReLU layers (--model mlp, the default).</summary>
[Network]
[Input(784)]
[Dense(256, Activation = Activation.ReLU)]
[Dense(128, Activation = Activation.ReLU)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class FashionMlp;

/// <summary>The same with dropout after each hidden layer (--model dropout).</summary>
[Network]
[Input(784)]
[Dense(256, Activation = Activation.ReLU)]
[Dropout(0.2)]
[Dense(128, Activation = Activation.ReLU)]
[Dropout(0.2)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class FashionMlpDropout;

/// <summary>
/// The same with batch normalisation before each ReLU (--model batchnorm); the dense layers
/// need no bias, BatchNorm's shift takes its place.
/// </summary>
[Network]
[Input(784)]
[Dense(256, UseBias = false)]
[BatchNorm]
[ReLU]
[Dense(128, UseBias = false)]
[BatchNorm]
[ReLU]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class FashionMlpBatchNorm;

/// <summary>
/// A small convolutional network (--model cnn): two Conv2D + BatchNorm + ReLU + MaxPool
/// blocks, then a dense classifier with dropout.
/// </summary>
[Network]
[Input(1, 28, 28)]
[Conv2D(16, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[MaxPool2D(2)]
[Conv2D(32, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[MaxPool2D(2)]
[Flatten]
[Dense(128, Activation = Activation.ReLU)]
[Dropout(0.3)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class FashionCnn;
