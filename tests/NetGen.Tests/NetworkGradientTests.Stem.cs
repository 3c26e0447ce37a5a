namespace NetGen.Tests;

// Networks with a stem (StemNetworks.cs) against the double-precision reference of the layers one by one.
public partial class NetworkGradientTests
{
    private static readonly Architecture StemCnnArch = new(
        Loss.SoftmaxCrossEntropy, 3,
        new ConvOp("conv1", 5, new Window2D(2, 8, 8, 3, 3, 1, 1, 1, 1, 8, 8)),
        new BatchNormOp("batchnorm1", 5, Spatial: 64),
        new ActivationOp(Activation.ReLU),
        new PoolOp(new Window2D(5, 8, 8, 2, 2, 2, 1, 0, 0, 4, 4), Max: true),
        new ConvOp("conv2", 4, new Window2D(5, 4, 4, 3, 3, 1, 1, 1, 1, 4, 4), Bias: false),
        new BatchNormOp("batchnorm2", 4, Spatial: 16),
        new PoolOp(new Window2D(4, 4, 4, 2, 2, 2, 1, 0, 0, 2, 2), Max: true),
        new DenseOp("dense1", 16, 3));

    private static readonly Architecture StridedStemArch = new(
        Loss.MeanSquaredError, 2,
        new ConvOp("conv1", 4, new Window2D(1, 13, 13, 3, 3, 2, 1, 1, 1, 7, 7), Bias: false),
        new BatchNormOp("batchnorm1", 4, Epsilon: 0.001, Spatial: 49),
        new PoolOp(new Window2D(4, 7, 7, 2, 2, 2, 1, 0, 0, 3, 3), Max: true),
        new DenseOp("dense1", 36, 2));

    // The first convolution's bias gets exactly 0 (the BatchNorm subtracts it); its finite differences are 0 to rounding.
    [Fact]
    public void A_stem_with_a_bias_and_a_relu_matches_finite_differences()
    {
        var net = new StemCnn(4, seed: 41);
        CheckClassifier(net, StemCnnArch, batch: 3);
        ParameterInfo bias = net.ParameterLayout.Single(p => p.Name == "conv1.bias");
        Assert.All(net.Gradients.Slice(bias.Offset, bias.Length).ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void A_strided_stem_without_a_relu_matches_finite_differences() =>
        CheckRegressor(new StridedStemNet(4, seed: 42), StridedStemArch, batch: 3, binaryTargets: false);
}
