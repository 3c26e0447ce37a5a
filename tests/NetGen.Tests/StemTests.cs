using NetGen.Training;

namespace NetGen.Tests;

/// <summary>
/// The stem (ConvKernels.Stem.cs): a first convolution, BatchNorm, ReLU and 2x2 max pooling in training, the batch
/// statistics from the patches' moments and the weight gradient from Σ dy·(patch − mean), against the layers one by
/// one (Conv2DForward, BatchNormMaxPoolTrainingForward, BatchNormMaxPoolBackward, Conv2DBackward) on the same data,
/// whole and split in two shards, and on each vector path. The sums go in other orders, so the results agree to
/// rounding, not bits.
/// </summary>
[Collection(nameof(MatMulPathTests))] // one test switches the vector paths, process-wide
public class StemTests
{
    public static TheoryData<string, int, int, int, int, int, int, int, bool> Geometries => new()
    {
        // name, C, H, W, kernel, stride, padding, filters, bias
        { "3x3 same, 1 -> 16 at 12x12 (the sample CNN's stem, smaller)", 1, 12, 12, 3, 1, 1, 16, false },
        { "3x3 same, 3 -> 8 at 10x10, with a bias", 3, 10, 10, 3, 1, 1, 8, true },
        { "3x3 stride 2, 2 -> 6 at 13x13 (7x7: the pooling drops a row and a column)", 2, 13, 13, 3, 2, 1, 6, false },
        { "5x5 valid, 1 -> 4 at 14x14", 1, 14, 14, 5, 1, 0, 4, true },
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void The_stem_gives_the_layers_results(string name, int c, int h, int w, int k, int stride, int pad, int filters, bool withBias)
    {
        const int n = 5;
        var conv = new Window2D(c, h, w, k, k, stride, 1, pad, pad, ((h + (2 * pad) - k) / stride) + 1, ((w + (2 * pad) - k) / stride) + 1);
        var pool = new Window2D(filters, conv.OutHeight, conv.OutWidth, 2, 2, 2, 1, 0, 0, conv.OutHeight / 2, conv.OutWidth / 2);
        int p = conv.Positions, pooled = filters * pool.Positions;

        // Inputs in [0, 1] as pixels are: a mean far from 0 is where the moments' centring matters.
        float[] x = Reference.RandomFloats(n * conv.InputSize, 51).Select(v => 0.5f + (0.5f * v)).ToArray();
        float[] weight = Reference.RandomFloats(filters * conv.PatchSize, 52), bias = withBias ? Reference.RandomFloats(filters, 53) : Array.Empty<float>();
        float[] gamma = Reference.RandomFloats(filters, 54).Select(v => 1f + (0.5f * v)).ToArray(), beta = Reference.RandomFloats(filters, 55);
        float[] dPooled = Reference.RandomFloats(n * pooled, 56);
        var columns = new float[conv.PatchSize * (p + filters)];
        foreach (bool relu in new[] { true, false })
        {
            string what = $"{name}, relu {relu}";

            // The layers one by one.
            var z = new float[n * filters * p];
            ConvKernels.Conv2DForward(z, columns, x, weight, bias, n, filters, conv);
            float[] y = new float[n * pooled], mean = new float[filters], inv = new float[filters];
            float[] runningMean = Reference.RandomFloats(filters, 57), runningVariance = Enumerable.Repeat(1f, filters).ToArray();
            var argmax = new int[y.Length];
            ConvKernels.BatchNormMaxPoolTrainingForward(y, argmax, mean, inv, runningMean, runningVariance, z, gamma, beta, n, 0.1f, 1e-5f, relu, pool);
            var dz = new float[z.Length];
            float[] dGamma = new float[filters], dBeta = new float[filters];
            ConvKernels.BatchNormMaxPoolBackward(dz, dGamma, dBeta, dPooled, argmax, z, gamma, mean, inv, n, pool, relu ? beta : default);
            float[] dWeight = Enumerable.Repeat(0.25f, weight.Length).ToArray(), dBias = new float[bias.Length];
            ConvKernels.Conv2DBackward(default, dWeight, dBias, columns, dz, x, weight, n, filters, conv);

            // The stem on one thread.
            float[] moments = new float[ConvKernels.StemMomentsSize(conv)], planes = new float[(filters * p) + pooled], sums = new float[ConvKernels.StemSumsSize(filters, conv)];
            float[] stemY = new float[y.Length], stemMean = new float[filters], stemInv = new float[filters];
            float[] stemRunningMean = Reference.RandomFloats(filters, 57), stemRunningVariance = Enumerable.Repeat(1f, filters).ToArray();
            var stemArgmax = new int[y.Length];
            ConvKernels.StemTrainingForward(stemY, stemArgmax, stemMean, stemInv, stemRunningMean, stemRunningVariance, moments, planes, columns, x, weight, bias, gamma, beta, n, 0.1f, 1e-5f, relu, conv, pool);
            Assert.True(argmax.AsSpan().SequenceEqual(stemArgmax), "winners " + what);
            Reference.AssertClose(Reference.ToDouble(y), stemY, 1e-5, 1e-5, "pooled values " + what);
            Reference.AssertClose(Reference.ToDouble(mean), stemMean, 1e-6, 1e-5, "batch mean " + what);
            Reference.AssertClose(Reference.ToDouble(inv), stemInv, 1e-6, 1e-5, "batch 1/std " + what);
            Reference.AssertClose(Reference.ToDouble(runningMean), stemRunningMean, 1e-6, 1e-5, "running mean " + what);
            Reference.AssertClose(Reference.ToDouble(runningVariance), stemRunningVariance, 1e-6, 1e-5, "running variance " + what);

            float[] stemDWeight = Enumerable.Repeat(0.25f, weight.Length).ToArray(), stemDGamma = new float[filters], stemDBeta = new float[filters];
            ConvKernels.StemBackward(stemDWeight, stemDGamma, stemDBeta, sums, planes, columns, dPooled, argmax, relu ? y : default, x, moments, weight, gamma, inv, n, conv, pool);
            double scale = dWeight.Max(v => Math.Abs(v - 0.25f));
            Reference.AssertClose(Reference.ToDouble(dWeight), stemDWeight, 1e-5 * scale, 0, "d weight " + what);
            Reference.AssertClose(Reference.ToDouble(dGamma), stemDGamma, 1e-5 * dGamma.Max(Math.Abs), 0, "d gamma " + what);
            Reference.AssertClose(Reference.ToDouble(dBeta), stemDBeta, 1e-5 * dBeta.Max(Math.Abs), 0, "d beta " + what);
            Assert.All(dBias, v => Assert.True(Math.Abs(v) < 1e-5 * scale, $"the layers' bias gradient is 0 to rounding: {v} ({what})"));

            // Two shards of 2 and 3 samples, merged as the generated network merges them.
            int rows = 2 * conv.InputSize, pooledRows = 2 * pooled;
            float[] shardMoments = new float[moments.Length], merged = new float[moments.Length];
            ConvKernels.StemMoments(merged, columns, x.AsSpan(0, rows), 2, conv);
            ConvKernels.StemMoments(shardMoments, columns, x.AsSpan(rows), 3, conv);
            ConvKernels.StemMerge(merged, 2L * p, shardMoments, 3L * p, conv);
            Reference.AssertClose(Reference.ToDouble(moments), merged, 1e-5 * moments.Max(Math.Abs), 0, "merged moments " + what);
            float[] shardRunningMean = Reference.RandomFloats(filters, 57), shardRunningVariance = Enumerable.Repeat(1f, filters).ToArray();
            ConvKernels.StemStatistics(stemMean, stemInv, shardRunningMean, shardRunningVariance, merged, weight, bias, 5L * p, 0.1f, 1e-5f, filters, conv);
            Reference.AssertClose(Reference.ToDouble(inv), stemInv, 1e-6, 1e-5, "a split batch's 1/std " + what);
            Array.Clear(stemY);
            ConvKernels.StemNormalizeMaxPool(stemY.AsSpan(0, pooledRows), stemArgmax.AsSpan(0, pooledRows), planes, columns, x.AsSpan(0, rows), weight, bias, stemMean, stemInv, gamma, beta, 2, relu, conv, pool);
            ConvKernels.StemNormalizeMaxPool(stemY.AsSpan(pooledRows), stemArgmax.AsSpan(pooledRows), planes, columns, x.AsSpan(rows), weight, bias, stemMean, stemInv, gamma, beta, 3, relu, conv, pool);
            Reference.AssertClose(Reference.ToDouble(y), stemY, 1e-5, 1e-5, "a split batch's pooled values " + what);
            var shardSums = new float[sums.Length];
            ConvKernels.StemGradientSums(sums, planes, columns, dPooled.AsSpan(0, pooledRows), argmax.AsSpan(0, pooledRows), relu ? y.AsSpan(0, pooledRows) : default, x.AsSpan(0, rows), merged, 2, conv, pool);
            ConvKernels.StemGradientSums(shardSums, planes, columns, dPooled.AsSpan(pooledRows), argmax.AsSpan(pooledRows), relu ? y.AsSpan(pooledRows) : default, x.AsSpan(rows), merged, 3, conv, pool);
            Kernels.AddInto(sums, shardSums);
            Array.Fill(stemDWeight, 0.25f);
            Array.Clear(stemDGamma);
            Array.Clear(stemDBeta);
            ConvKernels.StemGradients(stemDWeight, stemDGamma, stemDBeta, sums, merged, weight, gamma, stemInv, 5L * p, conv);
            Reference.AssertClose(Reference.ToDouble(dWeight), stemDWeight, 1e-5 * scale, 0, "a split batch's d weight " + what);
            Reference.AssertClose(Reference.ToDouble(dGamma), stemDGamma, 1e-5 * dGamma.Max(Math.Abs), 0, "a split batch's d gamma " + what);
        }
    }

    // Against the definitions in double: the stem's moments, sums and algebra lose no more than the layers' sums.
    [Fact]
    public void The_stem_is_within_1e_6_of_double_precision_at_the_sample_cnns_shape()
    {
        const int n = 16, filters = 16; // the sample CNN's first block, 16 samples of pixels in [0, 1)
        var conv = new Window2D(1, 28, 28, 3, 3, 1, 1, 1, 1, 28, 28);
        var pool = new Window2D(filters, 28, 28, 2, 2, 2, 1, 0, 0, 14, 14);
        int p = conv.Positions, pooled = filters * pool.Positions, k = 9;
        float[] x = Reference.RandomFloats(n * conv.InputSize, 51).Select(v => Math.Max(0f, v)).ToArray();
        float[] weight = Reference.RandomFloats(filters * k, 52).Select(v => v * 0.3f).ToArray();
        float[] gamma = Reference.RandomFloats(filters, 54).Select(v => 1f + (0.5f * v)).ToArray(), beta = Reference.RandomFloats(filters, 55);
        float[] dPooled = Reference.RandomFloats(n * pooled, 56).Select(v => v * 1e-3f).ToArray();
        var columns = new float[k * (p + filters)];
        var z = new float[n * filters * p];
        ConvKernels.Conv2DForward(z, columns, x, weight, default, n, filters, conv);
        float[] y = new float[n * pooled], mean = new float[filters], inv = new float[filters], rm = new float[filters], rv = new float[filters];
        var argmax = new int[y.Length];
        ConvKernels.BatchNormMaxPoolTrainingForward(y, argmax, mean, inv, rm, rv, z, gamma, beta, n, 0.1f, 1e-5f, true, pool);
        var dz = new float[z.Length];
        float[] dGamma = new float[filters], dBeta = new float[filters], dW = new float[weight.Length];
        ConvKernels.BatchNormMaxPoolBackward(dz, dGamma, dBeta, dPooled, argmax, z, gamma, mean, inv, n, pool, beta);
        ConvKernels.Conv2DBackward(default, dW, default, columns, dz, x, weight, n, filters, conv);

        float[] moments = new float[ConvKernels.StemMomentsSize(conv)], planes = new float[(filters * p) + pooled], sums = new float[ConvKernels.StemSumsSize(filters, conv)];
        float[] sy = new float[y.Length], sMean = new float[filters], sInv = new float[filters], srm = new float[filters], srv = new float[filters];
        var sArg = new int[y.Length]; // the winners are the layers' (asserted in The_stem_gives_the_layers_results)
        ConvKernels.StemTrainingForward(sy, sArg, sMean, sInv, srm, srv, moments, planes, columns, x, weight, default, gamma, beta, n, 0.1f, 1e-5f, true, conv, pool);
        float[] sdW = new float[weight.Length], sdG = new float[filters], sdB = new float[filters];
        ConvKernels.StemBackward(sdW, sdG, sdB, sums, planes, columns, dPooled, argmax, y, x, moments, weight, gamma, inv, n, conv, pool);

        (double[] md, double[] invd, double[] dwd, double[] dgd, double[] dbd) = Definitions(x, weight, gamma, y, argmax, dPooled, n, filters);

        // The largest error relative to the largest value: at 64 samples the layers measured 4.0e-7 (dW), 5.6e-8 (dγ),
        // 9.6e-8 (1/σ) and the stem 2.3e-7, 1.2e-7 and 8.0e-8.
        double Err(double[] e, float[] a) => e.Select((v, i) => Math.Abs(v - a[i])).Max() / e.Max(Math.Abs);
        foreach ((string what, double[] expected, float[] layers, float[] stem) in new[] { ("mean", md, mean, sMean), ("1/std", invd, inv, sInv), ("d weight", dwd, dW, sdW), ("d gamma", dgd, dGamma, sdG), ("d beta", dbd, dBeta, sdB) })
        {
            Assert.True(Err(expected, layers) < 1e-6, $"the layers' {what}: {Err(expected, layers):G3}");
            Assert.True(Err(expected, stem) < 1e-6, $"the stem's {what}: {Err(expected, stem):G3}");
        }
    }

    // The sample CNN's first block (3x3, Same, 28x28, one channel) by its definitions in double: z = w·patch, the batch
    // mean and 1/√(σ² + ε) of each filter, and from the pooled gradient at the winners where the ReLU passed it (the
    // pooled value positive) dβ = Σ dy, dγ = Σ dy·x̂ and dW = Σ dz·patch with dz = γ·s·(dy − dβ/N − x̂·dγ/N).
    private static (double[] Mean, double[] InverseStd, double[] DWeight, double[] DGamma, double[] DBeta) Definitions(
        float[] x, float[] weight, float[] gamma, float[] pooledValues, int[] argmax, float[] dPooled, int n, int filters)
    {
        const int side = 28, p = side * side;
        int pooled = filters * (p / 4), count = n * p;
        double Patch(int s, int i, int tap)
        {
            int iy = (i / side) + (tap / 3) - 1, ix = (i % side) + (tap % 3) - 1;
            return iy < 0 || iy >= side || ix < 0 || ix >= side ? 0 : x[(s * p) + (iy * side) + ix];
        }

        var z = new double[n * filters * p];
        var dy = new double[z.Length];
        for (int s = 0; s < n; s++)
        {
            for (int f = 0; f < filters; f++)
            {
                for (int i = 0; i < p; i++)
                {
                    z[(((s * filters) + f) * p) + i] = Enumerable.Range(0, 9).Sum(t => weight[(f * 9) + t] * Patch(s, i, t));
                }
            }

            for (int o = 0; o < pooled; o++)
            {
                if (pooledValues[(s * pooled) + o] > 0)
                {
                    dy[(s * filters * p) + argmax[(s * pooled) + o]] += dPooled[(s * pooled) + o];
                }
            }
        }

        double[] mean = new double[filters], inverseStd = new double[filters], dWeight = new double[filters * 9], dGamma = new double[filters], dBeta = new double[filters];
        for (int f = 0; f < filters; f++)
        {
            int[] at = Enumerable.Range(0, count).Select(j => ((((j / p) * filters) + f) * p) + (j % p)).ToArray();
            mean[f] = at.Average(j => z[j]);
            double m = mean[f];
            inverseStd[f] = 1 / Math.Sqrt(at.Average(j => (z[j] - m) * (z[j] - m)) + 1e-5);
            double k = inverseStd[f];
            dBeta[f] = at.Sum(j => dy[j]);
            dGamma[f] = at.Sum(j => dy[j] * (z[j] - m) * k);
            for (int c = 0; c < count; c++)
            {
                int j = at[c];
                double dz = gamma[f] * k * (dy[j] - (dBeta[f] / count) - ((z[j] - m) * k * dGamma[f] / count));
                for (int t = 0; t < 9; t++)
                {
                    dWeight[(f * 9) + t] += dz * Patch(c / p, c % p, t);
                }
            }
        }

        return (mean, inverseStd, dWeight, dGamma, dBeta);
    }

    // 11x11 positions (121: vector loops with scalar tails) and a patch of 18, on 512-bit, 256-bit and scalar loops.
    [Fact]
    public void The_stem_gives_the_same_results_on_each_vector_path()
    {
        const int n = 3, filters = 5;
        var conv = new Window2D(2, 11, 11, 3, 3, 1, 1, 1, 1, 11, 11);
        var pool = new Window2D(filters, 11, 11, 2, 2, 2, 1, 0, 0, 5, 5);
        int p = conv.Positions, pooled = filters * pool.Positions;
        float[] x = Reference.RandomFloats(n * conv.InputSize, 71), weight = Reference.RandomFloats(filters * conv.PatchSize, 72);
        float[] gamma = Enumerable.Repeat(1f, filters).ToArray(), beta = Reference.RandomFloats(filters, 73), dPooled = Reference.RandomFloats(n * pooled, 74);
        var results = new List<float[]>();
        VectorPaths.ForEach(this, path =>
        {
            float[] y = new float[n * pooled], mean = new float[filters], inv = new float[filters], dWeight = new float[weight.Length], dGamma = new float[filters], dBeta = new float[filters];
            var argmax = new int[y.Length];
            float[] moments = new float[ConvKernels.StemMomentsSize(conv)], planes = new float[(filters * p) + pooled], sums = new float[ConvKernels.StemSumsSize(filters, conv)];
            var columns = new float[conv.PatchSize * (p + filters)];
            ConvKernels.StemTrainingForward(y, argmax, mean, inv, new float[filters], new float[filters], moments, planes, columns, x, weight, default, gamma, beta, n, 0.1f, 1e-5f, true, conv, pool);
            ConvKernels.StemBackward(dWeight, dGamma, dBeta, sums, planes, columns, dPooled, argmax, y, x, moments, weight, gamma, inv, n, conv, pool);
            float[] all = y.Concat(mean).Concat(inv).Concat(dWeight).Concat(dGamma).Concat(dBeta).Concat(argmax.Select(a => (float)a)).ToArray();
            if (results.Count > 0)
            {
                Reference.AssertClose(Reference.ToDouble(results[0]), all, 1e-5, 1e-5, "the stem " + path);
            }

            results.Add(all);
        });
    }

    // The network with a stem against its twin with the layers one by one: the same losses, parameters, running
    // statistics and outputs to rounding, on one thread and on a batch split in two. SGD, as Adam would turn the
    // twin's bias gradient of rounding noise (the stem's is 0) into steps of the learning rate's size.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_network_with_a_stem_trains_as_the_layers_one_by_one(int threads)
    {
        const int batch = 8;
        float[] x = Reference.RandomFloats(batch * StemCnn.InputSize, 61);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % 3).ToArray();
        var stem = new StemCnn(batch, seed: 3) { Threads = threads, MinSamplesPerThread = 1 };
        var twin = new UnstemmedCnn(batch, seed: 3) { Threads = threads, MinSamplesPerThread = 1 };
        Assert.Equal(twin.Parameters.ToArray(), stem.Parameters.ToArray());
        Sgd sgdStem = new(0.1f, momentum: 0.9f), sgdTwin = new(0.1f, momentum: 0.9f);
        for (int step = 0; step < 4; step++)
        {
            float expected = twin.TrainStep(x, labels, sgdTwin);
            Assert.Equal(expected, stem.TrainStep(x, labels, sgdStem), 1e-5 * Math.Abs(expected));
        }

        Reference.AssertClose(Reference.ToDouble(twin.Parameters), stem.Parameters, 1e-5, 1e-4, "parameters");
        Reference.AssertClose(Reference.ToDouble(twin.State), stem.State, 1e-5, 1e-4, "running statistics");
        var outputs = new float[batch * StemCnn.OutputSize];
        var twinOutputs = new float[outputs.Length];
        stem.Forward(x, outputs);
        twin.Forward(x, twinOutputs);
        Reference.AssertClose(Reference.ToDouble(twinOutputs), outputs, 1e-5, 1e-4, "outputs");
    }

