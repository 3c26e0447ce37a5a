namespace NetGen.Tests;

/// <summary>
/// Whole generated networks against a double-precision reference of the same architecture,
/// written independently here: forward outputs, loss, and every parameter's gradient against
/// central finite differences of the reference loss.
/// </summary>
public partial class NetworkGradientTests
{
    private enum Loss
    {
        None,
        SoftmaxCrossEntropy,
        MeanSquaredError,
        BinaryCrossEntropy,
    }

    private abstract record Op;

    private sealed record DenseOp(string Name, int In, int Out, bool Bias = true, Activation Activation = Activation.None, double L1 = 0, double L2 = 0) : Op;

    private sealed record DropoutOp(double Rate) : Op;

    private sealed record BatchNormOp(string Name, int Features, double Epsilon = 1e-5, int Spatial = 1) : Op;

    private sealed record ConvOp(string Name, int Filters, Window2D Window, bool Bias = true, Activation Activation = Activation.None) : Op;

    private sealed record PoolOp(Window2D Window, bool Max) : Op;

    private sealed record GlobalPoolOp(int Channels, int Spatial) : Op;

    private sealed record ActivationOp(Activation Activation, double Alpha = 0.01) : Op;

    /// <summary><c>x + Branch(x)</c>, or <c>Projection(x) + Branch(x)</c>.</summary>
    private sealed record ResidualOp(Op[] Branch, Op[]? Projection = null) : Op;

    private sealed record Architecture(Loss Loss, int OutputSize, params Op[] Ops);

    private static readonly Architecture ThreeLayer = new(
        Loss.SoftmaxCrossEntropy, 4,
        new DenseOp("dense1", 5, 7, Activation: Activation.Tanh),
        new DenseOp("dense2", 7, 6, Activation: Activation.Sigmoid),
        new DenseOp("dense3", 6, 4));

    private static readonly Architecture Regression = new(
        Loss.MeanSquaredError, 3,
        new DenseOp("dense1", 6, 5),
        new ActivationOp(Activation.LeakyReLU, 0.1),
        new DenseOp("dense2", 5, 5, Activation: Activation.Gelu),
        new DenseOp("dense3", 5, 4, Bias: false),
        new ActivationOp(Activation.ReLU),
        new DenseOp("dense4", 4, 3));

    private static readonly Architecture SoftmaxOutput = new(
        Loss.MeanSquaredError, 3,
        new DenseOp("dense1", 4, 6, Activation: Activation.LeakyReLU),
        new ActivationOp(Activation.Sigmoid),
        new DenseOp("dense2", 6, 5),
        new ActivationOp(Activation.Tanh),
        new DenseOp("dense3", 5, 3),
        new ActivationOp(Activation.Softmax));

    private static readonly Architecture Sequence = new(
        Loss.BinaryCrossEntropy, 6,
        new DenseOp("dense1", 4, 5, Activation: Activation.ReLU),
        new ActivationOp(Activation.Gelu),
        new DenseOp("dense2", 5, 2));

    private static readonly Architecture Xor = new(
        Loss.BinaryCrossEntropy, 1,
        new DenseOp("dense1", 2, 4, Activation: Activation.Tanh),
        new DenseOp("dense2", 4, 1));

    private static readonly Architecture Fashion = new(
        Loss.SoftmaxCrossEntropy, 10,
        new DenseOp("dense1", 784, 128, Activation: Activation.ReLU),
        new DenseOp("dense2", 128, 10));

    private static readonly Architecture InferenceOnly = new(
        Loss.None, 2,
        new DenseOp("dense1", 8, 4, Activation: Activation.ReLU),
        new DenseOp("dense2", 4, 2));

    private static readonly Architecture Regularized = new(
        Loss.SoftmaxCrossEntropy, 4,
        new DenseOp("dense1", 6, 8, L1: 0.001, L2: 0.01),
        new BatchNormOp("batchnorm1", 8),
        new ActivationOp(Activation.ReLU),
        new DropoutOp(0.3),
        new DenseOp("dense2", 8, 5, Activation: Activation.Tanh, L2: 0.05),
        new BatchNormOp("batchnorm2", 5, Epsilon: 0.001),
        new DropoutOp(0.5),
        new DenseOp("dense3", 5, 4));

    private static readonly Architecture InputDropout = new(
        Loss.MeanSquaredError, 2,
        new DropoutOp(0.2),
        new DenseOp("dense1", 3, 2));

