using System;
using System.Diagnostics;
using System.Threading;

namespace NetGen;

/// <summary>
/// What the pool's threads did, for the benchmarks' <c>--trace</c>: when each run started and ended on
/// the caller, and when each shard started and ended on which thread. Off unless a benchmark sets
/// <see cref="Workers.Trace"/> (a null check per run and per shard otherwise); the events go into a
/// buffer made beforehand, so that tracing allocates nothing either.
/// </summary>
internal sealed class WorkerTrace
{
    private readonly long[] _times;
    private readonly int[] _events; // kind << 24 | thread << 16 | shard
    private int _count;

    /// <param name="capacity">The most events kept; later ones are dropped.</param>
    public WorkerTrace(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _times = new long[capacity];
        _events = new int[capacity];
    }

    /// <summary>What an event marks.</summary>
    public enum Kind
    {
        /// <summary>The caller starts a run (shard: the run's shard count).</summary>
        RunStart,

        /// <summary>A thread starts a shard.</summary>
        ShardStart,

        /// <summary>A thread has finished a shard.</summary>
        ShardEnd,

        /// <summary>The caller has finished the shards it took and waits for the others.</summary>
        CallerDone,

        /// <summary>Every shard of the run has finished.</summary>
        RunEnd,

        /// <summary>A mark of the benchmark's own (a step's start, say).</summary>
        User,
    }

    /// <summary>Events kept so far.</summary>
    public int Count => Math.Min(Volatile.Read(ref _count), _times.Length);

    /// <summary>Records an event now (<see cref="Stopwatch"/> ticks).</summary>
    public void Mark(Kind kind, int thread, int shard)
    {
        int i = Interlocked.Increment(ref _count) - 1;
        if (i < _times.Length)
        {
            _times[i] = Stopwatch.GetTimestamp();
            _events[i] = ((int)kind << 24) | ((thread & 0xFF) << 16) | (shard & 0xFFFF);
        }
    }

    /// <summary>Event <paramref name="i"/>: its time, kind, thread (0: the caller) and shard.</summary>
    public (long Time, Kind Kind, int Thread, int Shard) this[int i] =>
        (_times[i], (Kind)(_events[i] >> 24), (_events[i] >> 16) & 0xFF, _events[i] & 0xFFFF);

    /// <summary>Forgets the events kept.</summary>
    public void Clear() => Volatile.Write(ref _count, 0);
}
