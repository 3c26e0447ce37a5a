using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;

namespace NetGen.Benchmarks;

/// <summary>
/// <c>--crossing</c>: what it costs here to hand data from one core to the other. Two threads take turns:
/// one writes a buffer, the other then reads it (a sum) or writes over it; against the reader reading a buffer it wrote
/// itself, and against the writer reading what it has just written. Also the round trip of a flag between
/// the two spinning threads (what a run on the pool pays to start and to end, at the least).
/// </summary>
public static class CrossingProbe
{
    private const int Rounds = 400;

    public static void Run()
    {
        for (int i = 0; i < 3; i++)
        {
            Measure(1 << 18, write: false); // warm-up: the loops' tiered code
            Measure(1 << 18, write: true);
            Thread.Sleep(200);
        }

        Console.WriteLine("| buffer | read after the other core wrote it | read after this core wrote it | GB/s crossing | GB/s own | written over after the other core wrote it | after this core did |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (int kb in new[] { 16, 64, 256, 400, 800, 1600 })
        {
            (double crossed, double own) = Measure(kb * 256, write: false);
            (double wCrossed, double wOwn) = Measure(kb * 256, write: true);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {kb} KB | {crossed:F1} µs | {own:F1} µs | {kb * 1.024 / crossed:F1} | {kb * 1.024 / own:F1} | {wCrossed:F1} µs | {wOwn:F1} µs |"));
        }

        Console.WriteLine();
        Console.WriteLine("| buffer | written over after both cores read it | after only this core read it |");
        Console.WriteLine("| ---: | ---: | ---: |");
        foreach (int kb in new[] { 16, 64, 200, 400 })
        {
            (double held, double alone) = MeasureHeld(kb * 256);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {kb} KB | {held:F1} µs | {alone:F1} µs |"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flag round trip between the two threads: {RoundTrip():F2} µs (median of {Rounds * 10})"));
    }

    // Medians (µs) of the reader's sum over (or fill of) a buffer the other thread has just written, and of one it wrote itself.
    private static (double Crossed, double Own) Measure(int floats, bool write)
    {
        float[] shared = new float[floats], mine = new float[floats];
        var crossed = new List<double>();
        var own = new List<double>();
        int turn = 0; // even: the writer's turn; odd: the reader's
        var writer = new Thread(() =>
        {
            for (int r = 0; r < Rounds; r++)
            {
                while (Volatile.Read(ref turn) != 2 * r)
                {
                    Thread.SpinWait(1);
                }

                shared.AsSpan().Fill(r);
                Volatile.Write(ref turn, (2 * r) + 1);
            }
        });
        writer.Start();
        float sink = 0;
        for (int r = 0; r < Rounds; r++)
        {
            while (Volatile.Read(ref turn) != (2 * r) + 1)
            {
                Thread.SpinWait(1);
            }

            long start = Stopwatch.GetTimestamp();
            if (write)
            {
                shared.AsSpan().Fill(-r);
            }
            else
            {
                sink += TensorPrimitives.Sum(shared);
            }

            crossed.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            mine.AsSpan().Fill(r);
            start = Stopwatch.GetTimestamp();
            if (write)
            {
                mine.AsSpan().Fill(-r);
            }
            else
            {
                sink += TensorPrimitives.Sum(mine);
            }

            own.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            Volatile.Write(ref turn, 2 * (r + 1));
        }

        writer.Join();
        GC.KeepAlive(sink);
        return (Median(crossed), Median(own));
    }

    // Medians (µs) of this thread writing over a buffer it wrote, after the other thread read it too (each line then
    // held by both cores), and over one that only this thread read.
    private static (double Held, double Alone) MeasureHeld(int floats)
    {
        float[] shared = new float[floats], mine = new float[floats];
        var held = new List<double>();
        var alone = new List<double>();
        int turn = 0; // odd: the other thread's turn to read
        float otherSink = 0;
        var other = new Thread(() =>
        {
            for (int r = 0; r < Rounds; r++)
            {
                while (Volatile.Read(ref turn) != (2 * r) + 1)
                {
                    Thread.SpinWait(1);
                }

                otherSink += TensorPrimitives.Sum(shared);
                Volatile.Write(ref turn, 2 * (r + 1));
            }
        });
        other.Start();
        float sink = 0;
        for (int r = 0; r < Rounds; r++)
        {
            shared.AsSpan().Fill(r);
            sink += TensorPrimitives.Sum(shared);
            Volatile.Write(ref turn, (2 * r) + 1);
            while (Volatile.Read(ref turn) != 2 * (r + 1))
            {
                Thread.SpinWait(1);
            }

            long start = Stopwatch.GetTimestamp();
            shared.AsSpan().Fill(-r);
            held.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            mine.AsSpan().Fill(r);
            sink += TensorPrimitives.Sum(mine);
            start = Stopwatch.GetTimestamp();
            mine.AsSpan().Fill(-r);
            alone.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        other.Join();
        GC.KeepAlive(sink + otherSink);
        return (Median(held), Median(alone));
    }

    private static double RoundTrip()
    {
        int n = Rounds * 10;
        int flag = 0;
        var other = new Thread(() =>
        {
            for (int r = 0; r < n; r++)
            {
                while (Volatile.Read(ref flag) != (2 * r) + 1)
                {
                }

                Volatile.Write(ref flag, (2 * r) + 2);
            }
        });
        other.Start();
        var times = new List<double>();
        for (int r = 0; r < n; r++)
        {
            long start = Stopwatch.GetTimestamp();
            Volatile.Write(ref flag, (2 * r) + 1);
            while (Volatile.Read(ref flag) != (2 * r) + 2)
            {
            }

            times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        other.Join();
        return Median(times);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
