namespace NetGen.Tests;

/// <summary>Dropout, BatchNorm and weight penalties: kernels, training and inference modes, running statistics.</summary>
public class RegularizationTests
{
    [Theory]
    [InlineData(5)]
    [InlineData(70)] // more than one chunk of 64 features in the vector backward pass
    public void BatchNorm_training_forward_matches_the_reference_and_backward_matches_finite_differences(int features)
    {
        const int rows = 6;
        const float eps = 1e-5f;
        float[] x = Reference.RandomFloats(rows * features, 1, scale: 3f);
        float[] gamma = Reference.RandomFloats(features, 2), beta = Reference.RandomFloats(features, 3);
        float[] dy = Reference.RandomFloats(rows * features, 4);
        var y = new float[x.Length];
        var mean = new float[features];
        var inv = new float[features];
        var runningMean = new float[features];
        float[] runningVar = Enumerable.Repeat(1f, features).ToArray();
        Kernels.BatchNormTrainingForward(y, mean, inv, runningMean, runningVar, x, gamma, beta, rows, features, spatial: 1, momentum: 0.1f, epsilon: eps);
        double[] xd = Reference.ToDouble(x), gd = Reference.ToDouble(gamma), bd = Reference.ToDouble(beta);
        Reference.AssertClose(Reference.BatchNormTraining(xd, gd, bd, features, eps), y, 1e-5, 1e-5, "y");

        // Running statistics: momentum 0.1, unbiased variance (PyTorch's convention).
        for (int f = 0; f < features; f++)
        {
            double[] column = Enumerable.Range(0, rows).Select(r => xd[(r * features) + f]).ToArray();
            double m = column.Average();
            double unbiased = column.Sum(v => (v - m) * (v - m)) / (rows - 1);
            Assert.Equal(0.1 * m, runningMean[f], 1e-6);
            Assert.Equal(0.9 + (0.1 * unbiased), runningVar[f], 1e-5);
        }

        var dx = new float[x.Length];
        var dGamma = new float[features];
        var dBeta = new float[features];
        Kernels.BatchNormBackward(dx, dGamma, dBeta, dy, x, gamma, mean, inv, rows, features, spatial: 1);
        double Loss() => Reference.BatchNormTraining(xd, gd, bd, features, eps).Select((v, i) => v * dy[i]).Sum();
        Reference.AssertClose(xd.Select((_, i) => Reference.CentralDifference(Loss, xd, i)).ToArray(), dx, 1e-4, 1e-3, "dX");
        Reference.AssertClose(gd.Select((_, i) => Reference.CentralDifference(Loss, gd, i)).ToArray(), dGamma, 1e-5, 1e-4, "dGamma");
        Reference.AssertClose(bd.Select((_, i) => Reference.CentralDifference(Loss, bd, i)).ToArray(), dBeta, 1e-5, 1e-4, "dBeta");
    }

    [Fact]
    public void BatchNorm_inference_uses_the_running_statistics()
    {
        float[] x = { 1f, 2f, 3f, 4f };
        var y = new float[4];
        Kernels.BatchNormInferenceForward(y, x, new[] { 2f, 1f }, new[] { 0.5f, 0f }, new[] { 1f, 2f }, new[] { 4f, 0.25f }, rows: 2, channels: 2, spatial: 1, epsilon: 0f);
        Assert.Equal(new[] { 0.5f, 0f, 2.5f, 4f }, y); // (x − μ̂)·γ/√σ̂² + β per feature
    }