    [Fact]
    public void The_stem_refuses_large_patches_other_pools_and_short_spans()
    {
        var conv = new Window2D(4, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6); // a patch of 36
        var error = Assert.Throws<ArgumentException>(() => ConvKernels.StemMoments(new float[36 * 37], new float[36 * 36], new float[4 * 36], 1, conv));
        Assert.Equal("conv", error.ParamName);
        conv = new Window2D(1, 6, 6, 3, 3, 1, 1, 1, 1, 6, 6);
        var pool = new Window2D(2, 6, 6, 3, 3, 3, 1, 0, 0, 2, 2);
        var planes = new float[(2 * 36) + 18];
        error = Assert.Throws<ArgumentException>(() => ConvKernels.StemNormalizeMaxPool(new float[8], new int[8], new float[80], new float[9 * 38], new float[36], new float[18], default, new float[2], new float[2], new float[2], new float[2], 1, true, conv, pool));
        Assert.Equal("pool", error.ParamName);
        pool = new Window2D(2, 6, 6, 2, 2, 2, 1, 0, 0, 3, 3);
        error = Assert.Throws<ArgumentException>(() => ConvKernels.StemMoments(new float[90], new float[9 * 36], new float[35], 1, conv));
        Assert.Equal("input", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => ConvKernels.StemGradientSums(new float[19], planes, new float[9 * 36], new float[18], new int[18], default, new float[36], new float[90], 1, conv, pool));
        Assert.Equal("sums", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => ConvKernels.StemNormalizeMaxPool(new float[18], new int[18], planes, new float[9 * 38], new float[36], new float[17], default, new float[2], new float[2], new float[2], new float[2], 1, true, conv, pool));
        Assert.Equal("weight", error.ParamName);

        // One value per channel has no variance: refused before the batch statistics are written.
        float[] mean = { 7f, 7f };
        error = Assert.Throws<ArgumentException>(() => ConvKernels.StemStatistics(mean, new float[2], new float[2], new float[2], new float[90], new float[18], default, 1, 0.1f, 1e-5f, 2, conv));
        Assert.Equal("count", error.ParamName);
        Assert.Equal(new[] { 7f, 7f }, mean);
        error = Assert.Throws<ArgumentException>(() => ConvKernels.StemStatistics(mean, new float[2], new float[1], new float[2], new float[90], new float[18], default, 36, 0.1f, 1e-5f, 2, conv));
        Assert.Equal("runningMean", error.ParamName);
    }
}
