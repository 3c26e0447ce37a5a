namespace NetGen.Generator.Tests;

/// <summary>
/// Which 2x2 max poolings the BatchNorm before them does in its training passes (PlanBuilder.FusePoolIntoBatchNorm):
/// stride 2 and no padding, the next layer in the same list as the BatchNorm over channels or as its fused ReLU,
/// so that nothing else reads the normalised tensor; any other pooling runs on its own.
/// </summary>
public class FusionTests
{
    private static string Generate(string layers, string blocks = "") => TestCompiler.GenerateNet(layers, blocks);

    [Theory]
    [InlineData("[BatchNorm]\n[ReLU]\n[MaxPool2D(2)]", "true")]
    [InlineData("[BatchNorm]\n[MaxPool2D(2)]", "false")]
    public void A_2x2_max_pooling_after_a_batchnorm_is_done_in_its_training_passes(string stage, string relu)
    {
        // After a second convolution (the first would be a stem: StemTests).
        string code = Generate($"[Input(1, 8, 8)]\n[Conv2D(4, 3, Padding = Padding.Same, Activation = Activation.Tanh)]\n[Conv2D(4, 3, Padding = Padding.Same)]\n{stage}\n[Flatten]\n[Dense(2)]\n[SoftmaxCrossEntropy]");
        Assert.Contains("global::NetGen.ConvKernels.BatchNormMaxPoolTrainingForward(", code);
        Assert.Contains($"batch: n, momentum: 0.1f, epsilon: 1E-05f, relu: {relu}, Maxpool1Window);", code);
        Assert.Contains("global::NetGen.ConvKernels.BatchNormMaxPoolBackward(", code);
        Assert.Contains("D(Maxpool1Out, 64, n), I(Maxpool1Argmax, 64, n), A(Conv2Out, 256, n)", code);
        Assert.Contains("// maxpool1: done in batchnorm1's backward (from this pooling's output gradient and winners).", code);
        Assert.DoesNotContain("private void Maxpool1Backward", code);
        Assert.Contains("private void Maxpool1Forward(int n, bool training)", code); // inference pools on its own
        Assert.Contains("Maxpool1Forward(n, training);", code);
    }

    [Theory]
    [InlineData("[BatchNorm]\n[ReLU]\n[MaxPool2D(3)]")] // 3x3 windows
    [InlineData("[BatchNorm]\n[ReLU]\n[MaxPool2D(2, Stride = 1)]")] // overlapping windows
    [InlineData("[BatchNorm]\n[ReLU]\n[AvgPool2D(2)]")] // average pooling
    [InlineData("[BatchNorm]\n[Tanh]\n[MaxPool2D(2)]")] // an activation between that is not fused
    [InlineData("[BatchNorm]\n[Dropout(0.1)]\n[MaxPool2D(2)]")] // a layer between
    [InlineData("[Residual(typeof(Unit))]\n[MaxPool2D(2)]")] // the BatchNorm ends a block: its output is the residual sum's input
    public void Other_poolings_run_on_their_own(string stage)
    {
        string code = Generate(
            $"[Input(4, 8, 8)]\n[Conv2D(4, 3, Padding = Padding.Same)]\n{stage}\n[Flatten]\n[Dense(2)]\n[SoftmaxCrossEntropy]",
            "[Block]\n[Conv2D(4, 3, Padding = Padding.Same, UseBias = false)]\n[BatchNorm]\npublic partial class Unit;");
        Assert.DoesNotContain("BatchNormMaxPool", code);
        Assert.DoesNotContain("done in batchnorm", code);
    }
}
