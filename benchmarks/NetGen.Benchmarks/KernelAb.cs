using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace NetGen.Benchmarks;

/// <summary>
/// A kernel change measured against the form before it in one process: the two forms in alternating
/// blocks of 200 ms (12 rounds, the first dropped), each block's median kept, the medians' median
/// printed, so that both forms see the same spells of a shared host. A form is chosen by an internal
/// switch of the runtime.
/// </summary>
public static class KernelAb
{
    /// <summary>
    /// <c>Multiply</c> (op(A)·B, the backward pass's products and the convolutions' forward) with B copied
    /// into panels against B read in place; checks the bits are the same; then the workloads' steps.
    /// </summary>
    public static void Panels() => Compare("B copied into panels", on => MatMul.MultiplyPanels = on);

    /// <summary>Tiles of a transposed A with rows far apart copied against read in place (products and workloads).</summary>
    public static void ATiles() => Compare("A tiles copied", on => MatMul.PackATiles = on);

    /// <summary>A·Bᵀ packing 16 strips of B at a time against 4 (products and workloads).</summary>
    public static void Strips() => Compare("16 strips", on => MatMul.PackedStrips = on ? 16 : 4);

    // Every product shape of the workloads and the workloads' steps, with a runtime switch off and on.
    private static void Compare(string change, Action<bool> choose)
    {
        void Product(string name, int m, int n, int k, bool transposedA, bool transposedB = false)
        {
            float[] a = new float[m * k], b = new float[n * k], c1 = new float[m * n], c2 = new float[m * n];
            var random = new SeededRandom(5);
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = random.NextSingle() - 0.5f;
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] = random.NextSingle() - 0.5f;
            }

            (int rs, int cs) = transposedA ? (1, m) : (k, 1);
            Action<float[]> run = transposedB
                ? c => MatMul.MultiplyTransposed(c, a, b, m, n, k, accumulate: false)
                : c => MatMul.Multiply(c, a, rs, cs, b, m, n, k, accumulate: false);
            choose(false);
            run(c1);
            choose(true);
            run(c2);
            if (!c1.AsSpan().SequenceEqual(c2))
            {
                throw new InvalidOperationException(name + ": the bits differ");
            }

