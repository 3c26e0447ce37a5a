using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Reflection;
using NetGen;
using TangGpt;

namespace NetGen.Benchmarks;

/// <summary>
/// Where a training step's time goes, op by op: each generated forward and backward method of the
/// network's implementation (found by reflection, in the order the generator wrote them), timed
/// alone on a batch the network has just run, the median of many calls (warm in cache), and in
/// sequence, as a step runs them (each op finds the caches as the op before left them), with the
/// optimizer; the input copy and the loss as a whole step's remainder. One thread. A tool for
/// finding the next thing to make faster, not a benchmark to quote. At batches of up to 4 the
/// step leaves the largest dense weight's gradient to the optimizer (DeferredWeightGradient), which
/// the ops timed here, called one by one, do not: there the remainder can come out negative.
/// </summary>
public static class Breakdown
{
    public static void Run()
    {
        var (x, labels) = Data.Batch(256);
        Report("MLP 784-128-10, SGD, batch 256", new FashionMlp(256, seed: 1), x, labels, 256, new Sgd(0f));
        Report("MLP 784-128-10, SGD, batch 32", new FashionMlp(32, seed: 1), x.AsSpan(0, 32 * 784).ToArray(), labels.AsSpan(0, 32).ToArray(), 32, new Sgd(0f));
        Report("MLP 784-128-10, SGD, batch 1", new FashionMlp(1, seed: 1), x.AsSpan(0, 784).ToArray(), labels.AsSpan(0, 1).ToArray(), 1, new Sgd(0f));
        Report("MLP 784-128-10, Adam, batch 1", new FashionMlp(1, seed: 1), x.AsSpan(0, 784).ToArray(), labels.AsSpan(0, 1).ToArray(), 1, new Adam(0f));
        var (cx, clabels) = Data.Batch(64);
        Report("sample CNN, Adam, batch 64", new global::FashionMnist.FashionCnn(64, seed: 1), cx, clabels, 64, new Adam(0f));
        var random = new SeededRandom(2);
        int[] tokens = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
        int[] targets = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
        var adamw = new AdamW(0f, beta2: 0.99f, weightDecay: 0.1f);
        var gpt = new TangPoet(12, seed: 1);
        adamw.SetGroups(ParameterGroup.DecayMatricesOnly(gpt.ParameterLayout, 0.1f));
        Report("Tang-poem GPT, AdamW, 12 x 64 tokens", gpt, tokens, targets, 12, adamw);
    }

