using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace NetGen;

/// <summary>Work split into shards that may run at the same time, each shard writing only buffers of its own.</summary>
public interface IShardedWork
{
    /// <summary>Runs shard <paramref name="shard"/>; called once per shard, on any thread.</summary>
    /// <param name="shard">In [0, the count given to <see cref="Workers.Run"/>).</param>
    void RunShard(int shard);
}

/// <summary>
/// The threads that run a generated network's shards: started once, on first use, and parked between
/// calls, so that a training step starts no thread and allocates nothing. The caller runs shards too;
/// the pool threads take the rest. Which thread runs which shard does not matter for the results: a
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
    private int _count;
    private long _ticket; // the run's generation in the high 32 bits, the next shard to take in the low 32
    private int _remaining;
    private Exception? _error;

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
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxThreads);
        if (count == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int s = 0; s < count; s++)
            {
                work.RunShard(s);
            }

            return;
        }

        try
        {
            EnsureThreads(count - 1);
            _error = null;
            _count = count;
            Volatile.Write(ref _remaining, count);
            Volatile.Write(ref _work, work);
            // A new generation, shard 0 next: a thread still holding the previous run can take nothing of this one.
            // (Interlocked: a full fence between the new ticket and the read of _sleepers below; a worker
            // going to sleep counts itself, then reads the ticket, both under the lock.)
            Interlocked.Exchange(ref _ticket, ((Volatile.Read(ref _ticket) >> 32) + 1) << 32);
            if (Volatile.Read(ref _sleepers) > 0)
            {
                lock (_gate)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            Drain();
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref _remaining) > 0 && Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(20);
            }

            _done.Wait();
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

    // Takes shards until none is left; the thread that finishes the last one signals the caller.
    private void Drain()
    {
        long ticket = Volatile.Read(ref _ticket);
        IShardedWork? work = Volatile.Read(ref _work);
        int count = _count;
        while (work is not null)
        {
            // Claim (generation, s) only if it is still this run's and a shard is left.
            int s = (int)(ticket & 0xFFFFFFFF);
            if (s >= count)
            {
                return;
            }

            long seen = Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket);
            if (seen != ticket)
            {
                if ((seen >> 32) != (ticket >> 32))
                {
                    return; // a later run: not ours
                }

                ticket = seen;
                continue;
            }

            ticket++;

            try
            {
                work.RunShard(s);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }

            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.Release();
            }
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
                threads[i] = new Thread(Loop) { IsBackground = true, Name = "NetGen worker " + (i + 1) };
                threads[i].Start();
            }

            Volatile.Write(ref _threads, threads);
        }
    }

    private long Generation => Volatile.Read(ref _ticket) >> 32;

    private void Loop()
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
            Drain();
        }
    }
}
