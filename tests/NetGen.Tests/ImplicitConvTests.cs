namespace NetGen.Tests;

/// <summary>
/// Stride-1 convolutions read the zero-padded input through a table of offsets instead of unfolding it
/// (ConvKernels.Implicit.cs), with 512-bit tiles: the forward sample by sample at any size (8 filters at a
/// time, a patch as long as the filters are many), the input gradient sample by sample (8 input channels at a
/// time, flipped weights within 32 KB), also where the weight gradient takes several samples per product, and the
/// weight gradient from the padded input (taps of 8, filters of 32) where there is no input gradient or it is on the
/// padded dY. Against the direct double-precision definitions, and against im2col on the same data (the forward's
/// bits are the same where im2col's product ends in vector tiles). In MatMul's collection: the switch is
/// process-wide.
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class ImplicitConvTests
{
    public static TheoryData<string, int, int, int, int, int, int, int> Geometries => new()
    {
        // name, C, H, W, kernel, dilation, padding, filters
        { "3x3 same, 12x12, 8 -> 8 (rows of 14 in the padded plane)", 8, 12, 12, 3, 1, 1, 8 },
        { "3x3 same, 14x14, 16 -> 32 (the sample CNN's second convolution)", 16, 14, 14, 3, 1, 1, 32 },
        { "3x3 same, dilation 2, 12x12, 8 -> 16", 8, 12, 12, 3, 2, 2, 16 },
        { "5x5 valid, 16x16 -> 12x12, 8 -> 8", 8, 16, 16, 5, 1, 0, 8 },
        { "3x3 same, 8x20 (wider than high), 16 -> 8", 16, 8, 20, 3, 1, 1, 8 },
        { "1x1, 12x12, 8 -> 8", 8, 12, 12, 1, 1, 0, 8 },
        { "3x3 padded by 3, beyond the kernel's reach (the input gradient unfolds), 8 -> 8", 8, 10, 10, 3, 1, 3, 8 },
        { "3x3 same, 12x12, 1 -> 16 (a patch of 9 for 16 filters, one input channel: both through im2col)", 1, 12, 12, 3, 1, 1, 16 },
        { "3x3 same, 12x12, 1 -> 8 (a patch of 9 for 8 filters: the forward on the padded input)", 1, 12, 12, 3, 1, 1, 8 },
        { "3x3 same, 7x7, 8 -> 16 (49 positions: the forward on the padded input, the backward batched or not)", 8, 7, 7, 3, 1, 1, 16 },
        { "3x3 same, 13x13, 8 -> 8 (169 positions, not whole groups of 4)", 8, 13, 13, 3, 1, 1, 8 },
        { "3x3 same, 12x12, 16 -> 64 (36 KB of flipped weights: the input gradient unfolds)", 16, 12, 12, 3, 1, 1, 64 },
        { "3x3 same, 10x10, 8 -> 64 (the weight gradient on the padded input, two strips of 32 filters)", 8, 10, 10, 3, 1, 1, 64 },
        { "5x5 valid, 16x16 -> 12x12, 8 -> 32 (the weight gradient on the padded input, a patch of 200)", 8, 16, 16, 5, 1, 0, 32 },
        { "3x3 same, dilation 2, 9x11, 8 -> 32 (the weight gradient on the padded input)", 8, 9, 11, 3, 2, 2, 32 },
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Match_the_definitions_and_im2col(string name, int c, int h, int w, int k, int dilation, int pad, int filters)
    {
        const int n = 3;
        int span = (dilation * (k - 1)) + 1;
        var g = new Window2D(c, h, w, k, k, 1, dilation, pad, pad, h + (2 * pad) - span + 1, w + (2 * pad) - span + 1);
        float[] x = Reference.RandomFloats(n * g.InputSize, 1), weight = Reference.RandomFloats(filters * g.PatchSize, 2);
        float[] bias = Reference.RandomFloats(filters, 3), dy = Reference.RandomFloats(n * filters * g.Positions, 4);
        (double[] y, double[] dx, double[] dw, double[] db) = Definitions(x, weight, bias, dy, n, g, filters);

        // The scratch the generator gives a convolution sample by sample, and room for two samples per product
        // (taken by the backward below 128 positions or where they do not come in whole groups of 4).
        var results = new List<(float[] Y, float[] Dx, float[] Dw, float[] Db)>();
        foreach ((bool padded, long scratch) in new[] { (true, (long)g.PatchSize * (g.Positions + filters)), (false, (long)g.PatchSize * (g.Positions + filters)), (true, ConvKernels.BatchedColumns(g, filters, 2)) })
        {
            ConvKernels.ImplicitProducts = padded;
            try
            {
                var columns = new float[scratch];
                var yf = new float[dy.Length];
                ConvKernels.Conv2DForward(yf, columns, x, weight, bias, n, filters, g);
                var dxf = Enumerable.Repeat(9f, x.Length).ToArray(); // overwritten
                var dwf = Enumerable.Repeat(0.5f, weight.Length).ToArray(); // accumulated into
                var dbf = Enumerable.Repeat(0.5f, filters).ToArray();
                ConvKernels.Conv2DBackward(dxf, dwf, dbf, columns, dy, x, weight, n, filters, g);

                // A first layer's backward (no input gradient) gives the same weight gradient, bit for bit.
                var dwFirst = Enumerable.Repeat(0.5f, weight.Length).ToArray();
                ConvKernels.Conv2DBackward(default, dwFirst, default, columns, dy, x, weight, n, filters, g);
                Assert.Equal(dwf, dwFirst);
                string path = $"{name}, {(padded ? "padded input" : "im2col")}, scratch {scratch}";
                Reference.AssertClose(y, yf, 1e-5, 1e-5, path + ": y");
                Reference.AssertClose(dx, dxf, 1e-5, 1e-5, path + ": dX");
                Reference.AssertClose(dw.Select(v => v + 0.5).ToArray(), dwf, 1e-5, 1e-5, path + ": dW");
                Reference.AssertClose(db.Select(v => v + 0.5).ToArray(), dbf, 1e-5, 1e-5, path + ": dB");
                results.Add((yf, dxf, dwf, dbf));
            }
            finally
            {
                ConvKernels.ImplicitProducts = true;
            }
        }

        // The same fused chains of multiply-adds over the patch, in order, then the bias: the forward's bits, where
        // im2col's product ends in vector tiles (its last 1 to 3 columns otherwise are unfused scalar sums).
        if (g.Positions % 4 == 0)
        {
            Assert.Equal(results[1].Y, results[0].Y);
        }

        Assert.Equal(results[0].Y, results[2].Y);
        Assert.Equal(results[1].Dw, results[0].Dw);
    }

    // y = W ⋆ x + b, and for the loss Σ y·dY: dX, dW and dB, in double, straight from the definition.
    private static (double[] Y, double[] Dx, double[] Dw, double[] Db) Definitions(float[] x, float[] weight, float[] bias, float[] dy, int n, Window2D g, int filters)
    {
        double[] y = ConvTests.Conv(Reference.ToDouble(x), Reference.ToDouble(weight), Reference.ToDouble(bias), n, g, filters);
        var dx = new double[x.Length];
        var dw = new double[weight.Length];
        var db = new double[filters];
        for (int s = 0; s < n; s++)
        {
            for (int f = 0; f < filters; f++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        double d = dy[(((s * filters) + f) * g.Positions) + (oy * g.OutWidth) + ox];
                        db[f] += d;
                        for (int c = 0; c < g.Channels; c++)
                        {
                            for (int i = 0; i < g.KernelHeight; i++)
                            {
                                for (int j = 0; j < g.KernelWidth; j++)
                                {
                                    int yy = oy - g.PadTop + (i * g.Dilation), xx = ox - g.PadLeft + (j * g.Dilation);
                                    if (yy >= 0 && yy < g.Height && xx >= 0 && xx < g.Width)
                                    {
                                        int xi = (s * g.InputSize) + (((c * g.Height) + yy) * g.Width) + xx;
                                        int wi = (((((f * g.Channels) + c) * g.KernelHeight) + i) * g.KernelWidth) + j;
                                        dx[xi] += weight[wi] * d;
                                        dw[wi] += x[xi] * d;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        return (y, dx, dw, db);
    }
}
