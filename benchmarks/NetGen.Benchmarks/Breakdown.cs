using System.Diagnostics;
using System.Globalization;
using System.Reflection;
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
public static partial class Breakdown
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

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload}, {threads} thread(s): {Median(times) * 1000:F2} µs a step ({times.Count * 10} steps)"));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // Values in [-0.5, 0.5) from a seeded generator.
    internal static float[] Values(int length, int seed)
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
