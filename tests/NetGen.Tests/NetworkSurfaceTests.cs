namespace NetGen.Tests;

/// <summary>The generated members other than the passes: sizes, layout, summary, initialisation.</summary>
public class NetworkSurfaceTests
{
    [Fact]
    public void Sizes_and_parameter_layout_follow_pytorch_naming_and_order()
    {
        Assert.Equal(784, FashionMlp.InputSize);
        Assert.Equal(10, FashionMlp.OutputSize);
        Assert.Equal((784 * 128) + 128 + (128 * 10) + 10, FashionMlp.ParameterCount);
        Assert.Equal(
            new[] { "dense1.weight (128, 784) @ 0", "dense1.bias (128) @ 100352", "dense2.weight (10, 128) @ 100480", "dense2.bias (10) @ 101760" },
            new FashionMlp(1).ParameterLayout.Select(p => p.ToString()));
        var net = new FashionMlp(2);
        Assert.Equal(FashionMlp.ParameterCount, net.Parameters.Length);
        Assert.Equal(FashionMlp.ParameterCount, net.Gradients.Length);
        Assert.Equal(2, net.MaxBatchSize);
        Assert.Equal(3 * 2, SequenceNet.OutputSize); // Dense acts on the last axis of [3, 4]
    }

    [Fact]
    public void Summary_is_a_layer_table_with_shapes_and_counts()
    {
        Assert.Equal(
            "FashionMlp\n" +
            "#  Layer                Name    Output shape  Parameters\n" +
            "0  Input(784)           input   [784]                  0\n" +
            "1  Dense(128, ReLU)     dense1  [128]            100,480\n" +
            "2  Dense(10)            dense2  [10]               1,290\n" +
            "3  SoftmaxCrossEntropy  loss    [10]                   0\n" +
            "Total parameters: 101,770\n",
            new FashionMlp(1).Summary); // on an instance, as on any INetwork
        Assert.Contains("[3, 5]", new SequenceNet(1).Summary);
    }

    [Fact]
    public void Initialisation_is_seeded_he_for_relu_glorot_otherwise_and_zero_biases()
    {
        var a = new FashionMlp(1, seed: 7);
        var b = new FashionMlp(1, seed: 7);
        var c = new FashionMlp(1, seed: 8);
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
        Assert.NotEqual(a.Parameters.ToArray(), c.Parameters.ToArray());

        ParameterInfo w1 = a.ParameterLayout[0], b1 = a.ParameterLayout[1], w2 = a.ParameterLayout[2];
        float[] p = a.Parameters.ToArray();
        double std1 = Std(p.AsSpan(w1.Offset, w1.Length));
        Assert.InRange(std1, Math.Sqrt(2.0 / 784) * 0.97, Math.Sqrt(2.0 / 784) * 1.03); // He: N(0, 2/fanIn)
        Assert.All(p.AsSpan(b1.Offset, b1.Length).ToArray(), v => Assert.Equal(0f, v));
        float[] glorot = p.AsSpan(w2.Offset, w2.Length).ToArray();
        double limit = Math.Sqrt(6.0 / (128 + 10));
        Assert.All(glorot, v => Assert.InRange(v, -limit, limit));
        Assert.InRange(Std(glorot), limit / Math.Sqrt(3) * 0.9, limit / Math.Sqrt(3) * 1.1); // U(-a, a): std a/√3

        a.InitializeParameters(8);
        Assert.Equal(c.Parameters.ToArray(), a.Parameters.ToArray());
    }

    [Fact]
    public void Networks_implement_the_runtime_interfaces()
    {
        Assert.IsAssignableFrom<ITrainableNetwork<int>>(new FashionMlp(1));
        Assert.IsAssignableFrom<ITrainableNetwork<float>>(new RegressionNet(1));
        INetwork inference = new InferenceOnlyNet(1);
        Assert.False(inference is ITrainableNetwork<int> || inference is ITrainableNetwork<float>);
        Assert.Equal(((InferenceOnlyNet)inference).Summary, inference.Summary);
    }

    private static double Std(ReadOnlySpan<float> values)
    {
        double mean = 0;
        foreach (float v in values)
        {
            mean += v;
        }

        mean /= values.Length;
        double sum = 0;
        foreach (float v in values)
        {
            sum += (v - mean) * (v - mean);
        }

        return Math.Sqrt(sum / values.Length);
    }
}