    [Fact]
    public void Dropout_zeroes_at_the_rate_scales_the_rest_and_backward_uses_the_same_mask()
    {
        const int n = 20000;
        float[] x = Enumerable.Repeat(1f, n).ToArray();
        var y = new float[n];
        var mask = new float[n];
        Kernels.DropoutForward(y, mask, x, rate: 0.25f, new SeededRandom(5));
        double zeros = y.Count(v => v == 0f) / (double)n;
        Assert.InRange(zeros, 0.24, 0.26);
        Assert.All(y.Where(v => v != 0f), v => Assert.Equal(1f / 0.75f, v));
        Assert.Equal(n, y.Sum(), n * 0.02); // inverted dropout keeps the expected sum

        float[] dy = Reference.RandomFloats(n, 6);
        var dx = new float[n];
        Kernels.DropoutBackward(dx, dy, mask);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(dy[i] * mask[i], dx[i]);
        }
    }

    [Fact]
    public void A_dropout_mask_is_the_generators_stream_in_order_and_leaves_it_where_single_draws_would()
    {
        var drawn = new SeededRandom(9);
        var single = new SeededRandom(9);
        foreach (float rate in new[] { 0.4f, 0.25f, 1f / 3f, 0f })
        {
            var mask = new float[1001];
            Kernels.DropoutMask(mask, rate, drawn);
            for (int i = 0; i < mask.Length; i++)
            {
                Assert.Equal(single.NextSingle() < rate ? 0f : 1f / (1f - rate), mask[i]);
            }

            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(single.NextUInt32(), drawn.NextUInt32()); // the whole state written back: the next draws are the same
            }
        }
    }

    [Fact]
    public void Weight_penalty_value_and_gradient_match_the_definition()
    {
        float[] w = Reference.RandomFloats(11, 7);
        var g = Enumerable.Repeat(1f, 11).ToArray();
        float penalty = Kernels.WeightPenalty(g, w, l1: 0.01f, l2: 0.1f);
        double[] wd = Reference.ToDouble(w);
        double Value() => wd.Sum(v => (0.01 * Math.Abs(v)) + (0.1 * v * v));
        Assert.Equal(Value(), penalty, 1e-6);
        Reference.AssertClose(wd.Select((_, i) => 1 + Reference.CentralDifference(Value, wd, i)).ToArray(), g, 1e-6, 1e-5, "gradient");
        Assert.Equal(penalty, Kernels.WeightPenalty(default, w, 0.01f, 0.1f));
    }

    [Fact]
    public void Training_mode_is_random_and_reproducible_inference_mode_is_deterministic()
    {
        var net = new RegularizedNet(8, seed: 3);
        float[] x = Reference.RandomFloats(8 * RegularizedNet.InputSize, 1);
        int[] labels = { 0, 1, 2, 3, 0, 1, 2, 3 };
        float[] state = net.State.ToArray();

        net.RandomSource.Reset(7);
        float first = net.ComputeGradients(x, labels);
        float[] g1 = net.Gradients.ToArray();
        float second = net.ComputeGradients(x, labels);
        net.RandomSource.Reset(7);
        float again = net.ComputeGradients(x, labels);
        Assert.NotEqual(first, second);           // a new dropout mask
        Assert.Equal(first, again);               // same seed, same masks...
        Assert.Equal(g1, net.Gradients.ToArray()); // ...same gradients
        Assert.NotEqual(state, net.State.ToArray()); // training updated the running statistics

        // Inference: no dropout, running statistics, no state change; Evaluate agrees with Forward.
        float[] afterTraining = net.State.ToArray();
        var p1 = new float[8 * RegularizedNet.OutputSize];
        var p2 = new float[8 * RegularizedNet.OutputSize];
        net.Forward(x, p1);
        net.Forward(x, p2);
        Assert.Equal(p1, p2);
        net.Evaluate(x, labels);
        Assert.Equal(p1, net.LastOutputs.ToArray());
        Assert.Equal(afterTraining, net.State.ToArray());
    }

    [Fact]
    public void Evaluate_is_the_inference_loss_including_the_penalties()
    {
        var net = new RegularizedNet(4, seed: 3);
        float[] x = Reference.RandomFloats(4 * RegularizedNet.InputSize, 2);
        int[] labels = { 3, 1, 0, 2 };
        float loss = net.Evaluate(x, labels);
        var p = new float[4 * RegularizedNet.OutputSize];
        net.Forward(x, p);
        double expected = -Enumerable.Range(0, 4).Average(i => Math.Log(p[(i * 4) + labels[i]]));
        foreach ((string name, double l1, double l2) in new[] { ("dense1.weight", 0.001, 0.01), ("dense2.weight", 0.0, 0.05) })
        {
            ParameterInfo w = new RegularizedNet(2).ParameterLayout.Single(q => q.Name == name);
            expected += net.Parameters.Slice(w.Offset, w.Length).ToArray().Sum(v => (l1 * Math.Abs(v)) + (l2 * v * v));
        }

        Assert.Equal(expected, loss, 1e-5);
    }

    [Fact]
    public void Layout_names_batchnorm_parameters_and_state_as_pytorch()
    {
        Assert.Equal(
            new[] { "dense1.weight", "dense1.bias", "batchnorm1.weight", "batchnorm1.bias", "dense2.weight", "dense2.bias", "batchnorm2.weight", "batchnorm2.bias", "dense3.weight", "dense3.bias" },
            new RegularizedNet(2).ParameterLayout.Select(p => p.Name));
        Assert.Equal(
            new[] { "batchnorm1.running_mean (8) @ 0", "batchnorm1.running_var (8) @ 8", "batchnorm2.running_mean (5) @ 16", "batchnorm2.running_var (5) @ 21" },
            new RegularizedNet(2).StateLayout.Select(p => p.ToString()));
        var net = new RegularizedNet(2);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f }, net.State.Slice(0, 16).ToArray());
        ParameterInfo gamma = new RegularizedNet(2).ParameterLayout.Single(p => p.Name == "batchnorm1.weight");
        Assert.All(net.Parameters.Slice(gamma.Offset, gamma.Length).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void BatchNorm_refuses_a_training_batch_of_one_before_changing_anything()
    {
        var net = new RegularizedNet(4, seed: 1);
        float[] state = net.State.ToArray(), parameters = net.Parameters.ToArray();
        var e = Assert.Throws<ArgumentException>(() => net.TrainStep(new float[RegularizedNet.InputSize], new[] { 1 }, new Sgd(0.1f)));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("batchnorm1 (layer 2) is a BatchNorm layer: in training it needs a batch of at least 2 samples", e.Message);
        Assert.Equal(state, net.State.ToArray());
        Assert.Equal(parameters, net.Parameters.ToArray());

        // One sample is fine at inference.
        net.Forward(new float[RegularizedNet.InputSize], new float[RegularizedNet.OutputSize]);
    }

}