    private static readonly Architecture SmallCnnArch = new(
        Loss.SoftmaxCrossEntropy, 3,
        new ConvOp("conv1", 3, new Window2D(2, 7, 6, 3, 3, 1, 1, 1, 1, 7, 6), Activation: Activation.Tanh),
        new BatchNormOp("batchnorm1", 3, Spatial: 42),
        new PoolOp(new Window2D(3, 7, 6, 2, 2, 2, 1, 0, 0, 3, 3), Max: true),
        new ConvOp("conv2", 4, new Window2D(3, 3, 3, 2, 2, 1, 2, 1, 1, 3, 3)),
        new PoolOp(new Window2D(4, 3, 3, 2, 2, 1, 1, 0, 0, 2, 2), Max: false),
        new DenseOp("dense1", 16, 3));

    private static readonly Architecture PaddedInputCnnArch = new(
        Loss.SoftmaxCrossEntropy, 3,
        new ConvOp("conv1", 8, new Window2D(8, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6), Bias: false),
        new BatchNormOp("batchnorm1", 8, Spatial: 36),
        new ActivationOp(Activation.ReLU),
        new ConvOp("conv2", 8, new Window2D(8, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6)),
        new DenseOp("dense1", 288, 3));

    private static readonly Architecture GapCnnArch = new(
        Loss.MeanSquaredError, 2,
        new ConvOp("conv1", 4, new Window2D(3, 6, 6, 3, 3, 2, 1, 1, 1, 3, 3), Bias: false, Activation: Activation.Sigmoid),
        new GlobalPoolOp(4, 9),
        new DenseOp("dense1", 4, 2));

    private static readonly Op[] MlpBranch1 = { new DenseOp("residual1.dense1", 6, 6, Activation: Activation.Tanh), new DenseOp("residual1.dense2", 6, 6) };

    private static readonly Architecture ResidualMlpArch = new(
        Loss.SoftmaxCrossEntropy, 3,
        new DenseOp("dense1", 5, 6),
        new ResidualOp(MlpBranch1),
        new ActivationOp(Activation.ReLU),
        new ResidualOp(new Op[] { new DenseOp("residual2.dense1", 6, 6, Activation: Activation.Tanh), new DenseOp("residual2.dense2", 6, 6) }),
        new DenseOp("dense2", 6, 3));

    private static readonly Architecture InputResidualArch = new(
        Loss.MeanSquaredError, 2,
        new ResidualOp(MlpBranch1),
        new DenseOp("dense1", 6, 2));

    private static readonly Architecture RepeatedUnitsArch = new(
        Loss.BinaryCrossEntropy, 2,
        Enumerable.Range(0, 3).SelectMany(k => new Op[]
        {
            new ResidualOp(new Op[] { new DenseOp($"repeat1.{k}.dense1", 6, 6, Activation: Activation.Tanh), new DenseOp($"repeat1.{k}.dense2", 6, 6) }),
            new ActivationOp(Activation.LeakyReLU, 0.1),
        }).Append(new DenseOp("dense1", 6, 2)).ToArray());

    private static readonly Architecture ResidualCnnArch = new(
        Loss.SoftmaxCrossEntropy, 3,
        new ConvOp("conv1", 4, new Window2D(2, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6)),
        new ResidualOp(new Op[]
        {
            new ConvOp("residual1.conv1", 4, new Window2D(4, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6), Bias: false),
            new BatchNormOp("residual1.batchnorm1", 4, Spatial: 36),
            new ActivationOp(Activation.ReLU),
            new ConvOp("residual1.conv2", 4, new Window2D(4, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6)),
        }),
        new ActivationOp(Activation.ReLU),
        new ResidualOp(
            new Op[]
            {
                new ConvOp("residual2.conv1", 6, new Window2D(4, 6, 6, 3, 3, 2, 1, 1, 1, 3, 3)),
                new ActivationOp(Activation.Tanh),
                new ConvOp("residual2.conv2", 6, new Window2D(6, 3, 3, 3, 3, 1, 1, 1, 1, 3, 3)),
            },
            Projection: new Op[]
            {
                new ConvOp("residual2.downsample.conv1", 6, new Window2D(4, 6, 6, 1, 1, 2, 1, 0, 0, 3, 3), Bias: false),
                new BatchNormOp("residual2.downsample.batchnorm1", 6, Spatial: 9),
            }),
        new GlobalPoolOp(6, 9),
        new DenseOp("dense1", 6, 3));

    private static readonly Architecture DoublingArch = new(
        Loss.MeanSquaredError, 4,
        new DenseOp("dense1", 4, 4),
        new ResidualOp(Array.Empty<Op>()));

    [Fact]
    public void An_mlp_with_two_residual_blocks_matches_finite_differences() =>
        CheckClassifier(new ResidualMlp(4, seed: 31), ResidualMlpArch, batch: 3);

    [Fact]
    public void A_residual_on_the_input_matches_finite_differences() =>
        CheckRegressor(new InputResidualNet(4, seed: 32), InputResidualArch, batch: 3, binaryTargets: false);

