namespace NetGen.Tests;

/// <summary>
/// The pool's trace (benchmarks' <c>--trace</c>): every shard of a run on the pool recorded once, started
/// and ended on the same thread, between the run's start and end. In MatMul's collection, which runs alone:
/// the trace is process-wide.
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class WorkerTraceTests
{
    [Fact]
    public void A_run_on_the_pool_records_each_shard_between_its_start_and_end()
    {
        var trace = new WorkerTrace(1024);
        Workers.Trace = trace;
        try
        {
            Workers.Shared.Run(new Counting(), 5, 2);
        }
        finally
        {
            Workers.Trace = null;
        }

        var events = Enumerable.Range(0, trace.Count).Select(i => trace[i]).ToList();
        Assert.Equal((WorkerTrace.Kind.RunStart, 0, 5), (events[0].Kind, events[0].Thread, events[0].Shard));
        Assert.Equal(WorkerTrace.Kind.RunEnd, events[^1].Kind);
        Assert.Single(events, e => e.Kind == WorkerTrace.Kind.CallerDone);
        Assert.All(events, e => Assert.InRange(e.Time, events[0].Time, events[^1].Time));
        for (int shard = 0; shard < 5; shard++)
        {
            var start = Assert.Single(events, e => e.Kind == WorkerTrace.Kind.ShardStart && e.Shard == shard);
            var end = Assert.Single(events, e => e.Kind == WorkerTrace.Kind.ShardEnd && e.Shard == shard);
            Assert.Equal(start.Thread, end.Thread);
            Assert.InRange(start.Thread, 0, Workers.Shared.StartedThreads); // the caller, or a pool thread (started by this run or an earlier one)
            Assert.True(events.IndexOf(start) < events.IndexOf(end));
        }

        Workers.Shared.Run(new Counting(), 5, 2); // with the trace off, nothing more is recorded
        Assert.Equal(events.Count, trace.Count);
    }

    [Fact]
    public void A_full_trace_keeps_its_first_events_and_clears()
    {
        var trace = new WorkerTrace(3);
        for (int i = 0; i < 5; i++)
        {
            trace.Mark(WorkerTrace.Kind.User, 0, i);
        }

        Assert.Equal(3, trace.Count);
        Assert.Equal(2, trace[2].Shard);
        trace.Clear();
        Assert.Equal(0, trace.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerTrace(0));
    }

    // Forward splits a batch as Evaluate does: by samples from twice MinSamplesPerThread (65) on, one run of a
    // shard a thread on the pool; a smaller one by the hidden units (a run for the hidden layer, one for the output
    // layer); 4 samples (less than 2^18 multiply-adds a thread in the hidden layer) stay on the calling thread.
    [Fact]
    public void Forward_splits_a_batch_worth_splitting_into_runs_on_the_pool()
    {
        var net = new FashionMlp(160, seed: 2) { Threads = 2 };
        var single = new FashionMlp(160, seed: 2);
        float[] x = Reference.RandomFloats(160 * FashionMlp.InputSize, 21);
        float[] outputs = new float[160 * FashionMlp.OutputSize], expected = new float[outputs.Length];
        single.Forward(x, expected);
        net.Forward(x, outputs); // the pool's thread started
        var runs = new List<int[]>();
        foreach (int batch in new[] { 4, 64, 160 })
        {
            var trace = new WorkerTrace(1024);
            Workers.Trace = trace;
            try
            {
                Array.Clear(outputs);
                net.Forward(x.AsSpan(0, batch * FashionMlp.InputSize), outputs.AsSpan(0, batch * FashionMlp.OutputSize));
            }
            finally
            {
                Workers.Trace = null;
            }

            var events = Enumerable.Range(0, trace.Count).Select(i => trace[i]).ToList();
            runs.Add(events.Where(e => e.Kind == WorkerTrace.Kind.RunStart).Select(e => e.Shard).ToArray()); // a run's start records its shard count
            Assert.Equal(runs[^1].Sum(), events.Count(e => e.Kind == WorkerTrace.Kind.ShardEnd));
            for (int i = 0; i < batch * FashionMlp.OutputSize; i++)
            {
                Assert.True(Math.Abs(outputs[i] - expected[i]) <= 1e-6, $"batch {batch}, outputs[{i}]: {outputs[i]} on 2 threads, {expected[i]} on one");
            }
        }

        Assert.Empty(runs[0]);
        Assert.Equal(new[] { 2, 2 }, runs[1]);
        Assert.Equal(new[] { 2 }, runs[2]);
    }

    private sealed class Counting : IShardedWork
    {
        private int _ran;

        public void RunShard(int shard) => Interlocked.Increment(ref _ran);
    }
}
