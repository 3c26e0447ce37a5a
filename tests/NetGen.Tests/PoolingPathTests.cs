namespace NetGen.Tests;

/// <summary>
/// 2x2 max pooling (and BatchNorm's fused pooling) on each vector path, forced in turn through MatMul's
/// process-wide switches: in MatMul's collection, which runs alone (in ConvTests, beside the other tests,
/// it switched their paths too).
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class PoolingPathTests
{
    [Theory]
    [InlineData(3, 28, 28)] // the sample CNN's first pool: one row of 14 outputs a 512-bit block
    [InlineData(2, 32, 32)] // rows of 16: no spill, every row in blocks
    [InlineData(2, 29, 31)] // rows of 15 from an odd width, an odd height
    [InlineData(2, 18, 16)] // rows of 8 from 16: two rows a block, no spill
    [InlineData(3, 14, 14)] // the sample CNN's second pool: two rows of 7 a block
    [InlineData(2, 15, 9)] // rows of 4 from an odd width, an odd number of rows
    [InlineData(2, 10, 10)] // two rows of 5
    [InlineData(2, 33, 33)] // rows of 16 from 33: the 256-bit code only
    public void Max_pooling_2x2_picks_the_first_largest_tap_on_every_path_forward_and_back(int c, int h, int w)
    {
        const int n = 3;
        Window2D g = ConvTests.Geometry(c, h, w, 2, 2, 1, 0);
        // Few distinct values: ties everywhere, which the first tap in row order must win.
        float[] x = Enumerable.Range(0, n * g.InputSize).Select(i => ((i * 7919) % 5) - 2f).ToArray();
        float[] dy = Reference.RandomFloats(n * c * g.Positions, 6);
        float[] gamma = Reference.RandomFloats(c, 7), beta = Reference.RandomFloats(c, 8), mean = Reference.RandomFloats(c, 9), inv = Enumerable.Repeat(1.5f, c).ToArray();
        foreach (bool normalised in new[] { false, true })
        {
            // The definition: taps top-left, top-right, bottom-left, bottom-right; a later one wins only when greater.
            float Tap(int i) => normalised ? Math.Max(MathF.FusedMultiplyAdd(x[i] - mean[i / (h * w) % c], gamma[i / (h * w) % c] * inv[i / (h * w) % c], beta[i / (h * w) % c]), 0f) : x[i];
            var expected = new float[dy.Length];
            var expectedArgmax = new int[dy.Length];
            var expectedDx = new float[x.Length];
            for (int plane = 0, o = 0; plane < n * c; plane++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++, o++)
                    {
                        int first = (plane * h * w) + (2 * oy * w) + (2 * ox), best = first;
                        foreach (int tap in new[] { first + 1, first + w, first + w + 1 })
                        {
                            best = Tap(tap) > Tap(best) ? tap : best;
                        }

                        expected[o] = Tap(best);
                        expectedArgmax[o] = best - (plane / c * g.InputSize);
                        expectedDx[best] = dy[o];
                    }
                }
            }

            VectorPaths.ForEach(this, path =>
            {
                // Each output with 32 values after it that nothing may write.
                var yAndAfter = Enumerable.Repeat(9f, dy.Length + 32).ToArray();
                var argmaxAndAfter = Enumerable.Repeat(-9, dy.Length + 32).ToArray();
                var dxAndAfter = Enumerable.Repeat(9f, x.Length + 32).ToArray();
                Span<float> y = yAndAfter.AsSpan(0, dy.Length), dx = dxAndAfter.AsSpan(0, x.Length);
                Span<int> argmax = argmaxAndAfter.AsSpan(0, dy.Length);
                string what = $"{c}x{h}x{w}, normalised {normalised} {path}";
                if (normalised)
                {
                    ConvKernels.BatchNormMaxPool(y, argmax, x, mean, inv, gamma, beta, n, relu: true, g);
                }
                else
                {
                    ConvKernels.MaxPoolForward(y, argmax, x, n, g);
                    ConvKernels.MaxPoolBackward(dx, dy, argmax, n, g);
                    Assert.True(dx.SequenceEqual(expectedDx), "d input " + what);
                }

                Assert.True(y.SequenceEqual(expected), "pooled values " + what);
                Assert.True(argmax.SequenceEqual(expectedArgmax), "winners " + what);
                Assert.True(yAndAfter.Skip(dy.Length).All(v => v == 9f) && argmaxAndAfter.Skip(dy.Length).All(v => v == -9), "after the outputs " + what);
                Assert.True(dxAndAfter.Skip(x.Length).All(v => v == 9f), "after the input gradient " + what);
            });
        }
    }
}
