using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace NetGen;

/// <summary>Work split into shards that may run at the same time, each shard writing only buffers of its own.</summary>
public interface IShardedWork
{
    /// <summary>Runs shard <paramref name="shard"/>; called once per shard, on any thread.</summary>
    /// <param name="shard">In [0, the count given to <see cref="Workers.Run(IShardedWork, int, int)"/>).</param>
    void RunShard(int shard);
}

/// <summary>
/// The threads that run a generated network's shards: started once, on first use, and parked between
/// calls, so that a training step starts no thread and allocates nothing. The caller runs shards too
/// (the first of them), each pool thread the next: a thread runs the same shards step after step, so
/// that their buffers stay in its core's caches (the 0.5 MB of a share's activations, say, which would
/// otherwise move between the cores), and takes another's last ones when it is done with its own.
/// Which thread runs which shard does not matter for the results: a
/// shard writes only its own buffers, and the caller combines them in shard order afterwards, so that a
/// given shard count gives the same bits on every run. When another network is using the pool, the
/// caller runs all its shards itself (same results, one core).
/// </summary>
public sealed class Workers
{
    /// <summary>The most threads a network may ask for.</summary>
    public const int MaxThreads = 64;

    // How long a thread spins for the next run (a worker) or for the last shard (the caller) before it
    // sleeps: in training, runs follow each other within microseconds, and waking a sleeping thread
    // costs tens of microseconds on a virtual machine. OpenMP runtimes spin far longer by default.
    private static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    private readonly object _gate = new();
    private int _sleepers; // workers waiting on _gate for the next generation
    // Released once per run by the thread that finishes its last shard. A semaphore, not a
    // ManualResetEventSlim: that one creates its lock object on the first wait that blocks, which
    // would be an allocation in some training step long after the warm-up.
    private readonly SemaphoreSlim _done = new(0);
    private Thread[] _threads = Array.Empty<Thread>();
    private int _busy;
    private IShardedWork? _work;
    private int _rangeCount; // the run's threads with shards of their own
    private long _generation; // the run's number: runs start at 1
    // Per thread of the run, the shards it owns that no thread has taken yet: the run's generation (low 32
    // bits) in the high 32 bits, then the first and the end of the range (16 bits each). The owner takes
    // from the front, the others from the back; a thread still holding an earlier run cannot take any.
    private readonly long[] _ranges = new long[MaxThreads];
    private int _remaining;
    private Exception? _error;

    /// <summary>
    /// Whether thread t owns the t-th range of a run's shards (true), or every thread takes the next
    /// shard left in order, as before 2026-11-29 (false): a switch for benchmarks to compare the two.
    /// </summary>
    internal static bool OwnedRanges { get; set; } = true;

    /// <summary>Where runs on the pool record what their threads did (benchmarks' <c>--trace</c>); null: nowhere.</summary>
    internal static WorkerTrace? Trace { get; set; }

    private Workers()
    {
    }

    /// <summary>The process's pool.</summary>
    public static Workers Shared { get; } = new();

    /// <summary>Pool threads started so far (the most any run has needed, less the caller).</summary>
    public int StartedThreads => Volatile.Read(ref _threads).Length;

