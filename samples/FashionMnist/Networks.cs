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

// A small ResNet (--model resnet): a stem (3x3 convolution, BatchNorm, ReLU, 2x2 max pooling, as
// torchvision's stem pools), then three stages of one basic block each (torchvision's
// BasicBlock: two 3x3 convolutions with BatchNorm, added to the block's input), 16, 32 and 64
// channels at 14x14, 7x7 and 4x4; the second and third stages halve the side with a stride of 2,
// so their shortcuts are projected by a 1x1 convolution with stride 2 and BatchNorm. Global
// average pooling and one Dense layer classify. (Without the stem's pooling, the first stage at
// 28x28 made an epoch take 3.6 minutes on one core here, 1.9 times as long.)

/// <summary>A basic block at 16 channels, stride 1: the identity shortcut fits.</summary>
[Block]
[Conv2D(16, 3, PaddingPixels = 1, UseBias = false, Name = "conv1")]
[BatchNorm(Name = "bn1")]
[ReLU(Name = "relu")]
[Conv2D(16, 3, PaddingPixels = 1, UseBias = false, Name = "conv2")]
[BatchNorm(Name = "bn2")]
public partial class BasicBlock16;

/// <summary>A basic block to 32 channels with stride 2.</summary>
[Block]
[Conv2D(32, 3, Stride = 2, PaddingPixels = 1, UseBias = false, Name = "conv1")]
[BatchNorm(Name = "bn1")]
[ReLU(Name = "relu")]
[Conv2D(32, 3, PaddingPixels = 1, UseBias = false, Name = "conv2")]
[BatchNorm(Name = "bn2")]
public partial class BasicBlock32Down;

/// <summary>A basic block to 64 channels with stride 2.</summary>
[Block]
[Conv2D(64, 3, Stride = 2, PaddingPixels = 1, UseBias = false, Name = "conv1")]
[BatchNorm(Name = "bn1")]
[ReLU(Name = "relu")]
[Conv2D(64, 3, PaddingPixels = 1, UseBias = false, Name = "conv2")]
[BatchNorm(Name = "bn2")]
public partial class BasicBlock64Down;

/// <summary>The projection shortcut to 32 channels at half the side (torchvision's downsample).</summary>
[Block]
[Conv2D(32, 1, Stride = 2, UseBias = false, Name = "0")]
[BatchNorm(Name = "1")]
public partial class Downsample32;

/// <summary>The projection shortcut to 64 channels at half the side.</summary>
[Block]
[Conv2D(64, 1, Stride = 2, UseBias = false, Name = "0")]
[BatchNorm(Name = "1")]
public partial class Downsample64;

/// <summary>The small ResNet, named as torchvision names a ResNet's modules.</summary>
[Network]
[Input(1, 28, 28)]
[Conv2D(16, 3, PaddingPixels = 1, UseBias = false, Name = "conv1")]
[BatchNorm(Name = "bn1")]
[ReLU(Name = "relu")]
[MaxPool2D(2, Name = "maxpool")]
[Residual(typeof(BasicBlock16), Name = "layer1.0")]
[ReLU(Name = "layer1.0.relu2")]
[Residual(typeof(BasicBlock32Down), Projection = typeof(Downsample32), Name = "layer2.0")]
[ReLU(Name = "layer2.0.relu2")]
[Residual(typeof(BasicBlock64Down), Projection = typeof(Downsample64), Name = "layer3.0")]
[ReLU(Name = "layer3.0.relu2")]
[GlobalAveragePool(Name = "avgpool")]
[Dense(10, Name = "fc")]
[SoftmaxCrossEntropy]
public partial class FashionResNet;