    private static void Report<TInput, TTarget>(string title, ITrainableNetwork<TInput, TTarget> net, TInput[] x, TTarget[] targets, int n, IOptimizer optimizer)
        where TInput : unmanaged
        where TTarget : unmanaged
    {
        // Warm: tiered compilation has the optimised code in place after some dozens of calls.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 60 && warm.ElapsedMilliseconds < 8000; i++)
        {
            net.TrainStep(x, targets, optimizer);
        }

        double step = Median(() => net.TrainStep(x, targets, optimizer), 2000);
        object core = net.GetType().GetField("__net", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(net)!;
        var ops = core.GetType().GetMethods(BindingFlags.NonPublic | BindingFlags.Instance)
            .Where(m => (m.Name.EndsWith("Forward", StringComparison.Ordinal) || m.Name.EndsWith("Backward", StringComparison.Ordinal))
                && m.Name is not ("ForwardPass" or "BackwardPass") && m.GetParameters().Length >= 1 && m.GetParameters()[0].ParameterType == typeof(int))
            .OrderBy(m => m.MetadataToken)
            .ToList();
        var rows = new List<(string Op, double Forward, double Backward, double InSequence)>();
        var byOp = new Dictionary<string, int>();
        double total = 0;
        foreach (MethodInfo m in ops)
        {
            bool forward = m.Name.EndsWith("Forward", StringComparison.Ordinal);
            string op = forward ? m.Name[..^"Forward".Length] : m.Name[..^"Backward".Length];
            Action call = Call(core, m, n, x);
            for (int warmup = 0; warmup < 40; warmup++)
            {
                call();
            }

            double t = Median(call, 500);
            total += t;
            if (!byOp.TryGetValue(op, out int i))
            {
                byOp[op] = i = rows.Count;
                rows.Add((op, 0, 0, 0));
            }

            rows[i] = forward ? rows[i] with { Forward = t } : rows[i] with { Backward = t };
        }

        // In sequence: every forward method in order, then every backward method in reverse, then the
        // optimizer, each timed where it runs in a step (what the caches hold is what the op before left).
        var sequence = ops.Where(m => m.Name.EndsWith("Forward", StringComparison.Ordinal)).Concat(ops.Where(m => m.Name.EndsWith("Backward", StringComparison.Ordinal)).Reverse())
            .Select(m => (Op: m.Name.EndsWith("Forward", StringComparison.Ordinal) ? m.Name[..^"Forward".Length] : m.Name[..^"Backward".Length], Call: Call(core, m, n, x)))
            .ToList();
        var perRound = new List<double[]>();
        var optimizerTimes = new List<double>();
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 400 && (round < 20 || clock.ElapsedMilliseconds < 6000); round++)
        {
            var times = new double[rows.Count];
            foreach ((string op, Action call) in sequence)
            {
                long start = Stopwatch.GetTimestamp();
                call();
                times[byOp[op]] += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            long o = Stopwatch.GetTimestamp();
            optimizer.Step(net.Parameters, net.Gradients);
            optimizerTimes.Add(Stopwatch.GetElapsedTime(o).TotalMilliseconds);
            perRound.Add(times);
        }

        double inSequence = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            double median = Median(perRound.Select(r => r[i]).ToList());
            rows[i] = rows[i] with { InSequence = median };
            inSequence += median;
        }

        double optimizerMedian = Median(optimizerTimes);
        Console.WriteLine();
        Console.WriteLine($"{title}: training step {Ms(step)} ms (median); the ops alone add up to {Ms(total)} ms, in sequence {Ms(inSequence)} ms; the optimizer in sequence {Ms(optimizerMedian)} ms; input copy, loss and the rest {Ms(step - inSequence - optimizerMedian)} ms");
        Console.WriteLine("| op | forward ms | backward ms | in sequence ms | share of the step (in sequence) |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach ((string op, double f, double b, double q) in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {op} | {Ms(f)} | {Ms(b)} | {Ms(q)} | {100 * q / step:F1} % |"));
        }
    }

    // An op method as a call: (int n), (int n, bool training), or (int n, ReadOnlySpan<float> input) for the
    // first layer, which reads the caller's input (a span, which reflection cannot pass: a delegate can).
    private static Action Call<TInput>(object core, MethodInfo m, int n, TInput[] x)
    {
        System.Reflection.ParameterInfo[] parameters = m.GetParameters();
        if (parameters.Length == 2 && parameters[1].ParameterType == typeof(ReadOnlySpan<float>))
        {
            var op = (InputOp)Delegate.CreateDelegate(typeof(InputOp), core, m);
            float[] input = (float[])(object)x;
            return () => op(n, input);
        }

        if (parameters.Length == 3 && parameters[2].ParameterType == typeof(ReadOnlySpan<float>))
        {
            // A stem's BatchNorm, and its convolution (which does nothing in training).
            var op = (TrainingInputOp)Delegate.CreateDelegate(typeof(TrainingInputOp), core, m);
            float[] input = (float[])(object)x;
            return () => op(n, true, input);
        }

        object[] args = parameters.Length == 2 ? new object[] { n, true } : new object[] { n };
        return () => m.Invoke(core, args);
    }

    private delegate void InputOp(int n, ReadOnlySpan<float> input);

    private delegate void TrainingInputOp(int n, bool training, ReadOnlySpan<float> input);

    /// <summary>
    /// One thread against two, interleaved: each round times one step of each (in alternating order),
    /// so that a shared machine's slow spells fall on both; the medians and their ratio per workload.
    /// </summary>
    public static void ThreadsAb()
    {
        Console.WriteLine("| workload | 1 thread | 2 threads | speed-up | rounds |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (string workload in new[] { "mlp-256", "mlp-32", "mlp-1", "mlp-adam-1", "cnn-adam-64", "gpt-12" })
        {
            var one = new Workloads { Workload = workload, Threads = 1 };
            var two = new Workloads { Workload = workload, Threads = 2 };
            one.Setup();
            two.Setup();
            for (int i = 0; i < 30; i++)
            {
                one.Step();
                two.Step();
            }

            var a = new List<double>();
            var b = new List<double>();
            var clock = Stopwatch.StartNew();
            for (int round = 0; round < 2000 && (round < 20 || clock.ElapsedMilliseconds < 8000); round++)
            {
                for (int k = 0; k < 2; k++)
                {
                    bool first = (round + k) % 2 == 0;
                    long start = Stopwatch.GetTimestamp();
                    (first ? one : two).Step();
                    (first ? a : b).Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }

            a.Sort();
            b.Sort();
            double ma = a[a.Count / 2], mb = b[b.Count / 2];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {workload} | {Ms(ma)} ms | {Ms(mb)} ms | {ma / mb:F2}x | {a.Count} |"));
        }
    }

    /// <summary>
    /// One thread against two in alternating blocks of 250 ms (each block steps one network only, as
    /// training does), so that the pool's threads stay awake between steps; the median of each
    /// block's median per workload. <see cref="ThreadsAb"/>'s step-by-step interleaving lets the
    /// workers park during the other network's step when it is longer than their 0.5 ms spin.
    /// </summary>
    public static void ThreadsBlocks()
    {
        Console.WriteLine("| workload | 1 thread | 2 threads | speed-up | blocks |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (string workload in Environment.GetEnvironmentVariable("NETGEN_WORKLOADS")?.Split(',') ?? new[] { "mlp-256", "mlp-32", "mlp-32-split", "cnn-adam-64", "gpt-12" })
        {
            var nets = new[] { new Workloads { Workload = workload, Threads = 1 }, new Workloads { Workload = workload, Threads = 2 } };
            var blocks = new[] { new List<double>(), new List<double>() };
            foreach (var net in nets)
            {
                net.Setup();
                for (int i = 0; i < 20; i++)
                {
                    net.Step();
                }
            }

            for (int round = 0; round < 12; round++)
            {
                for (int k = 0; k < 2; k++)
                {
                    int which = (round + k) % 2;
                    var times = new List<double>();
                    var clock = Stopwatch.StartNew();
                    while (clock.ElapsedMilliseconds < 250 || times.Count < 3)
                    {
                        long start = Stopwatch.GetTimestamp();
                        nets[which].Step();
                        times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }

                    times.Sort();
                    blocks[which].Add(times[times.Count / 2]);
                }
            }

            blocks[0].Sort();
            blocks[1].Sort();
            double one = blocks[0][blocks[0].Count / 2], two = blocks[1][blocks[1].Count / 2];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {workload} | {Ms(one)} ms | {Ms(two)} ms | {one / two:F2}x | {blocks[0].Count} |"));
        }
    }

    /// <summary>The matrix products of the sample CNN's second convolution (15 samples per product) and of the GPT's output layer, in GFLOP/s.</summary>
    /// <summary>
    /// The sample CNN's step with its stride-1 convolutions on the padded input and through im2col, in
    /// alternating blocks (12 rounds of 40 steps each way), one thread and two.
    /// </summary>
    public static void ImplicitAb() => SwitchAb("padded input", "im2col", on => ConvKernels.ImplicitProducts = on);

    /// <summary>The sample CNN's step with 2x2 max pooling in 512-bit blocks against the 256-bit code, alternating blocks.</summary>
    public static void Pooling512Ab() => SwitchAb("512-bit pooling", "256-bit pooling", on => ConvKernels.Pooling512 = on);

    public static void PrefetchAb() => SwitchAb("prefetch", "no prefetch", on => Kernels.PrefetchSlices = on);

    /// <summary>The sample CNN's step with session 13's kernels (512-bit pooling, BatchNorm's prefetching, the dot products of few rows) on and off, alternating blocks.</summary>
    public static void Session13Ab() => SwitchAb("session 13's kernels", "without them", on =>
    {
        ConvKernels.Pooling512 = on;
        Kernels.PrefetchSlices = on;
        MatMul.DotFewRows = on;
    });

    /// <summary>The sample CNN's step with its second convolution's weight gradient from the padded input against im2col, alternating.</summary>
    public static void TapsAb() => SwitchAb("weight gradient on the padded input", "im2col", on => ConvKernels.WeightGradientOnPadded = on);

    /// <summary>The sample CNN's step with A·Bᵀ of few rows by 512-bit dot products against the packed product, alternating blocks.</summary>
    public static void WideDotsAb() => SwitchAb("wide dots", "packed", on => MatMul.DotFewRows = on);

    /// <summary>The MLP's batch-1 Adam step with the deferred gradient made where Adam applies it against written into a block, alternating.</summary>
    public static void AdamBlockAb() => SwitchAb("a block of rows a call", "a row a call", on => Adam.BlockRows = on, "mlp-adam-1", 1000);

    public static void AdamRowsAb() => SwitchAb("rows made in the update", "a block written", on => Adam.DeferredRows = on, "mlp-adam-1", 1000);

    // A workload's step (the sample CNN's unless named) on 1 and 2 threads with a switch on and off, in alternating
    // blocks of up to `steps` steps.
    private static void SwitchAb(string on, string off, Action<bool> set, string workload = "cnn-adam-64", int steps = 40)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var net = new Workloads { Workload = workload, Threads = threads };
            net.Setup();
            var times = new[] { new List<double>(), new List<double>() };
            for (int round = 0; round < 12; round++)
            {
                for (int v = 0; v < 2; v++)
                {
                    int which = (round + v) % 2;
                    set(which == 0);
                    times[which].Add(Median(() => net.Step(), steps));
                }
            }

            set(true);
            double a = Median(times[0]), b = Median(times[1]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload}, {threads} thread(s): {on} {a:F4} ms, {off} {b:F4} ms ({b / a:F2}x)"));
        }
    }

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

    // The median of the times (ms) that a timed action returns.
    private static double MedianOfTimes(Func<double> timed, int calls)
    {
        timed();
        var times = new List<double>();
        for (int i = 0; i < calls; i++)
        {
            times.Add(timed());
        }

        return Median(times);
    }

    /// <summary>One workload's step, over and over for a while (a process to profile with perf), then its median.</summary>
    public static void Loop(string workload, int threads, double seconds)
    {
        var net = new Workloads { Workload = workload, Threads = threads };
        net.Setup();
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            times.Add(Median(() => net.Step(), 10));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload}, {threads} thread(s): {Median(times):F3} ms a step ({times.Count * 10} steps)"));
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
        Time("square 512", 512, 512, 512, false, false);
    }

    /// <summary>
    /// The dense products of the MLP on 1 and on 2 threads (one product split across the pool by
    /// rows or columns), in alternating blocks of 200 ms; checks that both give the same bits.
    /// </summary>
    public static void SplitAb()
    {
        void Ab(string name, int m, int n, int k, bool transposed)
        {
            float[] a = new float[m * k], b = new float[n * k], c1 = new float[m * n], c2 = new float[m * n];
            var random = new SeededRandom(3);
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = random.NextSingle() - 0.5f;
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] = random.NextSingle() - 0.5f;
            }

            Action Run(float[] c, int threads) => transposed
                ? () => MatMul.MultiplyTransposed(c, a, b, m, n, k, accumulate: false, threads)
                : () => MatMul.Multiply(c, a, 1, m, b, m, n, k, accumulate: false, threads);
            Action one = Run(c1, 1), two = Run(c2, 2);
            one();
            two();
            if (!c1.AsSpan().SequenceEqual(c2))
            {
                throw new InvalidOperationException(name + ": the split product's bits differ");
            }

            var ones = new List<double>();
            var twos = new List<double>();
            for (int block = 0; block < 10; block++)
            {
                ones.Add(Median(one, 100000));
                twos.Add(Median(two, 100000));
            }

            double t1 = Median(ones), t2 = Median(twos);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: [{m} x {k}] x [{k} x {n}]{(transposed ? " (B transposed)" : " (A transposed)")}: 1 thread {t1 * 1000:F1} us, 2 threads {t2 * 1000:F1} us ({t1 / t2:F2}x)"));
        }

        Ab("MLP first layer forward, batch 256", 256, 128, 784, true);
        Ab("MLP first layer weight gradient, batch 256", 128, 784, 256, false);
        Ab("MLP first layer forward, batch 32", 32, 128, 784, true);
        Ab("MLP first layer weight gradient, batch 32", 128, 784, 32, false);
        Ab("MLP first layer forward, batch 8", 8, 128, 784, true);
        Ab("MLP first layer weight gradient, batch 8", 128, 784, 8, false);
    }

    /// <summary>
    /// Each workload on 2 threads with the pool's shards owned by threads or taken in order, and with the
    /// optimizer step split or on one thread (the four combinations in turn, blocks of 250 ms, 12 rounds):
    /// what each of the two changes gives, both seeing the same spells of the host.
    /// </summary>
    public static void AffinityAb()
    {
        Console.WriteLine("| workload | in order, step on 1 thread | owned, step on 1 | in order, step split | owned, step split |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (string workload in Environment.GetEnvironmentVariable("NETGEN_WORKLOADS")?.Split(',') ?? new[] { "mlp-256", "mlp-32", "cnn-adam-64", "gpt-12" })
        {
            var w = new Workloads { Workload = workload, Threads = 2 };
            w.Setup();
            var blocks = Enumerable.Range(0, 4).Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < 12; round++)
            {
                for (int k = 0; k < 4; k++)
                {
                    int which = (round + k) % 4;
                    Workers.OwnedRanges = (which & 1) != 0;
                    Optimizer.SplitSteps = (which & 2) != 0;
                    var times = new List<double>();
                    var clock = Stopwatch.StartNew();
                    while (clock.ElapsedMilliseconds < 250 || times.Count < 3)
                    {
                        long start = Stopwatch.GetTimestamp();
                        w.Step();
                        times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }

                    if (round > 0)
                    {
                        blocks[which].Add(Median(times));
                    }
                }
            }

            Workers.OwnedRanges = true;
            Optimizer.SplitSteps = true;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {workload} | {Ms(Median(blocks[0]))} ms | {Ms(Median(blocks[1]))} ms | {Ms(Median(blocks[2]))} ms | {Ms(Median(blocks[3]))} ms |"));
        }
    }

    /// <summary>
    /// The FMA peak on 1 and on 2 threads at once: whether the machine's two "cores" have an FMA unit
    /// each (about twice the GFLOP/s) or share one (hyper-threads of one core, about the same).
    /// </summary>
    public static void Peaks()
    {
        var peak = new FmaPeak();
        peak.OneCore();
        for (int round = 0; round < 3; round++)
        {
            long start = Stopwatch.GetTimestamp();
            peak.OneCore();
            double one = FmaPeak.Flops / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            start = Stopwatch.GetTimestamp();
            var other = new Thread(() => peak.OneCore());
            other.Start();
            peak.OneCore();
            other.Join();
            double two = 2 * FmaPeak.Flops / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FMA peak: 1 thread {one:F1} GFLOP/s, 2 threads {two:F1} GFLOP/s together ({two / one:F2}x)"));
        }
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

    /// <summary>
    /// The MLP's SGD step at batch 1 and 32 as ComputeGradients does it (the first write of each
    /// gradient overwrites it) against ZeroGrad then AccumulateGradients (a pass to clear the 101,770
    /// gradients first), interleaved call by call.
    /// </summary>
    public static void FreshGradientsAb()
    {
        foreach (int batch in new[] { 1, 32 })
        {
            var net = new FashionMlp(batch, seed: 1);
            var sgd = new Sgd(1e-6f);
            float[] x = Enumerable.Range(0, batch * 784).Select(i => (i % 255) / 255f).ToArray();
            int[] y = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
            var written = new List<double>();
            var cleared = new List<double>();
            for (int i = 0; i < 4000; i++)
            {
                long start = Stopwatch.GetTimestamp();
                net.ComputeGradients(x, y);
                sgd.Step(net.Parameters, net.Gradients);
                written.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                start = Stopwatch.GetTimestamp();
                net.ZeroGrad();
                net.AccumulateGradients(x, y);
                sgd.Step(net.Parameters, net.Gradients);
                cleared.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            double w = Median(written), c = Median(cleared);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"MLP batch {batch}: written {w * 1000:F1} us, cleared first {c * 1000:F1} us ({c / w:F2}x)"));
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // Values in [-0.5, 0.5) from a seeded generator.
    private static float[] Values(int length, int seed)
    {
        var random = new SeededRandom(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = random.NextSingle() - 0.5f;
        }

        return values;
    }

    private static string Ms(double ms) => ms.ToString("F3", CultureInfo.InvariantCulture);

    // The median of repeated calls, in ms, with a budget of about 0.3 s per call site.
    internal static double Median(Action action, int maxCalls)
    {
        action();
        var times = new List<double>();
        var budget = Stopwatch.StartNew();
        while (times.Count < maxCalls && (times.Count < 5 || budget.ElapsedMilliseconds < 300))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }
}
