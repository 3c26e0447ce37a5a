namespace NetGen.Generator.Tests;

/// <summary>
/// Which networks get the split by hidden units for small batches on several threads: dense layers, the first
/// reading the input, with an elementwise activation after each but the last (fused or a layer of its own), the
/// hidden layers whole 32-unit strips, no penalty, and a loss; every other network keeps its products split.
/// </summary>
public class UnitSplitTests
{
    private static string Generate(string layers) => TestCompiler.GenerateNet(layers);

    [Theory]
    [InlineData("[Input(784)]\n[Dense(128, Activation = Activation.ReLU)]\n[Dense(10)]\n[SoftmaxCrossEntropy]", "ReLU, alpha: 0f")]
    [InlineData("[Input(50)]\n[Dense(96, UseBias = false)]\n[LeakyReLU(0.2)]\n[Dense(3, UseBias = false)]\n[MeanSquaredError]", "LeakyReLU, alpha: 0.2f")]
    [InlineData("[Input(20)]\n[Dense(64, Activation = Activation.Tanh)]\n[Dense(1)]\n[BinaryCrossEntropy]", "Tanh, alpha: 0f")]
    [InlineData("[Input(784)]\n[Dense(256, Activation = Activation.ReLU)]\n[Dense(128, Activation = Activation.Sigmoid)]\n[Dense(10)]\n[SoftmaxCrossEntropy]", "Sigmoid, alpha: 0f")]
    public void An_mlp_splits_by_units(string layers, string activation)
    {
        string code = Generate(layers);
        Assert.Contains("if (UnitShardsFor(n) > 1", code);
        Assert.Contains($"global::NetGen.Kernels.ActivationForwardColumns(A(", code);
        Assert.Contains($"global::NetGen.Activation.{activation}, rows: n", code);
    }

    [Theory]
    [InlineData("[Input(784)]\n[Dense(100, Activation = Activation.ReLU)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // not whole strips of 32
    [InlineData("[Input(784)]\n[Dense(32, Activation = Activation.ReLU)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // one strip: nothing to split
    [InlineData("[Input(784)]\n[Dense(128, Activation = Activation.ReLU)]\n[Dropout(0.5)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // dropout between
    [InlineData("[Input(784)]\n[Dense(128, Activation = Activation.ReLU, L2 = 0.01)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // a penalty
    [InlineData("[Input(784)]\n[Dense(128, Activation = Activation.Softmax)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // not elementwise
    [InlineData("[Input(784)]\n[Dense(128)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // no activation between
    [InlineData("[Input(784)]\n[Dense(128, Activation = Activation.ReLU)]\n[Dense(48, Activation = Activation.ReLU)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // a second hidden layer not whole strips
    [InlineData("[Input(784)]\n[Dense(128, Activation = Activation.ReLU)]\n[Dense(10)]")] // no loss: no training
    public void Other_networks_keep_their_products_split(string layers)
    {
        string code = Generate(layers);
        Assert.DoesNotContain("Unit", code);
    }
}
