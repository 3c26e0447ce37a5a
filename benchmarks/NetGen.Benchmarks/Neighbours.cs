using System.Diagnostics;
using System.Globalization;

namespace NetGen.Benchmarks;

/// <summary>
/// <c>--neighbours</c>: what a block of a layer split by units leaves in the other block's cache lines. The caller
/// computes block 0 of the 784-128-10 MLP's first layer at batch 32 (<see cref="Kernels.DenseForwardColumns"/>,
/// rows 0-63 of the weight) while the pool thread idles; then the pool thread writes one value a line over rows
/// 64-127 (its block, which it wrote last, as its optimizer does every step). Medians of the pool thread's write,
/// with the block read upwards (as before session 19) and downwards (<see cref="MatMul.AwayFromNeighbours"/>),
/// alternating, against the same write after the caller computed on another weight (nothing of the pool's read).
/// </summary>
public static class NeighboursProbe
{
    private const int In = 784, Out = 128, Rows = 32;

    public static void Run()
    {
        var probe = new Probe();
        var times = new[] { new List<double>(), new List<double>(), new List<double>() }; // upwards, downwards, other weight
        for (int round = 0; round < 3000; round++)
        {
            int mode = round % 3;
            MatMul.AwayFromNeighbours = mode == 1;
            probe.Phase = Probe.Write;
            Workers.Shared.Run(probe, 2, 2); // the pool's rows written by the pool: in its cache alone
            probe.Phase = mode == 2 ? Probe.ForwardOther : Probe.Forward;
            Workers.Shared.Run(probe, 2, 2);
            probe.Phase = Probe.Write;
            Workers.Shared.Run(probe, 2, 2);
            if (round >= 300 && !double.IsNaN(probe.PoolWrite))
            {
                times[mode].Add(probe.PoolWrite);
            }
        }

        MatMul.AwayFromNeighbours = true;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the pool thread's write over its 64 rows (200 KB) after the caller's block 0, medians of up to 900 (those the pool thread ran): read upwards {Median(times[0]):F1} µs, downwards {Median(times[1]):F1} µs; after a block of another weight {Median(times[2]):F1} µs"));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private sealed class Probe : IShardedWork
    {
        public const int Write = 0, Forward = 1, ForwardOther = 2;

        private readonly float[] _w = new float[Out * In], _other = new float[Out * In], _x = new float[Rows * In], _y = new float[Rows * Out], _b = new float[Out];

        public int Phase { get; set; }

        public int Caller { get; } = Environment.CurrentManagedThreadId;

        public double PoolWrite { get; private set; }

        public void RunShard(int shard)
        {
            if (Phase == Write)
            {
                // Each thread its own rows (so that the caller, done early, does not take the pool's shard).
                long start = Stopwatch.GetTimestamp();
                for (int i = shard * 64 * In; i < (shard + 1) * 64 * In; i += 16)
                {
                    _w[i] += 1f;
                }

                if (shard == 1)
                {
                    PoolWrite = Environment.CurrentManagedThreadId == Caller ? double.NaN : Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
            }
            else if (shard == 0)
            {
                Kernels.DenseForwardColumns(_y, _x, Phase == Forward ? _w : _other, _b, Rows, In, Out, 0, 64);
            }
        }
    }
}
