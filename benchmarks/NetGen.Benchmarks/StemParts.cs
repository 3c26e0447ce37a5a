using System.Globalization;
using NetGen;

namespace NetGen.Benchmarks;

/// <summary>
/// The sample CNN's stem (its first convolution, BatchNorm, ReLU and pooling over 64 samples) by parts, each
/// timed alone (medians): the stem's kernels, the layers one by one that it replaces, and pieces of the stem; with
/// <c>loop</c>, the stem's kernels over and over for a profiler.
/// </summary>
public static class StemParts
{
    public static void Run(bool loop = false)
    {
        const int batch = 64, f = 16;
        var conv = new Window2D(1, 28, 28, 3, 3, 1, 1, 1, 1, 28, 28);
        var pool = new Window2D(f, 28, 28, 2, 2, 2, 1, 0, 0, 14, 14);
        int k = conv.PatchSize, p = conv.Positions, pooled = f * pool.Positions;
        var random = new SeededRandom(1);
        float[] x = Enumerable.Range(0, batch * conv.InputSize).Select(_ => random.NextSingle()).ToArray();
        float[] w = Enumerable.Range(0, f * k).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] gamma = Enumerable.Repeat(1f, f).ToArray(), beta = new float[f];
        float[] dPooled = Enumerable.Range(0, batch * pooled).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] z = new float[batch * f * p], dz = new float[z.Length], y = new float[batch * pooled], columns = new float[k * (p + f)];
        int[] argmax = new int[y.Length];
        float[] mean = new float[f], inv = new float[f], rm = new float[f], rv = new float[f], dw = new float[f * k], dg = new float[f], db = new float[f];
        float[] moments = new float[ConvKernels.StemMomentsSize(conv)], sums = new float[ConvKernels.StemSumsSize(f, conv)], planes = new float[(f * p) + pooled];
        var rows = new List<(string, Action)>
        {
            ("layers: conv1 forward", () => ConvKernels.Conv2DForward(z, columns, x, w, default, batch, f, conv)),
            ("layers: batchnorm1 + relu + pool forward", () => ConvKernels.BatchNormMaxPoolTrainingForward(y, argmax, mean, inv, rm, rv, z, gamma, beta, batch, 0.1f, 1e-5f, true, pool)),
            ("layers: batchnorm1 backward", () => ConvKernels.BatchNormMaxPoolBackward(dz, dg, db, dPooled, argmax, z, gamma, mean, inv, batch, pool, beta)),
            ("layers: conv1 backward", () => ConvKernels.Conv2DBackward(default, dw, default, columns, dz, x, w, batch, f, conv)),
            ("stem: moments", () => ConvKernels.StemMoments(moments, columns, x, batch, conv)),
            ("stem: statistics", () => ConvKernels.StemStatistics(mean, inv, rm, rv, moments, w, default, (long)batch * p, 0.1f, 1e-5f, f, conv)),
            ("stem: normalise and pool", () => ConvKernels.StemNormalizeMaxPool(y, argmax, planes, columns, x, w, default, mean, inv, gamma, beta, batch, true, conv, pool)),
            ("stem: gradient sums", () => ConvKernels.StemGradientSums(sums, planes, columns, dPooled, argmax, y, x, moments, batch, conv, pool)),
            ("stem: gradients", () => ConvKernels.StemGradients(dw, dg, db, sums, moments, w, gamma, inv, (long)batch * p, conv)),
            ("piece: im2col x 64", () => { for (int n = 0; n < batch; n++) ConvKernels.Im2Col(columns.AsSpan(0, k * p), x.AsSpan(n * p, p), conv); }),
            ("piece: conv forward x 64 (one sample each)", () => { for (int n = 0; n < batch; n++) ConvKernels.Conv2DForward(planes.AsSpan(0, f * p), columns, x.AsSpan(n * p, p), w, default, 1, f, conv); }),
            ("piece: bn + pool x 64 (one sample each)", () => { for (int n = 0; n < batch; n++) ConvKernels.BatchNormMaxPool(y.AsSpan(n * pooled, pooled), argmax.AsSpan(n * pooled, pooled), planes.AsSpan(0, f * p), mean, inv, gamma, beta, 1, true, pool); }),
            ("piece: gram 9x9x784 x 64", () => { for (int n = 0; n < batch; n++) MatMul.MultiplyTransposed(sums.AsSpan(0, k * k), columns.AsSpan(0, k * p), columns.AsSpan(0, k * p), k, k, p, accumulate: false); }),
            ("piece: T 16x9x784 x 64", () => { for (int n = 0; n < batch; n++) MatMul.MultiplyTransposed(dw, planes.AsSpan(0, f * p), columns.AsSpan(0, k * p), f, k, p, accumulate: true); }),
            ("piece: pool backward x 64", () => { for (int n = 0; n < batch; n++) ConvKernels.MaxPoolBackward(planes.AsSpan(0, f * p), dPooled.AsSpan(n * pooled, pooled), argmax.AsSpan(n * pooled, pooled), 1, pool); }),
        };
        if (loop)
        {
            // For a profiler: the stem's parts over and over for 8 s.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < 8000)
            {
                foreach ((string name, Action run) in rows.Where(r => r.Item1.StartsWith("stem", StringComparison.Ordinal)))
                {
                    run();
                }
            }

            return;
        }

        // Tiered compilation: every part's callees at full optimisation before any is timed (a second of calls).
        var warm = System.Diagnostics.Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 1500)
        {
            foreach ((string _, Action run) in rows)
            {
                run();
            }
        }

        Console.WriteLine("| part (64 samples) | ms |");
        Console.WriteLine("| --- | ---: |");
        foreach ((string name, Action run) in rows)
        {
            for (int i = 0; i < 20; i++)
            {
                run();
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {Breakdown.Median(run, 400):F3} |"));
        }
    }
}
