namespace NetGen.Generator.Tests;

/// <summary>
/// Which Dense weight's gradient TrainStep may leave to the optimizer at small batches: the largest
/// with a gradient of its own that its layer writes (no L1/L2, not tied), one row per sample, at most
/// 8,192 columns and at least 32,768 values; at most one per network, and no deferral code without one.
/// </summary>
public class DeferredWeightTests
{
    private static string Generate(string layers) => TestCompiler.GenerateNet(layers);

    [Fact]
    public void The_largest_eligible_weight_is_deferred_and_only_it()
    {
        // dense1 (784 x 300 = 235,200) has an L2 penalty: its gradient is added to, not deferred.
        // dense2 (300 x 200 = 60,000) is the largest left; dense3 (200 x 10) is too small.
        string code = Generate("""
            [Input(784)]
            [Dense(300, Activation = Activation.ReLU, L2 = 0.001)]
            [Dense(200, Activation = Activation.ReLU)]
            [Dense(10)]
            [SoftmaxCrossEntropy]
            """);
        Assert.Contains("_deferWeight ? default : G(Dense2Weight, 60000), // d dense2.weight, unless TrainStep leaves it to the optimizer", code);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(code, "_deferWeight \\? default"));
        Assert.Contains("new global::NetGen.DeferredWeightGradient(Dense2Weight, DeferredOutputGradient(n), DeferredInput(n), n, inFeatures: 300, outFeatures: 200)", code);
        Assert.Contains("_deferredInput = new float[DeferMaxRows * 300];", code);
        Assert.Contains("A(Dense1ReLUOut, 300, n).CopyTo(_deferredInput);", code); // dense2 reads dense1's ReLU
    }

    [Theory]
    [InlineData("[Input(784)]\n[Dense(32)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // 25,088 values: below 32,768
    [InlineData("[Input(9000)]\n[Dense(8)]\n[Dense(2)]\n[MeanSquaredError]")] // 9,000 columns: a row does not fit the block
    [InlineData("[Input(784)]\n[Dense(128, L1 = 0.01)]\n[Dense(10)]\n[SoftmaxCrossEntropy]")] // the only large weight has a penalty
    [InlineData("[Input(784)]\n[Dense(128)]\n[Dense(10)]")] // no loss: no training
    public void Without_an_eligible_weight_nothing_is_deferred(string layers)
    {
        string code = Generate(layers);
        Assert.DoesNotContain("Deferred", code);
        Assert.DoesNotContain("_deferWeight", code);
    }
}