            (double before, double after) = Alternate(choose, () => run(c1));
            double flops = 2.0 * m * n * k;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | [{m} x {k}]{(transposedA ? "ᵀ" : "")} x [{k} x {n}]{(transposedB ? "ᵀ" : "")} | {before * 1000:F1} µs ({flops / before / 1e6:F1}) | {after * 1000:F1} µs ({flops / after / 1e6:F1}) | {before / after:F2}x |"));
        }

        Console.WriteLine($"| product | shape | without {change} (GFLOP/s) | with (GFLOP/s) | speed-up |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        Product("MLP forward, batch 256", 256, 128, 784, false, true);
        Product("MLP forward, batch 32", 32, 128, 784, false, true);
        Product("conv2 weight gradient, transposed", 144, 32, 15 * 196, false, true);
        Product("GPT output layer forward", 768, 6768, 128, false, true);
        Product("MLP weight gradient, batch 256", 128, 784, 256, true);
        Product("MLP weight gradient, batch 32", 128, 784, 32, true);
        Product("MLP second layer weight gradient, batch 256", 10, 128, 256, true);
        Product("conv2 forward (15 samples)", 32, 15 * 196, 144, false);
        Product("conv2 input gradient (15 samples)", 144, 15 * 196, 32, true);
        Product("conv1 forward (15 samples)", 16, 15 * 784, 9, false);
        Product("GPT output layer input gradient", 768, 128, 6768, false);
        Product("GPT output layer weight gradient", 6768, 128, 768, true);
        Product("GPT attention projection weight gradient", 128, 128, 768, true);
        Product("square 512", 512, 512, 512, false);
        choose(true);

        Console.WriteLine();
        Console.WriteLine($"| workload | without {change} | with | speed-up |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (string workload in Environment.GetEnvironmentVariable("NETGEN_WORKLOADS")?.Split(',') ?? new[] { "mlp-256", "mlp-32", "cnn-adam-64", "gpt-12" })
        {
            var w = new Workloads { Workload = workload, Threads = 1 };
            w.Setup();
            (double before, double after) = Alternate(choose, () => w.Step());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {workload} | {before:F3} ms | {after:F3} ms | {before / after:F2}x |"));
        }

        choose(true);
    }

    /// <summary>
    /// The sample CNN's BatchNorm + ReLU + 2x2 MaxPool stages, forward and backward, as the two layers' kernels in
    /// turn against the fused kernels (<c>ConvKernels.BatchNormMaxPool*</c>), in alternating blocks; checks
    /// that both give the same bits.
    /// </summary>
    public static void BatchNormPool()
    {
        Console.WriteLine("| stage | two layers | fused | speed-up |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach ((int rows, int channels, int side) in new[] { (64, 16, 28), (64, 32, 14) })
        {
            int spatial = side * side, count = rows * channels * spatial;
            var random = new SeededRandom(1);
            float[] x = new float[count], normalised = new float[count], dNormalised = new float[count], dx = new float[count];
            float[] pooled = new float[count / 4], fusedPooled = new float[count / 4], dPooled = new float[count / 4];
            int[] argmax = new int[count / 4], fusedArgmax = new int[count / 4];
            for (int i = 0; i < count; i++)
            {
                x[i] = random.NextSingle() - 0.5f;
            }

            for (int i = 0; i < dPooled.Length; i++)
            {
                dPooled[i] = random.NextSingle() - 0.5f;
            }

            float[] gamma = Enumerable.Repeat(1f, channels).ToArray(), beta = Enumerable.Repeat(0.1f, channels).ToArray();
            float[] mean = new float[channels], inv = new float[channels], runningMean = new float[channels], runningVariance = new float[channels];
            float[] dGamma = new float[channels], dBeta = new float[channels];
            var g = new Window2D(channels, side, side, 2, 2, 2, 1, 0, 0, side / 2, side / 2);
            Kernels.BatchNormTrainingForward(normalised, mean, inv, runningMean, runningVariance, x, gamma, beta, rows, channels, spatial, 0.1f, 1e-5f, relu: true);
            ConvKernels.MaxPoolForward(pooled, argmax, normalised, rows, g);
            ConvKernels.BatchNormMaxPoolTrainingForward(fusedPooled, fusedArgmax, mean, inv, runningMean, runningVariance, x, gamma, beta, rows, 0.1f, 1e-5f, true, g);
            if (!pooled.AsSpan().SequenceEqual(fusedPooled) || !argmax.AsSpan().SequenceEqual(fusedArgmax))
            {
                throw new InvalidOperationException("the fused forward's bits differ");
            }

            (double twoForward, double fusedForward) = Alternate(
                fused => (fused ? (Action)(() => ConvKernels.BatchNormMaxPoolTrainingForward(pooled, argmax, mean, inv, runningMean, runningVariance, x, gamma, beta, rows, 0.1f, 1e-5f, true, g))
                    : () =>
                    {
                        Kernels.BatchNormTrainingForward(normalised, mean, inv, runningMean, runningVariance, x, gamma, beta, rows, channels, spatial, 0.1f, 1e-5f, relu: true);
                        ConvKernels.MaxPoolForward(pooled, argmax, normalised, rows, g);
                    })());
            (double twoBackward, double fusedBackward) = Alternate(
                fused => (fused ? (Action)(() => ConvKernels.BatchNormMaxPoolBackward(dx, dGamma, dBeta, dPooled, argmax, x, gamma, mean, inv, rows, g, beta))
                    : () =>
                    {
                        ConvKernels.MaxPoolBackward(dNormalised, dPooled, argmax, rows, g);
                        Kernels.BatchNormBackward(dx, dGamma, dBeta, dNormalised, x, gamma, mean, inv, rows, channels, spatial, beta);
                    })());
            string shape = $"[{rows}, {channels}, {side}, {side}]";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {shape} forward | {twoForward:F3} ms | {fusedForward:F3} ms | {twoForward / fusedForward:F2}x |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {shape} backward | {twoBackward:F3} ms | {fusedBackward:F3} ms | {twoBackward / fusedBackward:F2}x |"));
        }
    }

    /// <summary>
    /// Convolutions of 64 samples (3x3, padding 1) forward and backward, several samples per product (as many
    /// as the generator's rule puts in 1 MB, with the scratch for it) against sample by sample, in alternating
    /// blocks: where <c>ConvKernels.PerSampleFrom</c> (128 output positions) comes from.
    /// </summary>
    public static void Convolutions()
    {
        Console.WriteLine("| convolution | samples per product | batched | sample by sample | speed-up |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach ((int channels, int side, int filters, bool inputGradient) in new[]
        {
            (1, 28, 16, false), (16, 14, 32, true), (16, 12, 32, true), (16, 16, 16, true), (32, 10, 64, true),
            (32, 8, 64, true), (16, 8, 16, true), (32, 7, 64, true), (3, 32, 32, true), (32, 13, 64, true), (16, 15, 32, true),
            (3, 27, 32, true),
        })
        {
            const int batch = 64;
            var g = new Window2D(channels, side, side, 3, 3, 1, 1, 1, 1, side, side);
            long perSample = (long)(g.PatchSize + filters) * g.Positions;
            int samples = 1;
            while (samples * 2 <= Math.Min(16, (1 << 18) / perSample))
            {
                samples *= 2;
            }

            var random = new SeededRandom(3);
            float[] x = Random(batch * g.InputSize), weight = Random(filters * g.PatchSize), dy = Random(batch * filters * g.Positions);
            float[] y = new float[dy.Length], dWeight = new float[weight.Length], dx = inputGradient ? new float[x.Length] : Array.Empty<float>();
            var columns = new float[Math.Max(ConvKernels.BatchedColumns(g, filters, samples), (long)g.PatchSize * (g.Positions + filters))];
            float[] Random(int count)
            {
                var values = new float[count];
                for (int i = 0; i < count; i++)
                {
                    values[i] = random.NextSingle() - 0.5f;
                }

                return values;
            }

            void Choose(bool bySample)
            {
                ConvKernels.PerSampleFrom = bySample ? 128 : int.MaxValue;
                ConvKernels.MaxSamplesPerProduct = bySample ? 1 : 16;
            }

            (double batchedForward, double sampleForward) = Alternate(Choose, () => ConvKernels.Conv2DForward(y, columns, x, weight, default, batch, filters, g));
            (double batchedBackward, double sampleBackward) = Alternate(Choose, () => ConvKernels.Conv2DBackward(dx, dWeight, default, columns, dy, x, weight, batch, filters, g));
            Choose(true);
            ConvKernels.MaxSamplesPerProduct = 16;
            string name = $"{side}x{side}, {channels} -> {filters}{(inputGradient ? "" : ", no input gradient")}";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} forward | {samples} | {batchedForward:F3} ms | {sampleForward:F3} ms | {batchedForward / sampleForward:F2}x |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} backward | {samples} | {batchedBackward:F3} ms | {sampleBackward:F3} ms | {batchedBackward / sampleBackward:F2}x |"));
        }
    }

    // The medians (ms) of one call, the fused form (true) and the two layers (false), in alternating blocks.
    private static (double Two, double Fused) Alternate(Action<bool> run)
    {
        bool fused = false;
        (double off, double on) = Alternate(on => fused = on, () => run(fused));
        return (off, on);
    }

    // The medians (ms) of the form with the switch off and on, in alternating blocks.
    private static (double Off, double On) Alternate(Action<bool> choose, Action run)
    {
        var blocks = new[] { new List<double>(), new List<double>() };
        for (int round = 0; round < 12; round++)
        {
            for (int f = 0; f < 2; f++)
            {
                int form = (round + f) % 2;
                choose(form == 1);
                var times = new List<double>();
                var clock = Stopwatch.StartNew();
                while (clock.ElapsedMilliseconds < 200 || times.Count < 3)
                {
                    long start = Stopwatch.GetTimestamp();
                    run();
                    times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }

                if (round > 0)
                {
                    blocks[form].Add(Median(times));
                }
            }
        }

        return (Median(blocks[0]), Median(blocks[1]));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