    [Fact]
    public void A_block_repeated_three_times_has_its_own_parameters_and_matches_finite_differences()
    {
        var net = new RepeatedUnitsNet(4, seed: 33);
        CheckRegressor(net, RepeatedUnitsArch, batch: 3, binaryTargets: true);
        Assert.Equal(
            new[] { "repeat1.0.dense1.weight", "repeat1.0.dense1.bias", "repeat1.0.dense2.weight", "repeat1.0.dense2.bias" },
            net.ParameterLayout.Take(4).Select(p => p.Name));
        Assert.Equal(3 * 2 * (36 + 6) + (6 * 2) + 2, RepeatedUnitsNet.ParameterCount);
    }

    [Fact]
    public void A_conv_net_with_an_identity_block_and_a_projection_block_matches_finite_differences() =>
        CheckClassifier(new ResidualCnn(4, seed: 34), ResidualCnnArch, batch: 3);

    [Fact]
    public void A_tensor_read_twice_receives_both_gradients()
    {
        // y = h + h with h = dense1(x): the gradient of dense1 is twice that of a plain Dense.
        var net = new DoublingNet(4, seed: 35);
        CheckRegressor(net, DoublingArch, batch: 2, binaryTargets: false);
    }

    [Fact]
    public void A_cnn_with_same_padding_batchnorm_pooling_dilation_and_flatten_matches_finite_differences()
    {
        var net = new SmallCnn(4, seed: 21);
        CheckClassifier(net, SmallCnnArch, batch: 3);
        Assert.Equal("conv1.weight (3, 2, 3, 3) @ 0", net.ParameterLayout[0].ToString());
    }

    [Fact]
    public void Convolutions_on_the_padded_input_match_finite_differences() =>
        CheckClassifier(new PaddedInputCnn(4, seed: 23), PaddedInputCnnArch, batch: 3);

    [Fact]
    public void A_strided_cnn_with_global_average_pooling_matches_finite_differences() =>
        CheckRegressor(new GapCnn(4, seed: 22), GapCnnArch, batch: 3, binaryTargets: false);

    [Fact]
    public void Dropout_batchnorm_and_weight_penalties_match_finite_differences_in_training_mode()
    {
        // The dropout masks are drawn from the network's RandomSource: replay the same sequence here.
        var net = new RegularizedNet(8, seed: 11);
        const int batch = 5;
        net.RandomSource.Reset(1234);
        CheckClassifier(net, Regularized, batch, masksSeed: 1234);
    }

    [Fact]
    public void Dropout_on_the_input_matches_finite_differences()
    {
        var net = new InputDropoutNet(4, seed: 12);
        net.RandomSource.Reset(99);
        CheckRegressor(net, InputDropout, batch: 4, binaryTargets: false, masksSeed: 99);
    }

    [Fact]
    public void Three_layer_net_gradients_match_finite_differences() =>
        CheckClassifier(new ThreeLayerNet(8, seed: 3), ThreeLayer, batch: 3);

    [Fact]
    public void Fashion_mlp_gradients_match_finite_differences_on_a_sample_of_parameters() =>
        CheckClassifier(new FashionMlp(8, seed: 4), Fashion, batch: 2, checkEvery: 97);

    [Fact]
    public void Regression_net_with_every_activation_layer_matches_finite_differences() =>
        CheckRegressor(new RegressionNet(4, seed: 5), Regression, batch: 4, binaryTargets: false);

    [Fact]
    public void Softmax_output_layer_with_mse_matches_finite_differences() =>
        CheckRegressor(new SoftmaxOutputNet(4, seed: 6), SoftmaxOutput, batch: 3, binaryTargets: false);

    [Fact]
    public void Dense_on_the_last_axis_of_a_sequence_matches_finite_differences() =>
        CheckRegressor(new SequenceNet(4, seed: 7), Sequence, batch: 2, binaryTargets: true);

    [Fact]
    public void Xor_net_with_binary_cross_entropy_matches_finite_differences() =>
        CheckRegressor(new XorNet(4, seed: 8), Xor, batch: 4, binaryTargets: true);

    [Fact]
    public void Network_without_a_loss_runs_inference_like_the_reference()
    {
        var net = new InferenceOnlyNet(3, seed: 9);
        float[] x = Reference.RandomFloats(3 * InferenceOnlyNet.InputSize, 90);
        var y = new float[3 * InferenceOnlyNet.OutputSize];
        net.Forward(x, y);
        double[] expected = Run(InferenceOnly, Reference.ToDouble(net.Parameters), net.ParameterLayout, Reference.ToDouble(x));
        Reference.AssertClose(expected, y, 1e-5, 1e-5, "outputs");
    }
}
