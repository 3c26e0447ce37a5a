using NetGen;

namespace NetGen.Tests;

// Networks that are not a chain: residual connections (identity and projection shortcuts),
// blocks repeated with their own parameters, names as torchvision writes them.

/// <summary>Two dense layers that keep the width: a residual branch on [6].</summary>
[Block]
[Dense(6, Activation = Activation.Tanh)]
[Dense(6)]
public partial class MlpBranch;

[Network]
[Input(5)]
[Dense(6)]
[Residual(typeof(MlpBranch))]
[ReLU]
[Residual(typeof(MlpBranch))]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class ResidualMlp;

/// <summary>A residual right on the input: the shortcut needs no gradient, the branch does.</summary>
[Network]
[Input(6)]
[Residual(typeof(MlpBranch))]
[Dense(2)]
[MeanSquaredError]
public partial class InputResidualNet;

/// <summary>One residual unit: x + branch(x), then ReLU, named straight in the copy's scope.</summary>
[Block]
[Residual(typeof(MlpBranch), Name = "")]
[LeakyReLU(0.1)]
public partial class MlpUnit;

[Network]
[Input(6)]
[Repeat(typeof(MlpUnit), 3)]
[Dense(2)]
[BinaryCrossEntropy]
public partial class RepeatedUnitsNet;

[Block]
[Conv2D(4, 3, Padding = Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[Conv2D(4, 3, Padding = Padding.Same)]
public partial class ConvIdentityBranch;

[Block]
[Conv2D(6, 3, Stride = 2, PaddingPixels = 1)]
[Tanh]
[Conv2D(6, 3, Padding = Padding.Same)]
public partial class ConvDownBranch;

[Block]
[Conv2D(6, 1, Stride = 2, UseBias = false)]
[BatchNorm]
public partial class ConvProjection;

[Network]
[Input(2, 6, 6)]
[Conv2D(4, 3, Padding = Padding.Same)]
[Residual(typeof(ConvIdentityBranch))]
[ReLU]
[Residual(typeof(ConvDownBranch), Projection = typeof(ConvProjection))]
[GlobalAveragePool]
[Dense(3)]
[SoftmaxCrossEntropy]
public partial class ResidualCnn;

/// <summary>A tensor read twice by the same add: y = x + x (an empty branch).</summary>
[Block]
public partial class EmptyBlock;

[Network]
[Input(4)]
[Dense(4)]
[Residual(typeof(EmptyBlock))]
[MeanSquaredError]
public partial class DoublingNet;
