using System.Diagnostics;
using System.Globalization;

namespace NetGen.Benchmarks;

// Comparisons of the same work two ways, alternating in one process: one thread against two, and the kernels' switches on and off.
public static partial class Breakdown
{
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
            (double one, double two, int blocks) = AlternateThreads(workload, rounds: 12);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {workload} | {Ms(one)} ms | {Ms(two)} ms | {one / two:F2}x | {blocks} |"));
        }
    }

    /// <summary>
    /// <paramref name="workload"/>'s step on 1 and on 2 threads in alternating blocks of 250 ms, <paramref name="rounds"/>
    /// of each, after 20 warm-up steps of each: the median of the blocks' medians (ms) for each thread count.
    /// </summary>
    public static (double One, double Two, int Blocks) AlternateThreads(string workload, int rounds)
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

        for (int round = 0; round < rounds; round++)
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
        return (blocks[0][blocks[0].Count / 2], blocks[1][blocks[1].Count / 2], blocks[0].Count);
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
    /// <summary>The MLP at batch 32 and the sample's MLP at 64 (too small to split by samples) split by their hidden units against their products split.</summary>
    public static void UnitsAb()
    {
        SwitchAb("split by units", "products split", on => Kernels.SplitUnits = on, "mlp-32");
        SwitchAb("split by units", "products split", on => Kernels.SplitUnits = on, "sample-mlp-64");
    }

    public static void TapsAb() => SwitchAb("weight gradient on the padded input", "im2col", on => ConvKernels.WeightGradientOnPadded = on);

    /// <summary>The sample CNN's step with A·Bᵀ of few rows by 512-bit dot products against the packed product, alternating blocks.</summary>
    public static void WideDotsAb() => SwitchAb("wide dots", "packed", on => MatMul.DotFewRows = on);

    /// <summary>The MLP's batch-1 Adam step with the deferred gradient made where Adam applies it against written into a block, alternating.</summary>
    public static void AdamBlockAb(bool use256)
    {
        bool saved = MatMul.Use512;
        MatMul.Use512 = saved && !use256;
        SwitchAb("a block of rows a call", "a row a call", on => Adam.BlockRows = on, "mlp-adam-1", 1000);
        MatMul.Use512 = saved;
    }

    /// <summary>The MLP's SGD step at batch 4 and 6 with A·Bᵀ of 4 to 7 rows by dot products against packed, alternating.</summary>
    public static void FewRowsAb()
    {
        SwitchAb("dot products", "packed", on => MatMul.FewRowsByDots = on, "mlp-4", 1000);
        SwitchAb("dot products", "packed", on => MatMul.FewRowsByDots = on, "mlp-6", 1000);
    }

    public static void AdamRowsAb() => SwitchAb("rows made in the update", "a block written", on => Adam.DeferredRows = on, "mlp-adam-1", 1000);

    // A workload's step (the sample CNN's unless named) on 1 and 2 threads with a switch on and off, in alternating
    // blocks of up to `steps` steps, after half a second of each.
    private static void SwitchAb(string on, string off, Action<bool> set, string workload = "cnn-adam-64", int steps = 40)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var net = new Workloads { Workload = workload, Threads = threads };
            net.Setup();
            foreach (bool warm in new[] { true, false }) // each form's code optimised before it is timed (0.5 s each)
            {
                set(warm);
                var clock = Stopwatch.StartNew();
                while (clock.ElapsedMilliseconds < 500)
                {
                    net.Step();
                }
            }

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
}
