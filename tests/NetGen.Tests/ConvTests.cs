namespace NetGen.Tests;

/// <summary>Convolution and pooling: kernels against direct double-precision references and finite differences; whole CNNs.</summary>
public class ConvTests
{
    /// <summary>Direct convolution in double: six nested loops, the definition.</summary>
    internal static double[] Conv(double[] x, double[] w, double[]? b, int n, Window2D g, int filters)
    {
        var y = new double[n * filters * g.Positions];
        for (int s = 0; s < n; s++)
        {
            for (int f = 0; f < filters; f++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        double sum = b?[f] ?? 0;
                        for (int c = 0; c < g.Channels; c++)
                        {
                            for (int i = 0; i < g.KernelHeight; i++)
                            {
                                for (int j = 0; j < g.KernelWidth; j++)
                                {
                                    int yy = (oy * g.Stride) - g.PadTop + (i * g.Dilation);
                                    int xx = (ox * g.Stride) - g.PadLeft + (j * g.Dilation);
                                    if (yy >= 0 && yy < g.Height && xx >= 0 && xx < g.Width)
                                    {
                                        sum += x[(s * g.InputSize) + (((c * g.Height) + yy) * g.Width) + xx] * w[(((((f * g.Channels) + c) * g.KernelHeight) + i) * g.KernelWidth) + j];
                                    }
                                }
                            }
                        }

                        y[(((((s * filters) + f) * g.OutHeight) + oy) * g.OutWidth) + ox] = sum;
                    }
                }
            }
        }

        return y;
    }

    /// <summary>Max or average pooling in double (average divides by the full window, padding included).</summary>
    internal static double[] Pool(double[] x, int n, Window2D g, bool max)
    {
        var y = new double[n * g.Channels * g.Positions];
        for (int s = 0; s < n; s++)
        {
            for (int c = 0; c < g.Channels; c++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        double acc = max ? double.NegativeInfinity : 0;
                        for (int i = 0; i < g.KernelHeight; i++)
                        {
                            for (int j = 0; j < g.KernelWidth; j++)
                            {
                                int yy = (oy * g.Stride) - g.PadTop + (i * g.Dilation);
                                int xx = (ox * g.Stride) - g.PadLeft + (j * g.Dilation);
                                if (yy >= 0 && yy < g.Height && xx >= 0 && xx < g.Width)
                                {
                                    double v = x[(s * g.InputSize) + (((c * g.Height) + yy) * g.Width) + xx];
                                    acc = max ? Math.Max(acc, v) : acc + v;
                                }
                            }
                        }

                        y[(((((s * g.Channels) + c) * g.OutHeight) + oy) * g.OutWidth) + ox] = max ? acc : acc / (g.KernelHeight * g.KernelWidth);
                    }
                }
            }
        }

        return y;
    }

    public static TheoryData<string, int, int, int, int, int, int, int> Geometries => new()
    {
        // name, C, H, W, kernel, stride, dilation, padding (-1: Same, computed here)
        { "3x3 valid", 2, 7, 6, 3, 1, 1, 0 },
        { "3x3 same", 3, 5, 5, 3, 1, 1, 1 },
        { "3x3 same, dilation 2 (rows shifted by 2)", 2, 6, 7, 3, 1, 2, 2 },
        { "5x5 same, wider than high", 1, 4, 9, 5, 1, 1, 2 },
        { "stride 2 padded", 2, 7, 7, 3, 2, 1, 1 },
        { "dilation 2", 1, 8, 7, 3, 1, 2, 0 },
        { "2x2 stride 2 dilation 2 padded", 3, 6, 6, 2, 2, 2, 1 },
        { "1x1", 4, 3, 3, 1, 1, 1, 0 },
        { "2x2 stride 2, wide rows", 2, 5, 37, 2, 2, 1, 0 },
        { "2x2 stride 2, rows of 7 (4-wide blocks, overlapping)", 2, 6, 14, 2, 2, 1, 0 },
        { "2x2 stride 2, rows of 5 from an odd width", 1, 5, 11, 2, 2, 1, 0 },
        { "2x2 stride 2, rows of 4", 2, 4, 8, 2, 2, 1, 0 },
        { "2x2 stride 2, rows of 8 from an odd width, odd height", 2, 7, 17, 2, 2, 1, 0 },
        { "3x3 same, 12x12 (144 positions: sample by sample, whatever the scratch)", 2, 12, 12, 3, 1, 1, 1 },
        { "3x3 same, 13x13 (169 positions, the last a scalar column: batched where the scratch allows)", 1, 13, 13, 3, 1, 1, 1 },
    };

    internal static Window2D Geometry(int c, int h, int w, int k, int stride, int dilation, int pad)
    {
        int span = (dilation * (k - 1)) + 1;
        return new Window2D(c, h, w, k, k, stride, dilation, pad, pad, ((h + (2 * pad) - span) / stride) + 1, ((w + (2 * pad) - span) / stride) + 1);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2D_matches_the_direct_convolution_and_finite_differences(string name, int c, int h, int w, int k, int stride, int dilation, int pad)
    {
        const int n = 3, filters = 3;
        Window2D g = Geometry(c, h, w, k, stride, dilation, pad);
        float[] x = Reference.RandomFloats(n * g.InputSize, 1);
        float[] weight = Reference.RandomFloats(filters * g.PatchSize, 2);
        float[] bias = Reference.RandomFloats(filters, 3);
        float[] dy = Reference.RandomFloats(n * filters * g.Positions, 4);
        double[] xd = Reference.ToDouble(x), wd = Reference.ToDouble(weight), bd = Reference.ToDouble(bias);
        double Loss() => Conv(xd, wd, bd, n, g, filters).Select((v, i) => v * dy[i]).Sum();
        double[] dxExpected = xd.Select((_, i) => Reference.CentralDifference(Loss, xd, i)).ToArray();
        double[] dwExpected = wd.Select((_, i) => Reference.CentralDifference(Loss, wd, i)).ToArray();
        double[] dbExpected = bd.Select((_, i) => Reference.CentralDifference(Loss, bd, i)).ToArray();

        // Sample by sample (scratch for one patch matrix; with the weight gradient transposed after it), and
        // two samples per product (the third alone) below 128 positions or where a sample's columns do not end in
        // whole groups of 4.
        foreach (long scratch in new[] { (long)g.PatchSize * g.Positions, (long)g.PatchSize * (g.Positions + filters), ConvKernels.BatchedColumns(g, filters, 2) })
        {
            string path = $"{name}, scratch {scratch}";
            var columns = new float[scratch];
            var y = new float[dy.Length];
            ConvKernels.Conv2DForward(y, columns, x, weight, bias, n, filters, g);
            Reference.AssertClose(Conv(xd, wd, bd, n, g, filters), y, 1e-5, 1e-5, $"{path}: y");

            var dx = Enumerable.Repeat(9f, x.Length).ToArray();
            var dw = Enumerable.Repeat(0.5f, weight.Length).ToArray(); // accumulated into
            var db = Enumerable.Repeat(0.5f, filters).ToArray();
            ConvKernels.Conv2DBackward(dx, dw, db, columns, dy, x, weight, n, filters, g);
            Reference.AssertClose(dxExpected, dx, 1e-5, 1e-4, $"{path}: dX");
            Reference.AssertClose(dwExpected.Select(v => v + 0.5).ToArray(), dw, 1e-5, 1e-4, $"{path}: dW");
            Reference.AssertClose(dbExpected.Select(v => v + 0.5).ToArray(), db, 1e-5, 1e-4, $"{path}: dB");
        }
    }

    [Fact]
    public void Convolutions_refuse_short_spans_naming_them_before_writing_anything()
    {
        const int n = 2, filters = 8;
        Window2D g = Geometry(8, 12, 12, 3, 1, 1, 1); // stride 1, 8 filters and channels: the padded-input products
        float[] x = Reference.RandomFloats(n * g.InputSize, 1), weight = Reference.RandomFloats(filters * g.PatchSize, 2);
        float[] bias = Reference.RandomFloats(filters, 3), dy = Reference.RandomFloats(n * filters * g.Positions, 4);
        var columns = new float[(long)g.PatchSize * (g.Positions + filters)];
        float[] y = Enumerable.Repeat(7f, n * filters * g.Positions).ToArray(), dx = Enumerable.Repeat(7f, x.Length).ToArray();
        float[] dw = Enumerable.Repeat(7f, weight.Length).ToArray(), db = Enumerable.Repeat(7f, filters).ToArray();
        void Refused(string name, Action call) => Assert.Equal(name, Assert.Throws<ArgumentException>(call).ParamName);
        Refused("output", () => ConvKernels.Conv2DForward(y.AsSpan(1), columns, x, weight, bias, n, filters, g));
        Refused("input", () => ConvKernels.Conv2DForward(y, columns, x.AsSpan(1), weight, bias, n, filters, g));
        Refused("weight", () => ConvKernels.Conv2DForward(y, columns, x, weight.AsSpan(1), bias, n, filters, g));
        Refused("bias", () => ConvKernels.Conv2DForward(y, columns, x, weight, bias.AsSpan(1), n, filters, g));
        Refused("dOutput", () => ConvKernels.Conv2DBackward(dx, dw, db, columns, dy.AsSpan(1), x, weight, n, filters, g));
        Refused("input", () => ConvKernels.Conv2DBackward(dx, dw, db, columns, dy, x.AsSpan(1), weight, n, filters, g));
        Refused("weight", () => ConvKernels.Conv2DBackward(dx, dw, db, columns, dy, x, weight.AsSpan(1), n, filters, g));
        Refused("dWeight", () => ConvKernels.Conv2DBackward(dx, dw.AsSpan(1), db, columns, dy, x, weight, n, filters, g));
        Refused("dBias", () => ConvKernels.Conv2DBackward(dx, dw, db.AsSpan(1), columns, dy, x, weight, n, filters, g));
        Refused("dInput", () => ConvKernels.Conv2DBackward(dx.AsSpan(1), dw, db, columns, dy, x, weight, n, filters, g));
        Assert.All(y.Concat(dx).Concat(dw).Concat(db), v => Assert.Equal(7f, v));
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Pooling_matches_the_reference_and_finite_differences(string name, int c, int h, int w, int k, int stride, int dilation, int pad)
    {
        const int n = 2;
        Window2D g = Geometry(c, h, w, k, stride, dilation, Math.Min(pad, k / 2));
        // Distinct values, so that the maximum is unique and differentiable.
        float[] x = Enumerable.Range(0, n * g.InputSize).Select(i => ((i * 7919) % 1009) / 100f).ToArray();
        float[] dy = Reference.RandomFloats(n * c * g.Positions, 5);
        double[] xd = Reference.ToDouble(x);
        foreach (bool max in new[] { true, false })
        {
            var y = new float[dy.Length];
            var argmax = new int[dy.Length];
            var dx = Enumerable.Repeat(9f, x.Length).ToArray(); // overwritten: every value, in windows or not
            if (max)
            {
                ConvKernels.MaxPoolForward(y, argmax, x, n, g);
                ConvKernels.MaxPoolBackward(dx, dy, argmax, n, g);
            }
            else
            {
                ConvKernels.AvgPoolForward(y, x, n, g);
                ConvKernels.AvgPoolBackward(dx, dy, n, g);
            }

            Reference.AssertClose(Pool(xd, n, g, max), y, 1e-6, 1e-6, $"{name} {(max ? "max" : "avg")}: y");
            double Loss() => Pool(xd, n, g, max).Select((v, i) => v * dy[i]).Sum();
            Reference.AssertClose(xd.Select((_, i) => Reference.CentralDifference(Loss, xd, i, h: 1e-4)).ToArray(), dx, 1e-5, 1e-4, $"{name} {(max ? "max" : "avg")}: dX");
        }
    }

    [Fact]
    public void Global_average_pool_and_batchnorm_over_channels_match_the_reference()
    {
        const int n = 3, c = 2, spatial = 5;
        float[] x = Reference.RandomFloats(n * c * spatial, 1, scale: 2f);
        var y = new float[n * c];
        ConvKernels.GlobalAveragePoolForward(y, x, n, c, spatial);
        for (int i = 0; i < n * c; i++)
        {
            Assert.Equal(x.Skip(i * spatial).Take(spatial).Average(), y[i], 6);
        }

        // BatchNorm2d: statistics per channel over batch and positions.
        float[] gamma = { 1.5f, -0.5f }, beta = { 0.1f, 0.2f };
        float[] dy = Reference.RandomFloats(x.Length, 2);
        var z = new float[x.Length];
        float[] mean = new float[c], inv = new float[c], rm = new float[c], rv = { 1f, 1f };
        Kernels.BatchNormTrainingForward(z, mean, inv, rm, rv, x, gamma, beta, n, c, spatial, 0.1f, 1e-5f);
        double[] xd = Reference.ToDouble(x);
        double[] Bn2d() => Reference.BatchNormTraining(xd, new double[] { 1.5, -0.5 }, new double[] { 0.1, 0.2 }, c, 1e-5, spatial);
        Reference.AssertClose(Bn2d(), z, 1e-5, 1e-5, "bn2d y");
        var dx = new float[x.Length];
        var dg = new float[c];
        var dbeta = new float[c];
        Kernels.BatchNormBackward(dx, dg, dbeta, dy, x, gamma, mean, inv, n, c, spatial);
        double Loss() => Bn2d().Select((v, i) => v * dy[i]).Sum();
        Reference.AssertClose(xd.Select((_, i) => Reference.CentralDifference(Loss, xd, i)).ToArray(), dx, 1e-4, 1e-3, "bn2d dX");
    }

    [Theory]
    [InlineData(16, 28, 28)] // the sample CNN's first pool: 8-wide blocks
    [InlineData(3, 14, 14)] // rows of 7: 4-wide blocks, the last overlapping
    [InlineData(2, 11, 17)] // rows of 8 from an odd width, an odd height
    [InlineData(2, 6, 6)] // rows of 3: scalar
    public void Batch_normalisation_pooled_in_one_pass_each_way_gives_the_two_kernels_results_bit_for_bit(int c, int h, int w)
    {
        const int n = 5;
        Window2D g = Geometry(c, h, w, 2, 2, 1, 0);
        int spatial = h * w;
        float[] x = Reference.RandomFloats(n * g.InputSize, 31, scale: 3f);
        float[] gamma = Reference.RandomFloats(c, 32), beta = Reference.RandomFloats(c, 33);
        foreach (bool relu in new[] { true, false })
        {
            // The two kernels in turn: normalised tensor written, then pooled.
            float[] mean = new float[c], inv = new float[c], runningMean = Reference.RandomFloats(c, 34), runningVariance = Enumerable.Repeat(1f, c).ToArray();
            var normalised = new float[x.Length];
            var y = new float[n * c * g.Positions];
            var argmax = new int[y.Length];
            Kernels.BatchNormTrainingForward(normalised, mean, inv, runningMean, runningVariance, x, gamma, beta, n, c, spatial, 0.1f, 1e-5f, relu);
            ConvKernels.MaxPoolForward(y, argmax, normalised, n, g);

            // In one pass, training (statistics too) and with given statistics.
            float[] fusedMean = new float[c], fusedInv = new float[c], fusedRunningMean = Reference.RandomFloats(c, 34), fusedRunningVariance = Enumerable.Repeat(1f, c).ToArray();
            var fused = new float[y.Length];
            var fusedArgmax = Enumerable.Repeat(-1, y.Length).ToArray();
            ConvKernels.BatchNormMaxPoolTrainingForward(fused, fusedArgmax, fusedMean, fusedInv, fusedRunningMean, fusedRunningVariance, x, gamma, beta, n, 0.1f, 1e-5f, relu, g);
            string what = $"{c}x{h}x{w}, relu {relu}";
            Assert.True(y.AsSpan().SequenceEqual(fused), "pooled values " + what);
            Assert.True(argmax.AsSpan().SequenceEqual(fusedArgmax), "winners " + what);
            Assert.True(mean.AsSpan().SequenceEqual(fusedMean) && inv.AsSpan().SequenceEqual(fusedInv), "batch statistics " + what);
            Assert.True(runningMean.AsSpan().SequenceEqual(fusedRunningMean) && runningVariance.AsSpan().SequenceEqual(fusedRunningVariance), "running statistics " + what);

            var given = new float[y.Length];
            var givenArgmax = new int[y.Length];
            ConvKernels.BatchNormMaxPool(given, givenArgmax, x, mean, inv, gamma, beta, n, relu, g);
            Assert.True(y.AsSpan().SequenceEqual(given) && argmax.AsSpan().SequenceEqual(givenArgmax), "with given statistics " + what);

            // Backward: the pooling's gradient written out, then batch normalisation's; against both from the pooled gradient.
            float[] dPooled = Reference.RandomFloats(y.Length, 35);
            float[] reluBeta = relu ? beta : Array.Empty<float>();
            var dNormalised = new float[x.Length];
            ConvKernels.MaxPoolBackward(dNormalised, dPooled, argmax, n, g);
            var dx = new float[x.Length];
            float[] dGamma = new float[c], dBeta = new float[c];
            Kernels.BatchNormBackward(dx, dGamma, dBeta, dNormalised, x, gamma, mean, inv, n, c, spatial, reluBeta);
            var fusedDx = new float[x.Length];
            float[] fusedDGamma = new float[c], fusedDBeta = new float[c];
            ConvKernels.BatchNormMaxPoolBackward(fusedDx, fusedDGamma, fusedDBeta, dPooled, argmax, x, gamma, mean, inv, n, g, reluBeta);
            Assert.True(dx.AsSpan().SequenceEqual(fusedDx), "d input " + what);
            Assert.True(dGamma.AsSpan().SequenceEqual(fusedDGamma) && dBeta.AsSpan().SequenceEqual(fusedDBeta), "d gamma, d beta " + what);

            // A split batch's shard: the two sums, then the input gradient with them.
            float[] sumDy = new float[c], sumDyXhat = new float[c], fusedSumDy = new float[c], fusedSumDyXhat = new float[c];
            Kernels.BatchNormShardGradientSums(sumDy, sumDyXhat, dNormalised, x, mean, inv, n, c, spatial, relu ? gamma : default, reluBeta);
            ConvKernels.BatchNormMaxPoolShardGradientSums(fusedSumDy, fusedSumDyXhat, dPooled, argmax, x, mean, inv, n, g, relu ? gamma : default, reluBeta);
            Assert.True(sumDy.AsSpan().SequenceEqual(fusedSumDy) && sumDyXhat.AsSpan().SequenceEqual(fusedSumDyXhat), "a shard's sums " + what);
            Kernels.BatchNormShardInputGradient(dx, dNormalised, x, gamma, mean, inv, sumDy, sumDyXhat, 2L * n * spatial, n, c, spatial, reluBeta);
            ConvKernels.BatchNormMaxPoolShardInputGradient(fusedDx, dPooled, argmax, x, gamma, mean, inv, sumDy, sumDyXhat, 2L * n * spatial, n, g, reluBeta);
            Assert.True(dx.AsSpan().SequenceEqual(fusedDx), "a shard's d input " + what);
        }
    }

    [Fact]
    public void Batch_normalisation_pooled_in_one_pass_refuses_other_windows_and_short_spans()
    {
        float[] x = new float[2 * 4 * 4], y = new float[2 * 2 * 2], stats = new float[1];
        int[] argmax = new int[y.Length];
        var error = Assert.Throws<ArgumentException>(() => ConvKernels.BatchNormMaxPool(y, argmax, x, stats, stats, stats, stats, 2, true, Geometry(1, 4, 4, 3, 1, 1, 1)));
        Assert.Equal("g", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => ConvKernels.BatchNormMaxPool(y, new int[3], x, stats, stats, stats, stats, 2, true, Geometry(1, 4, 4, 2, 2, 1, 0)));
        Assert.Equal("argmax", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => ConvKernels.BatchNormMaxPoolTrainingForward(y, argmax, stats, stats, stats, stats, x, new float[2], stats, 2, 0.1f, 1e-5f, true, Geometry(1, 4, 4, 2, 2, 1, 0)));
        Assert.Equal("gamma", error.ParamName);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_network_pooling_in_its_batch_normalisation_trains_to_the_bits_of_the_two_layers(int threads)
    {
        const int batch = 8;
        float[] x = Reference.RandomFloats(batch * FusedPoolCnn.InputSize, 41);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % 3).ToArray();
        var fused = new FusedPoolCnn(batch, seed: 3) { Threads = threads, MinSamplesPerThread = 1 };
        var twin = new UnfusedPoolCnn(batch, seed: 3) { Threads = threads, MinSamplesPerThread = 1 };
        Assert.Equal(twin.Parameters.ToArray(), fused.Parameters.ToArray());
        Adam adamFused = new(0.01f), adamTwin = new(0.01f);
        for (int step = 0; step < 3; step++)
        {
            Assert.Equal(twin.TrainStep(x, labels, adamTwin), fused.TrainStep(x, labels, adamFused)); // exact: bitwise equal floats
        }

        Assert.Equal(twin.Parameters.ToArray(), fused.Parameters.ToArray());
        Assert.Equal(twin.State.ToArray(), fused.State.ToArray()); // the running statistics
        var outputs = new float[batch * FusedPoolCnn.OutputSize];
        var twinOutputs = new float[outputs.Length];
        fused.Forward(x, outputs);
        twin.Forward(x, twinOutputs);
        Assert.Equal(twinOutputs, outputs);
    }
}