    /// <summary>
    /// Runs <c>work.RunShard(s)</c> for every s in [0, <paramref name="count"/>) and returns when all have
    /// finished; the first exception a shard throws is rethrown here, after every shard has stopped.
    /// </summary>
    /// <param name="work">The work.</param>
    /// <param name="count">Shards, 1 to <see cref="MaxThreads"/>; one thread per shard at most.</param>
    public void Run(IShardedWork work, int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxThreads);
        Run(work, count, Math.Max(1, count));
    }

    /// <summary>
    /// Runs <c>work.RunShard(s)</c> for every s in [0, <paramref name="count"/>) on up to
    /// <paramref name="threads"/> threads: the caller and pool threads 1, 2..., thread t owning the
    /// contiguous t-th of the shards. Each runs its own in order, then takes the others' last ones
    /// that are left: with the same count and threads, a steady loop runs each shard on the same
    /// thread (its buffers stay in that core's caches), and more shards than threads balance the load
    /// when one core runs slower than another (a busy neighbour on a virtual machine). Returns when
    /// all have finished; the first exception a shard throws is rethrown here, after every shard has stopped.
    /// </summary>
    /// <param name="work">The work.</param>
    /// <param name="count">Shards, 1 to 65,535.</param>
    /// <param name="threads">Threads, 1 to <see cref="MaxThreads"/>; pool threads started by an earlier
    /// run that asked for more may take shards too.</param>
    public void Run(IShardedWork work, int count, int threads)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threads, MaxThreads);
        if (count == 1 || threads == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            RunHere(work, count);
            return;
        }

        try
        {
            int owners = Math.Min(count, threads);
            EnsureThreads(owners - 1);
            if (!OwnedRanges)
            {
                owners = 1; // one range, every thread taking from its front
            }

            WorkerTrace? trace = Trace;
            trace?.Mark(WorkerTrace.Kind.RunStart, 0, count); // before any thread can see the run
            _error = null;
            long generation = _generation + 1;
            // Thread t (the caller is 0, pool thread i is i) owns shards [t·count/owners, (t + 1)·count/owners):
            // in a steady loop the same thread runs the same shards, whose buffers stay in its core's caches.
            for (int t = 0; t < owners; t++)
            {
                Volatile.Write(ref _ranges[t], Range(generation, (int)((long)t * count / owners), (int)((long)(t + 1) * count / owners)));
            }

            _rangeCount = owners;
            Volatile.Write(ref _remaining, count);
            Volatile.Write(ref _work, work);
            // The new generation last: a thread that sees it sees the ranges and the work. (Interlocked: a full
            // fence between it and the read of _sleepers below; a worker going to sleep counts itself, then
            // reads the generation, both under the lock.)
            Interlocked.Exchange(ref _generation, generation);
            if (Volatile.Read(ref _sleepers) > 0)
            {
                lock (_gate)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            Drain(0);
            trace?.Mark(WorkerTrace.Kind.CallerDone, 0, 0);
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref _remaining) > 0 && Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(20);
            }

            _done.Wait();
            trace?.Mark(WorkerTrace.Kind.RunEnd, 0, 0);
            _work = null;
            if (_error is { } error)
            {
                ExceptionDispatchInfo.Capture(error).Throw();
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    // Every shard on the calling thread, in order; as on the pool, a shard's exception waits until all have run.
    private static void RunHere(IShardedWork work, int count)
    {
        Exception? error = null;
        for (int s = 0; s < count; s++)
        {
            try
            {
                work.RunShard(s);
            }
            catch (Exception e)
            {
                error ??= e;
            }
        }

        if (error is not null)
        {
            ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    private static long Range(long generation, int first, int end) => ((generation & 0xFFFFFFFF) << 32) | ((long)first << 16) | (uint)end;

    // Takes shards until none is left: its own in order, then the others' from their ends (a thread that
    // runs slower than the others, or started late, leaves them its last shards). The thread that
    // finishes the last one signals the caller.
    private void Drain(int self)
    {
        long generation = Volatile.Read(ref _generation) & 0xFFFFFFFF;
        IShardedWork? work = Volatile.Read(ref _work);
        int owners = Volatile.Read(ref _rangeCount);
        if (work is null)
        {
            return;
        }

        if (self < owners)
        {
            while (Take(self, generation, fromFront: true, out int s))
            {
                RunShard(work, s, self);
            }
        }

        for (int i = 1; i <= owners; i++)
        {
            int other = (self + i) % owners;
            while (other != self && Take(other, generation, fromFront: !OwnedRanges, out int s))
            {
                RunShard(work, s, self);
            }
        }
    }

    // Claims the first (or last) shard left in thread t's range, if it is still this generation's.
    private bool Take(int t, long generation, bool fromFront, out int shard)
    {
        while (true)
        {
            long range = Volatile.Read(ref _ranges[t]);
            int first = (int)((range >> 16) & 0xFFFF), end = (int)(range & 0xFFFF);
            if ((range >> 32 & 0xFFFFFFFF) != generation || first >= end)
            {
                shard = -1;
                return false;
            }

            shard = fromFront ? first : end - 1;
            long taken = fromFront ? Range(generation, first + 1, end) : Range(generation, first, end - 1);
            if (Interlocked.CompareExchange(ref _ranges[t], taken, range) == range)
            {
                return true;
            }
        }
    }

    private void RunShard(IShardedWork work, int shard, int self)
    {
        WorkerTrace? trace = Trace;
        trace?.Mark(WorkerTrace.Kind.ShardStart, self, shard);
        try
        {
            work.RunShard(shard);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }

        trace?.Mark(WorkerTrace.Kind.ShardEnd, self, shard);

        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _done.Release();
        }
    }

    private void EnsureThreads(int wanted)
    {
        if (_threads.Length >= wanted)
        {
            return;
        }

        lock (_gate)
        {
            var threads = new Thread[wanted];
            Array.Copy(_threads, threads, _threads.Length);
            for (int i = _threads.Length; i < wanted; i++)
            {
                int self = i + 1;
                threads[i] = new Thread(() => Loop(self)) { IsBackground = true, Name = "NetGen worker " + self };
                threads[i].Start();
            }

            Volatile.Write(ref _threads, threads);
        }
    }

    private long Generation => Volatile.Read(ref _generation);

    private void Loop(int self)
    {
        long seen = 0; // the generation this thread last took part in (runs start at 1)
        while (true)
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            while (Generation == seen && Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(20);
            }

            if (Generation == seen)
            {
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Generation == seen)
                    {
                        Monitor.Wait(_gate);
                    }

                    Interlocked.Decrement(ref _sleepers);
                }
            }

            seen = Generation;
            Drain(self);
        }
    }
}
