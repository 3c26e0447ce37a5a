using System.Diagnostics;
using System.Globalization;

namespace NetGen.Benchmarks;

/// <summary>
/// <c>--trace WORKLOAD THREADS</c>: where a step on several threads spends its time. After 2 s of
/// warm-up, 300 steps with <see cref="Workers.Trace"/> on; then, for each of a step's runs on the pool
/// (a phase of the shards, the gradients' reduction, the optimizer's parts), the medians of the serial
/// gap before it, the caller's and the other thread's time in shards, and the run's time; and each
/// shard's median time on each thread that ran it (how often a thread took another's shard).
/// </summary>
public static class TraceProbe
{
    private const int Steps = 300;

    public static void Run(string workload, int threads)
    {
        Action step;
        if (workload.StartsWith("units-", StringComparison.Ordinal))
        {
            step = UnitSplitMlp.Stepper(int.Parse(workload["units-".Length..], CultureInfo.InvariantCulture), threads);
        }
        else if (workload == "inputs-256")
        {
            step = InputSplitMlp.Stepper(threads);
        }
        else
        {
            var w = new Workloads { Workload = workload, Threads = threads };
            w.Setup();
            step = () => w.Step();
        }

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < 2)
        {
            step();
        }

        var trace = new WorkerTrace(1 << 22);
        Workers.Trace = trace;
        try
        {
            for (int i = 0; i < Steps; i++)
            {
                trace.Mark(WorkerTrace.Kind.User, 0, 0);
                step();
            }

            trace.Mark(WorkerTrace.Kind.User, 0, 0);
        }
        finally
        {
            Workers.Trace = null;
        }

        Report(workload, threads, trace);
    }

    private static void Report(string workload, int threads, WorkerTrace trace)
    {
        static double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
        var runs = new SortedDictionary<int, List<double[]>>(); // run index in the step -> [gap, caller busy, others busy, run]
        var shards = new SortedDictionary<(int Run, int Shard, int Thread), List<double>>();
        var steps = new List<double>();
        long stepStart = 0, lastEnd = 0, runStart = 0;
        int run = -1;
        double[] busy = new double[256];
        long[] open = new long[256];
        for (int e = 0; e < trace.Count; e++)
        {
            (long time, WorkerTrace.Kind kind, int thread, int shard) = trace[e];
            switch (kind)
            {
                case WorkerTrace.Kind.User:
                    if (stepStart != 0)
                    {
                        steps.Add(Us(time - stepStart));
                    }

                    stepStart = lastEnd = time;
                    run = -1;
                    break;
                case WorkerTrace.Kind.RunStart:
                    run++;
                    runStart = time;
                    Array.Clear(busy);
                    Get(runs, run).Add(new[] { Us(time - lastEnd), 0, 0, 0 });
                    break;
                case WorkerTrace.Kind.ShardStart:
                    open[thread] = time;
                    break;
                case WorkerTrace.Kind.ShardEnd when run >= 0:
                    busy[thread] += Us(time - open[thread]);
                    Get(shards, (run, shard, thread)).Add(Us(time - open[thread]));
                    break;
                case WorkerTrace.Kind.RunEnd when run >= 0:
                    double[] r = runs[run][^1];
                    r[1] = busy[0];
                    r[2] = busy.Skip(1).Sum();
                    r[3] = Us(time - runStart);
                    lastEnd = time;
                    break;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload} on {threads} threads: {Median(steps):F1} µs a step (median of {steps.Count}; medians below, µs)"));
        Console.WriteLine("| run | serial gap before | caller in shards | others in shards | run |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: |");
        foreach ((int index, List<double[]> list) in runs)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {index} | {Median(list.Select(r => r[0])):F1} | {Median(list.Select(r => r[1])):F1} | {Median(list.Select(r => r[2])):F1} | {Median(list.Select(r => r[3])):F1} |"));
        }

        Console.WriteLine();
        Console.WriteLine("| run | shard | thread | times run | median |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: |");
        foreach (((int r, int s, int t), List<double> list) in shards)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r} | {s} | {t} | {list.Count} | {Median(list):F1} |"));
        }
    }

    private static List<T> Get<TKey, T>(SortedDictionary<TKey, List<T>> map, TKey key)
        where TKey : notnull
    {
        if (!map.TryGetValue(key, out List<T>? list))
        {
            map[key] = list = new List<T>();
        }

        return list;
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }
}
