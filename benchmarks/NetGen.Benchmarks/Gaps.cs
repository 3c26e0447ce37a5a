using System.Diagnostics;
using System.Globalization;

namespace NetGen.Benchmarks;

/// <summary>
/// <c>--gaps</c>: how often, and for how long, the host takes each vCPU away. One thread per processor spins
/// reading the clock for 3 s; a gap of over 2 µs between two readings is time its vCPU did not run it (the host's
/// preemptions, or the guest's own interrupts, which /proc/interrupts counts). Per thread: the gaps by length, the
/// time they took, and the longest. A 2-thread step waits at each run's end for the later thread, so it pays
/// for the gaps of both vCPUs.
/// </summary>
internal static class GapsProbe
{
    private static readonly double[] Edges = { 2, 5, 20, 100, 1000 };

    public static void Run()
    {
        int count = Environment.ProcessorCount;
        var gaps = new long[count, Edges.Length];
        var lost = new double[count, Edges.Length];
        var longest = new double[count];
        var threads = Enumerable.Range(0, count).Select(t => new Thread(() => Spin(t, gaps, lost, longest))).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Console.WriteLine("| thread | 2-5 µs | 5-20 µs | 20-100 µs | 100-1000 µs | over 1000 µs | time lost | longest |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (int t = 0; t < count; t++)
        {
            var cells = Enumerable.Range(0, Edges.Length).Select(b => string.Create(CultureInfo.InvariantCulture, $"{gaps[t, b]} ({lost[t, b]:F1} ms)"));
            double total = Enumerable.Range(0, Edges.Length).Sum(b => lost[t, b]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {t} | {string.Join(" | ", cells)} | {total:F1} ms of 3,000 ({total / 30:F1} %) | {longest[t]:F0} µs |"));
        }
    }

    private static void Spin(int t, long[,] gaps, double[,] lost, double[] longest)
    {
        long frequency = Stopwatch.Frequency, threshold = frequency * 2 / 1_000_000;
        long last = Stopwatch.GetTimestamp(), end = last + (3 * frequency);
        while (last < end)
        {
            long now = Stopwatch.GetTimestamp();
            long gap = now - last;
            if (gap > threshold)
            {
                double us = gap * 1e6 / frequency;
                int bucket = Edges.Length - 1;
                while (bucket > 0 && us < Edges[bucket])
                {
                    bucket--;
                }

                gaps[t, bucket]++;
                lost[t, bucket] += us / 1000;
                longest[t] = Math.Max(longest[t], us);
            }

            last = now;
        }
    }
}
