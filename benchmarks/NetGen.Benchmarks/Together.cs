using System.Diagnostics;
using System.Globalization;

namespace NetGen.Benchmarks;

/// <summary>
/// <c>--together</c>: what running at once costs the two vCPUs when they share nothing. Each thread has its own copy
/// of everything (input, weight, outputs, weight gradient: no cache line is read or written by both), and the two
/// threads start each call together (a spin barrier); each call is timed on its thread, against the same call timed
/// with the other thread idle, in alternating rounds. The shapes are the parts a 2-thread step of the 784-128-10 MLP
/// gives each thread: at batch 32 and 256, a block of 64 of the first layer's units for the whole batch (the split by
/// units), and at 256 all 128 units for half of the batch (the split by samples). Whatever the 2-thread step loses
/// beyond these parts' slowdown is its own (crossings, waits); the slowdown itself is the machine's. Each shape
/// runs warm (one copy, called again and again: in L2) and cold (each call on the next of four copies, which
/// together do not fit in L2: from L3, as in a step, whose tensors do not all fit either); and the blocks of units
/// once more with one input that both threads read, as the split by units' blocks read the batch.
/// </summary>
internal static class TogetherProbe
{
    private const int In = 784, Out = 128, Calls = 60, Rounds = 12;

    public static void Run()
    {
        Console.WriteLine("| part | call | alone (median) | both at once, caller | both at once, other | slower by |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: |");
        foreach ((string name, int rows, int units, int copies, bool shareInput) in new[]
        {
            ("units, batch 32", 32, 64, 1, false), ("units, batch 256", 256, 64, 1, false), ("samples, batch 256", 128, 128, 1, false),
            ("units, batch 32, cold", 32, 64, 4, false), ("samples, batch 256, cold", 128, 128, 4, false),
            ("units, batch 32, one input read by both", 32, 64, 1, true), ("units, batch 256, one input read by both", 256, 64, 1, true),
        })
        {
            var first = new Part(rows, units, seed: 1, copies, input: null);
            var parts = new[] { first, new Part(rows, units, seed: 2, copies, input: shareInput ? first.Input : null) };
            foreach ((string call, Action<Part> work) in new (string, Action<Part>)[] { ("forward", p => p.Forward()), ("weight gradient", p => p.WeightGradient()) })
            {
                var alone = new List<double>();
                var both = new[] { new List<double>(), new List<double>() };
                for (int round = 0; round < Rounds; round++)
                {
                    alone.AddRange(TimeAlone(parts[0], work));
                    (double[] mine, double[] other) = TimeTogether(parts, work);
                    both[0].AddRange(mine);
                    both[1].AddRange(other);
                }

                double a = Median(alone), b0 = Median(both[0]), b1 = Median(both[1]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} ({rows} rows, {units} units) | {call} | {a:F1} µs | {b0:F1} µs | {b1:F1} µs | {((b0 + b1) / (2 * a)) - 1:P0} |"));
            }
        }
    }

    private static double[] TimeAlone(Part part, Action<Part> work)
    {
        var times = new double[Calls];
        for (int i = 0; i < Calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            work(part);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return times;
    }

    // Both threads call `work` on their own part Calls times, meeting at a spin barrier before each call.
    private static (double[] Mine, double[] Other) TimeTogether(Part[] parts, Action<Part> work)
    {
        var times = new[] { new double[Calls], new double[Calls] };
        int arrived = 0;
        void Loop(int thread)
        {
            for (int i = 0; i < Calls; i++)
            {
                Interlocked.Increment(ref arrived);
                while (Volatile.Read(ref arrived) < 2 * (i + 1))
                {
                    Thread.SpinWait(1);
                }

                long start = Stopwatch.GetTimestamp();
                work(parts[thread]);
                times[thread][i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
        }

        var other = new Thread(() => Loop(1));
        other.Start();
        Loop(0);
        other.Join();
        return (times[0], times[1]);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // One thread's own tensors, in `copies` copies taken in turn: the layer [rows, 784] -> [rows, 128], of which it
    // computes `units` units.
    private sealed class Part(int rows, int units, int seed, int copies, float[][]? input)
    {
        private readonly float[][] _x = input ?? Copies(copies, () => Breakdown.Values(rows * In, seed));
        private readonly float[][] _w = Copies(copies, () => Breakdown.Values(Out * In, seed + 10));
        private readonly float[] _b = new float[Out];
        private readonly float[][] _y = Copies(copies, () => new float[rows * Out]);
        private readonly float[][] _dy = Copies(copies, () => Breakdown.Values(rows * Out, seed + 20));
        private readonly float[][] _dw = Copies(copies, () => new float[Out * In]);
        private int _next;

        /// <summary>The input's copies, for a part that reads the same input (as both blocks of a split by units do).</summary>
        public float[][] Input => _x;

        public void Forward()
        {
            int c = Next();
            Kernels.DenseForwardColumns(_y[c], _x[c], _w[c], _b, rows, In, Out, 0, units);
        }

        public void WeightGradient()
        {
            int c = Next();
            Kernels.DenseBackwardColumns(_dw[c], default, _dy[c], _x[c], rows, In, Out, 0, units, accumulate: false);
        }

        private int Next() => _next = (_next + 1) % copies;

        private static float[][] Copies(int count, Func<float[]> make) => Enumerable.Range(0, count).Select(_ => make()).ToArray();
    }
}
