using NetGen;

namespace FashionMnist;

/// <summary>
/// A multi-layer perceptron for 28x28 grayscale images: 784 inputs, two hidden ReLU layers,
/// ten class scores. NetGen generates everything else at compile time.
/// </summary>
[Network]
[Input(784)]
[Dense(256, Activation = Activation.ReLU)]
[Dense(128, Activation = Activation.ReLU)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class FashionMlp;
