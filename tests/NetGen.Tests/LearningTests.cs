using NetGen.Data;

namespace NetGen.Tests;

/// <summary>Training really learns: XOR exactly, and Fashion-MNIST to a stated accuracy.</summary>
public class LearningTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void A_2_4_1_network_learns_xor()
    {
        var net = new XorNet(maxBatchSize: 4, seed: 1);
        float[] x = { 0, 0, 0, 1, 1, 0, 1, 1 };
        float[] t = { 0, 1, 1, 0 };
        var sgd = new Sgd(0.5f);
        float first = net.TrainStep(x, t, sgd);
        float loss = first;
        for (int step = 0; step < 2000; step++)
        {
            loss = net.TrainStep(x, t, sgd);
        }

        var p = new float[4];
        net.Forward(x, p);
        Assert.True(loss < 0.05f, $"loss {first} -> {loss}");
        for (int i = 0; i < 4; i++)
        {
            Assert.True(t[i] == 1 ? p[i] > 0.9f : p[i] < 0.1f, $"XOR({x[2 * i]}, {x[(2 * i) + 1]}) predicted {p[i]}");
        }
    }

    [Fact]
    public void Fashion_mnist_mlp_reaches_80_percent_on_the_embedded_subset()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "data");
        float[] trainX = Idx.ToUnitFloats(Idx.Read(Path.Combine(dir, "train-images-idx3-ubyte.gz")));
        int[] trainY = Idx.ToLabels(Idx.Read(Path.Combine(dir, "train-labels-idx1-ubyte.gz")));
        float[] testX = Idx.ToUnitFloats(Idx.Read(Path.Combine(dir, "t10k-images-idx3-ubyte.gz")));
        int[] testY = Idx.ToLabels(Idx.Read(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz")));
        Assert.Equal(10_000, trainY.Length);
        Assert.Equal(2_000, testY.Length);

        const int batch = 32;
        var net = new FashionMlp(maxBatchSize: batch, seed: 1);
        var sgd = new Sgd(0.1f);
        var order = Enumerable.Range(0, trainY.Length).ToArray();
        var random = new SeededRandom(1);
        var xb = new float[batch * FashionMlp.InputSize];
        var yb = new int[batch];
        float firstEpochLoss = 0, lastEpochLoss = 0;
        for (int epoch = 0; epoch < 4; epoch++)
        {
            random.Shuffle(order);
            double total = 0;
            int steps = 0;
            for (int start = 0; start + batch <= order.Length; start += batch)
            {
                for (int i = 0; i < batch; i++)
                {
                    trainX.AsSpan(order[start + i] * FashionMlp.InputSize, FashionMlp.InputSize).CopyTo(xb.AsSpan(i * FashionMlp.InputSize));
                    yb[i] = trainY[order[start + i]];
                }

                total += net.TrainStep(xb, yb, sgd);
                steps++;
            }

            lastEpochLoss = (float)(total / steps);
            if (epoch == 0)
            {
                firstEpochLoss = lastEpochLoss;
            }
        }

        double accuracy = Accuracy(net, testX, testY);
        output.WriteLine($"Fashion-MNIST subset: loss {firstEpochLoss:F4} -> {lastEpochLoss:F4}, test accuracy {accuracy:P2}");
        Assert.True(lastEpochLoss < firstEpochLoss, $"loss {firstEpochLoss} -> {lastEpochLoss}");
        Assert.True(accuracy >= 0.80, $"test accuracy {accuracy:P1}");
    }

    private static double Accuracy(FashionMlp net, float[] x, int[] y)
    {
        int correct = 0;
        var probabilities = new float[net.MaxBatchSize * FashionMlp.OutputSize];
        for (int start = 0; start < y.Length; start += net.MaxBatchSize)
        {
            int n = Math.Min(net.MaxBatchSize, y.Length - start);
            net.Forward(x.AsSpan(start * FashionMlp.InputSize, n * FashionMlp.InputSize), probabilities.AsSpan(0, n * FashionMlp.OutputSize));
            for (int i = 0; i < n; i++)
            {
                int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(probabilities.AsSpan(i * FashionMlp.OutputSize, FashionMlp.OutputSize));
                correct += best == y[start + i] ? 1 : 0;
            }
        }

        return (double)correct / y.Length;
    }
}

public class DeepNetworkTests
{
    [Fact]
    public void A_vgg_style_network_of_ten_convolutions_trains()
    {
        var net = new VggNet(8, seed: 1);
        Assert.Equal(10, net.ParameterLayout.Count(p => p.Name.StartsWith("conv", StringComparison.Ordinal) && p.Name.EndsWith(".weight", StringComparison.Ordinal)));
        Assert.Contains("[32, 2, 2]", net.Summary);
        var adam = new Adam(0.002f);
        float[] x = Reference.RandomFloats(8 * VggNet.InputSize, 3);
        int[] labels = { 0, 1, 2, 3, 4, 5, 6, 7 };
        float first = net.TrainStep(x, labels, adam);
        float last = first;
        for (int step = 0; step < 60; step++)
        {
            last = net.TrainStep(x, labels, adam);
        }

        // Memorising eight samples: the loss must fall far below ln(10) ≈ 2.3.
        Assert.True(last < first / 4, $"loss {first} -> {last}");
        net.Evaluate(x, labels);
        Assert.True(net.LastOutputs.Length == 80);
    }
}
