using System.Diagnostics;

namespace NetGen.Benchmarks;

/// <summary>
/// Several ways of taking a step, timed in alternating blocks of 250 ms in one process (the host's spells then
/// fall on all of them alike): in each round every step takes a block, the order rotated round by round; the
/// first round is a warm-up. Returns each step's median over the rounds of its blocks' medians, in ms.
/// </summary>
internal static class AlternatingBlocks
{
    public static double[] Medians(Action[] steps, int rounds)
    {
        var blocks = steps.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds; round++)
        {
            for (int k = 0; k < steps.Length; k++)
            {
                int which = (round + k) % steps.Length;
                var times = new List<double>();
                var clock = Stopwatch.StartNew();
                while (clock.ElapsedMilliseconds < 250 || times.Count < 3)
                {
                    long start = Stopwatch.GetTimestamp();
                    steps[which]();
                    times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }

                if (round > 0)
                {
                    times.Sort();
                    blocks[which].Add(times[times.Count / 2]);
                }
            }
        }

        return blocks.Select(b => b.Order().ElementAt(b.Count / 2)).ToArray();
    }

    /// <summary>The largest difference between two parameter buffers, relative to the first's values (at least 1e-3).</summary>
    public static double LargestRelativeDifference(ReadOnlySpan<float> reference, ReadOnlySpan<float> other)
    {
        double worst = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(reference[i] - other[i]) / Math.Max(1e-3, Math.Abs(reference[i])));
        }

        return worst;
    }
}
