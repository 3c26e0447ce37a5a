namespace NetGen.Generator.Tests;

/// <summary>
/// Which first convolutions become a stem with the BatchNorm after them (PlanBuilder.FuseStems): the convolution's
/// input needs no gradient, its patch has at most 32 values, and its output is read by nothing but a BatchNorm that
/// pools as it normalises. In training that BatchNorm then makes the convolution's output and its weight gradient.
/// </summary>
public class StemTests
{
    private static string Generate(string layers) => TestCompiler.GenerateNet(layers);

    [Theory]
    [InlineData("[Conv2D(4, 3, Padding = Padding.Same)]\n[BatchNorm]\n[ReLU]\n[MaxPool2D(2)]", "true", "P(Conv1Bias, 4)")]
    [InlineData("[Conv2D(4, 3, Stride = 2, PaddingPixels = 1, UseBias = false)]\n[BatchNorm]\n[MaxPool2D(2)]", "false", "default")]
    public void A_first_convolution_with_a_pooling_batchnorm_is_a_stem(string stem, string relu, string bias)
    {
        string code = Generate($"[Input(3, 8, 8)]\n{stem}\n[Flatten]\n[Dense(2)]\n[SoftmaxCrossEntropy]");
        Assert.Contains("private const int Batchnorm1Stem = ", code);
        Assert.Contains("global::NetGen.ConvKernels.StemTrainingForward(", code);
        Assert.Contains($"    input, P(Conv1Weight, 108), {bias}, P(Batchnorm1Weight, 4), P(Batchnorm1Bias, 4),", code);
        Assert.Contains($"batch: n, momentum: 0.1f, epsilon: 1E-05f, relu: {relu}, Conv1Window, Maxpool1Window);", code);
        Assert.Contains("global::NetGen.ConvKernels.StemBackward(", code);
        Assert.Contains(relu == "true" ? "D(Maxpool1Out, 64, n), I(Maxpool1Argmax, 64, n), A(Maxpool1Out, 64, n)," : "I(Maxpool1Argmax, 16, n), default,", code);

        // The convolution runs on its own in inference only; backward has nothing of its own to do.
        Assert.Contains("private void Conv1Forward(int n, bool training, global::System.ReadOnlySpan<float> input)", code);
        Assert.Contains("Conv1Forward(n, training, input);", code);
        Assert.Contains("private void Batchnorm1Forward(int n, bool training, global::System.ReadOnlySpan<float> input)", code);
        Assert.Contains("Batchnorm1Backward(n, input);", code);
        Assert.Contains("// conv1: done in batchnorm1's backward (the stem: the weight gradient from the patches and batchnorm1's sums).", code);
        Assert.DoesNotContain("private void Conv1Backward", code);
        Assert.DoesNotContain("Conv2DBackward", code);

        // A split batch: the moments and sums merged by the network; no phase after the stem's gradient sums.
        Assert.Contains("global::NetGen.ConvKernels.StemMerge(W(Batchnorm1Stem, 756), count, shard.W(Batchnorm1Stem, 756), shardCount, Conv1Window);", code);
        Assert.Contains("global::NetGen.ConvKernels.StemGradients(G(Conv1Weight, 108), G(Batchnorm1Weight, 4), G(Batchnorm1Bias, 4),", code);
        Assert.Contains("Batchnorm1GradientSums(n, input);", code);
        Assert.Contains("RunShards(1, k);\n            Batchnorm1MergeGradientSums(k);\n            RunShards(ReducePhase, k);", code.Replace("\r\n", "\n"));
        Assert.DoesNotContain("case 2:", code);
    }

    [Theory]
    [InlineData("[Input(4, 8, 8)]\n[Conv2D(4, 3, Padding = Padding.Same)]\n[BatchNorm]\n[ReLU]\n[MaxPool2D(2)]")] // a patch of 36
    [InlineData("[Input(1, 8, 8)]\n[Conv2D(4, 3, Padding = Padding.Same, Activation = Activation.Tanh)]\n[BatchNorm]\n[MaxPool2D(2)]")] // an activation between
    [InlineData("[Input(1, 8, 8)]\n[Conv2D(4, 3, Padding = Padding.Same)]\n[BatchNorm]\n[ReLU]\n[Flatten]")] // no pooling in the BatchNorm
    [InlineData("[Input(1, 8, 8)]\n[Conv2D(2, 3, Padding = Padding.Same)]\n[Conv2D(4, 3, Padding = Padding.Same)]\n[BatchNorm]\n[MaxPool2D(2)]")] // the second: its input needs a gradient
    public void Other_convolutions_are_no_stem(string layers)
    {
        string code = Generate(layers + "\n[Flatten]\n[Dense(2)]\n[SoftmaxCrossEntropy]");
        Assert.DoesNotContain("Stem", code);
        Assert.Contains("Conv2DBackward(", code);
    }

    [Fact]
    public void A_network_without_a_loss_has_no_stem()
    {
        string code = Generate("[Input(1, 8, 8)]\n[Conv2D(4, 3, Padding = Padding.Same)]\n[BatchNorm]\n[ReLU]\n[MaxPool2D(2)]\n[Flatten]\n[Dense(2)]");
        Assert.DoesNotContain("Stem", code);
    }
}
