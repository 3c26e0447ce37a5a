using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using TangGpt;

namespace NetGen.Benchmarks;

// Parts of a workload timed alone: the CNN's convolutions and BatchNorm stages, the products, the FMA peaks, generation.
public static partial class Breakdown
{
    /// <summary>A·Bᵀ of 9 rows by 16 over k by the 512-bit dot products with k in chunks of 1,024 and whole, alternating.</summary>
    public static void WideDotsChunks()
    {
        // The dot products against the packed product on the shapes the rule takes.
        foreach ((int m, int n, int k) in new[] { (9, 16, 784), (8, 64, 784), (4, 32, 784), (12, 10, 800), (3, 64, 200), (15, 64, 1024) })
        {
            float[] a = Values(m * k, 1), b = Values(n * k, 2), c = new float[m * n];
            var times = new[] { new List<double>(), new List<double>() };
            for (int round = 0; round < 10; round++)
            {
                for (int v = 0; v < 2; v++)
                {
                    int which = (round + v) % 2;
                    MatMul.DotFewRows = which == 0;
                    times[which].Add(Median(() => MatMul.MultiplyTransposed(c, a, b, m, n, k, accumulate: false), 50));
                }
            }

            MatMul.DotFewRows = true;
            double dots = Median(times[0]), packed = Median(times[1]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{m} x {n} over {k}: dot products {dots * 1000:F2} us, packed {packed * 1000:F2} us ({packed / dots:F2}x)"));
        }

        int[] chunks = { 256, 512, 1024, int.MaxValue };
        foreach (int k in new[] { 784, 16 * 784 })
        {
            float[] a = Values(9 * k, 1), b = Values(16 * k, 2), c = new float[9 * 16];
            var times = chunks.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < 10; round++)
            {
                for (int v = 0; v < chunks.Length; v++)
                {
                    int which = (round + v) % chunks.Length;
                    MatMul.WideDotsChunk = chunks[which];
                    times[which].Add(Median(() => MatMul.MultiplyTransposed(c, a, b, 9, 16, k, accumulate: false), 50));
                }
            }

            MatMul.WideDotsChunk = 1024;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"9 x 16 over {k}: ") + string.Join(", ", chunks.Select((chunk, i) => string.Create(CultureInfo.InvariantCulture, $"chunks of {chunk}: {Median(times[i]) * 1000:F1} us"))));
        }
    }

    /// <summary>The sample CNN's BatchNorm + ReLU + MaxPool stages in parts, 64 samples (medians in ms).</summary>
    public static void BatchNormParts()
    {
        foreach ((string name, int c, int h) in new[] { ("bn1", 16, 28), ("bn2", 32, 14) })
        {
            int batch = 64, plane = h * h, size = batch * c * plane, pooled = size / 4;
            var g = new Window2D(c, h, h, 2, 2, 2, 1, 0, 0, h / 2, h / 2);
            float[] x = Values(size, 1), dx = new float[size], y = new float[pooled], dy = Values(pooled, 2);
            int[] argmax = new int[pooled];
            float[] gamma = Values(c, 3), beta = Values(c, 4), mean = new float[c], inv = new float[c], rm = new float[c], rv = new float[c], dg = new float[c], db = new float[c];
            float[] big = new float[16 << 20];
            ConvKernels.BatchNormMaxPoolTrainingForward(y, argmax, mean, inv, rm, rv, x, gamma, beta, batch, 0.1f, 1e-5f, relu: true, g);
            var parts = new (string Part, Action Run)[]
            {
                ("forward", () => ConvKernels.BatchNormMaxPoolTrainingForward(y, argmax, mean, inv, rm, rv, x, gamma, beta, batch, 0.1f, 1e-5f, relu: true, g)),
                ("backward", () => ConvKernels.BatchNormMaxPoolBackward(dx, dg, db, dy, argmax, x, gamma, mean, inv, batch, g, beta)),
                ("pooled gradient planes", () =>
                {
                    var p = new Kernels.PooledGradient(dy, argmax, g);
                    for (int ch = 0; ch < c; ch++)
                    {
                        p.Channel(ch, batch);
                    }
                }),
                ("copy x to dx", () => x.AsSpan().CopyTo(dx)),
            };
            // Warm (the operands in L3 at least, from the call before) and cold (64 MB written in between), each
            // with BatchNorm's prefetching on and off, in alternating rounds after one round of warm-up.
            var times = new Dictionary<(bool Cold, bool Prefetch, string Part), List<double>>();
            for (int round = 0; round < 6; round++)
            {
                foreach (bool cold in new[] { false, true })
                {
                    foreach (bool prefetch in round % 2 == 0 ? new[] { true, false } : new[] { false, true })
                    {
                        Kernels.PrefetchSlices = prefetch;
                        foreach (var (part, run) in parts)
                        {
                            double ms = MedianOfTimes(() =>
                            {
                                if (cold)
                                {
                                    big.AsSpan().Fill(1f);
                                }

                                long start = Stopwatch.GetTimestamp();
                                run();
                                return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                            }, 15);
                            if (round > 0)
                            {
                                (times.TryGetValue((cold, prefetch, part), out var list) ? list : times[(cold, prefetch, part)] = new List<double>()).Add(ms);
                            }
                        }
                    }
                }
            }

            Kernels.PrefetchSlices = true;
            foreach (bool cold in new[] { false, true })
            {
                foreach (var (part, _) in parts)
                {
                    double on = Median(times[(cold, true, part)]), off = Median(times[(cold, false, part)]);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} {(cold ? "cold" : "warm")} {part}: {on:F3} ms prefetching, {off:F3} ms not ({off / on:F2}x)"));
                }
            }
        }
    }

    /// <summary>
    /// The parts of the sample CNN's two convolutions over 64 samples, each timed alone (medians of 10 rounds):
    /// im2col, the forward product, the weight gradient's and the patch matrix gradient's products, col2im, and
    /// the whole forward and backward with the stride-1 convolutions on the padded input and through im2col.
    /// </summary>
    public static void ConvParts()
    {
        foreach ((string name, Window2D g, int f) in new[] { ("conv2", new Window2D(16, 14, 14, 3, 3, 1, 1, 1, 1, 14, 14), 32), ("conv1", new Window2D(1, 28, 28, 3, 3, 1, 1, 1, 1, 28, 28), 16) })
        {
            int batch = 64, k = g.PatchSize, p = g.Positions, outSize = f * p;
            float[] x = Values(batch * g.InputSize, 1), w = Values(f * k, 2), b = Values(f, 3), dy = Values(batch * outSize, 4);
            float[] y = new float[batch * outSize], dx = new float[batch * g.InputSize], dw = new float[f * k], db = new float[f], dwt = new float[k * f];
            float[] columns = new float[k * (p + f)];
            void EachSample(Action<int> part)
            {
                for (int n = 0; n < batch; n++)
                {
                    part(n);
                }
            }

            Action Im2Col(bool padded, Action run) => () =>
            {
                ConvKernels.ImplicitProducts = padded;
                run();
                ConvKernels.ImplicitProducts = true;
            };

            var parts = new (string Part, Action Run)[]
            {
                ("im2col", () => EachSample(n => ConvKernels.Im2Col(columns.AsSpan(0, k * p), x.AsSpan(n * g.InputSize, g.InputSize), g))),
                ("forward product", () => EachSample(n => MatMul.Multiply(y.AsSpan(n * outSize, outSize), w, k, 1, columns.AsSpan(0, k * p), f, p, k, accumulate: false))),
                ("dWᵀ product", () => EachSample(n => MatMul.MultiplyTransposed(dwt, columns.AsSpan(0, k * p), dy.AsSpan(n * outSize, outSize), k, f, p, accumulate: n > 0))),
                ("dcol product", () => EachSample(n => MatMul.Multiply(columns.AsSpan(0, k * p), w, 1, k, dy.AsSpan(n * outSize, outSize), k, p, f, accumulate: false))),
                ("col2im", () => EachSample(n =>
                {
                    dx.AsSpan(n * g.InputSize, g.InputSize).Clear();
                    ConvKernels.Col2ImAddAt(dx.AsSpan(n * g.InputSize, g.InputSize), columns.AsSpan(0, k * p), g, p, 0);
                })),
                ("forward, padded input", Im2Col(true, () => ConvKernels.Conv2DForward(y, columns, x, w, b, batch, f, g))),
                ("forward, im2col", Im2Col(false, () => ConvKernels.Conv2DForward(y, columns, x, w, b, batch, f, g))),
                ("backward, padded input", Im2Col(true, () => ConvKernels.Conv2DBackward(dx, dw, db, columns, dy, x, w, batch, f, g))),
                ("backward, im2col", Im2Col(false, () => ConvKernels.Conv2DBackward(dx, dw, db, columns, dy, x, w, batch, f, g))),
            };
            var times = parts.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < 10; round++)
            {
                for (int i = 0; i < parts.Length; i++)
                {
                    times[i].Add(Median(parts[i].Run, 30));
                }
            }

            Console.WriteLine(name + ": " + string.Join(", ", parts.Select((part, i) => string.Create(CultureInfo.InvariantCulture, $"{part.Part} {Median(times[i]) * 1000:F0} us"))));
        }
    }

    public static void Gemm()
    {
        void Time(string name, int m, int n, int k, bool transposed, bool stridedA)
        {
            float[] a = new float[m * k], b = new float[n * k], c = new float[m * n];
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = (i % 7) * 0.1f;
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] = (i % 5) * 0.1f;
            }

            Action run = transposed
                ? () => MatMul.MultiplyTransposed(c, a, b, m, n, k, accumulate: true)
                : stridedA
                    ? () => MatMul.Multiply(c, a, 1, m, b, m, n, k, accumulate: false)
                    : () => MatMul.Multiply(c, a, k, 1, b, m, n, k, accumulate: false);
            double ms = Median(run, 2000);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: [{m} x {k}] x [{k} x {n}]{(transposed ? " (B transposed)" : stridedA ? " (A transposed)" : "")}: {ms:F3} ms, {2.0 * m * n * k / ms / 1e6:F1} GFLOP/s"));
        }

        Time("MLP second layer forward, batch 256", 256, 10, 128, true, false);
        Time("MLP second layer weight gradient, batch 256", 10, 128, 256, false, true);
        Time("MLP second layer input gradient, batch 256", 256, 128, 10, false, false);
        Time("MLP first layer forward, batch 256", 256, 128, 784, true, false);
        Time("MLP first layer weight gradient, batch 256", 128, 784, 256, false, true);
        Time("MLP first layer forward, batch 32", 32, 128, 784, true, false);
        Time("MLP first layer weight gradient, batch 32", 128, 784, 32, false, true);
        Time("conv2 forward", 32, 15 * 196, 144, false, false);
        Time("conv2 weight gradient", 32, 144, 15 * 196, true, false);
        Time("conv2 weight gradient, transposed", 144, 32, 15 * 196, true, false);
        Time("conv2 input gradient", 144, 15 * 196, 32, false, true);
        Time("conv2 forward, one sample", 32, 196, 144, false, false);
        Time("GPT output layer forward", 768, 6768, 128, true, false);
        Time("GPT output layer weight gradient", 6768, 128, 768, false, true);
        Time("GPT output layer input gradient", 768, 128, 6768, false, false);
        Time("square 512", 512, 512, 512, false, false);
    }

    /// <summary>
    /// The FMA peak on 1 and on 2 threads at once: whether the machine's two "cores" have an FMA unit
    /// each (about twice the GFLOP/s) or share one (hyper-threads of one core, about the same). Each
    /// round times 20 calls a thread (about 70 ms), both threads started and met at a barrier first: a
    /// form before 2026-12-06 timed one call (3.5 ms) from the second thread's start, and so counted the
    /// new thread's start on an idle vCPU as lost speed (1.28x, 1.6x, 1.8x in its three rounds, every
    /// run, where this form measures 1.9x and more).
    /// </summary>
    public static void Peaks()
    {
        const int Calls = 20;
        var peak = new FmaPeak();
        peak.OneCore();
        for (int round = 0; round < 5; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Calls; i++)
            {
                peak.OneCore();
            }

            double one = Calls * FmaPeak.Flops / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            using var met = new Barrier(2);
            double otherSeconds = 0;
            var other = new Thread(() =>
            {
                met.SignalAndWait();
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < Calls; i++)
                {
                    peak.OneCore();
                }

                otherSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            });
            other.Start();
            met.SignalAndWait();
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Calls; i++)
            {
                peak.OneCore();
            }

            double mine = Stopwatch.GetElapsedTime(start).TotalSeconds;
            other.Join();
            double together = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double two = 2 * Calls * FmaPeak.Flops / together / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FMA peak: 1 thread {one:F1} GFLOP/s, 2 threads {two:F1} GFLOP/s together ({two / one:F2}x; each thread: {Calls * FmaPeak.Flops / mine / 1e9:F1} and {Calls * FmaPeak.Flops / otherSeconds / 1e9:F1})"));
        }
    }

    /// <summary>
    /// Generation on 1 and on 2 threads (the output layer's product split across them since session 20): a
    /// context of 64 tokens appended one at a time, in alternating blocks; the medians per token, and whether the
    /// two gave the same logits.
    /// </summary>
    public static void GenerationThreads()
    {
        var nets = new[] { new TangPoet(1, seed: 1) { Threads = 1 }, new TangPoet(1, seed: 1) { Threads = 2 } };
        var logits = new[] { new float[TangPoet.Vocabulary], new float[TangPoet.Vocabulary] };
        int[] context = Enumerable.Range(0, TangPoet.InputSize).Select(i => (i * 97) % TangPoet.Vocabulary).ToArray();
        var times = new[] { new List<double>(), new List<double>() };
        for (int round = 0; round < 24; round++)
        {
            for (int v = 0; v < 2; v++)
            {
                int which = (round + v) % 2;
                double perToken = Median(() =>
                {
                    nets[which].ResetContext();
                    foreach (int token in context)
                    {
                        nets[which].Append(token, logits[which]);
                    }
                }, 20) / context.Length;
                if (round > 0)
                {
                    times[which].Add(perToken);
                }
            }
        }

        bool same = logits[0].AsSpan().SequenceEqual(logits[1]);
        double one = Median(times[0]), two = Median(times[1]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"a cached token: 1 thread {one * 1000:F1} us, 2 threads {two * 1000:F1} us ({one / two:F2}x); the same logits: {same}"));
    }

    /// <summary>
    /// What bounds a cached generation step: its time per token, the output layer's matrix-vector
    /// product alone, and one core's read bandwidth over a buffer the size of the weights (6.6 MB)
    /// and over one far larger than the caches (64 MB).
    /// </summary>
    public static void Generation()
    {
        var net = new TangPoet(1, seed: 1);
        var logits = new float[TangPoet.Vocabulary];
        int[] context = Enumerable.Range(0, TangPoet.InputSize).Select(i => (i * 97) % TangPoet.Vocabulary).ToArray();
        double cached = Median(() =>
        {
            net.ResetContext();
            foreach (int token in context)
            {
                net.Append(token, logits);
            }
        }, 200) / context.Length;
        double first = Median(() =>
        {
            net.ResetContext();
            net.Append(context[0], logits);
        }, 2000);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the first position alone: {first * 1000:F1} us"));
        var byPosition = new List<double>[context.Length];
        for (int p = 0; p < context.Length; p++)
        {
            byPosition[p] = new List<double>();
        }

        for (int round = 0; round < 60; round++)
        {
            net.ResetContext();
            for (int p = 0; p < context.Length; p++)
            {
                long start = Stopwatch.GetTimestamp();
                net.Append(context[p], logits);
                byPosition[p].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }

        Console.WriteLine("by position (us): " + string.Join(", ", Enumerable.Range(0, context.Length).Where(p => p % 8 == 0 || p == context.Length - 1).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p}: {Median(byPosition[p]) * 1000:F0}"))));
        float[] weights = Reference(TangPoet.Vocabulary * 128), x = Reference(128), y = new float[TangPoet.Vocabulary];
        double head = Median(() => MatMul.MultiplyTransposed(y, x, weights, 1, TangPoet.Vocabulary, 128, accumulate: false), 2000);
        double weightsBytes = 4.0 * TangPoet.ParameterCount;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cached token: {cached * 1000:F1} us ({1000 / cached:F0} tokens/s; {weightsBytes / (cached / 1000) / 1e9:F1} GB/s of weights)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"output layer alone (6768 x 128 by a vector): {head * 1000:F1} us ({4.0 * weights.Length / (head / 1000) / 1e9:F1} GB/s)"));
        // The step's pieces, per token: the four layers' products, GELU and LayerNorm rows.
        foreach ((string what, int inputs, int outputs, int times) in new[] { ("c_attn 128->384", 128, 384, 4), ("c_proj 128->128", 128, 128, 4), ("c_fc 128->512", 128, 512, 4), ("mlp c_proj 512->128", 512, 128, 4), ("lm_head 128->6768", 128, 6768, 1) })
        {
            float[] w = Reference(inputs * outputs), v = Reference(inputs), b = Reference(outputs), o = new float[outputs];
            double t = Median(() => Kernels.DenseForward(o, v, w, b, rows: 1, inFeatures: inputs, outFeatures: outputs), 2000);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what}: {t * 1000:F1} us x {times}"));
        }

        float[] g = Reference(512), go = new float[512];
        double gelu = Median(() => Kernels.ActivationForward(go, g, Activation.GeluExact, alpha: 0f, cols: 512), 2000);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  GELU (exact) of 512: {gelu * 1000:F1} us x 4"));
        foreach (int megabytes in new[] { 1, 7, 64 })
        {
            float[] buffer = Reference(megabytes * 1024 * 1024 / 4);
            double read = Median(() => TensorPrimitives.Sum(buffer), 500);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"read {megabytes} MB: {read * 1000:F1} us ({4.0 * buffer.Length / (read / 1000) / 1e9:F1} GB/s)"));
        }

        static float[] Reference(int n) => Enumerable.Range(0, n).Select(i => ((i * 7919) % 1000) / 1000f).ToArray();
    }
}
