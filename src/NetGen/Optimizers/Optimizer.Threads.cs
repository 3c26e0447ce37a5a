using System;

namespace NetGen;

// A step split across the pool's threads: NetGen's optimizers update each parameter from its own values
// alone, so the buffer can be stepped in parts at once, with the bits of one thread.
public abstract partial class Optimizer
{
    private StepSplit? _split; // made at the first split step, then reused

    /// <summary>
    /// <see cref="Step(Span{float}, ReadOnlySpan{float})"/> on up to <paramref name="threads"/> threads of
    /// <see cref="Workers.Shared"/>: the buffer in contiguous parts of at least 2^15 parameters, part s of
    /// k starting at s·N/k (the slices in which a generated network's threads add up their gradients, so
    /// that each thread updates what is already in its own cache). The same bits as on one thread, since
    /// each parameter's update is its own; an optimizer whose <see cref="IsElementwise"/> is false takes
    /// the step on the calling thread. Generated <c>TrainStep</c> calls it with the network's Threads.
    /// </summary>
    /// <param name="parameters">The network's parameters.</param>
    /// <param name="gradients">Their gradients.</param>
    /// <param name="threads">The most threads to use, 1 to <see cref="Workers.MaxThreads"/>.</param>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients, int threads)
    {
        Guard.Threads(threads, nameof(threads));
        int parts = StepParts(parameters.Length, threads);
        if (parts < 2)
        {
            Step(parameters, gradients);
            return;
        }

        if (!BeginStep(parameters, gradients))
        {
            return;
        }

        (_split ??= new StepSplit(this)).Run(parameters, gradients, parts);
    }

    /// <summary>
    /// <paramref name="optimizer"/>'s step on up to <paramref name="threads"/> threads where it is one of
    /// NetGen's (see <see cref="Step(Span{float}, ReadOnlySpan{float}, int)"/>), else its own Step.
    /// </summary>
    internal static void Step(IOptimizer optimizer, Span<float> parameters, ReadOnlySpan<float> gradients, int threads)
    {
        if (optimizer is Optimizer own)
        {
            own.Step(parameters, gradients, threads);
        }
        else
        {
            optimizer.Step(parameters, gradients);
        }
    }

    /// <summary>The fewest parameters a thread updates in a split step (some microseconds of work).</summary>
    internal const int MinParametersPerThread = 1 << 15;

    /// <summary>Into how many parts a step of <paramref name="length"/> parameters is split on up to <paramref name="threads"/> threads.</summary>
    internal int StepParts(int length, int threads) => IsElementwise && SplitSteps ? Math.Max(1, Math.Min(threads, length / MinParametersPerThread)) : 1;

    /// <summary>Whether a step may be split across threads at all: a switch for benchmarks to compare.</summary>
    internal static bool SplitSteps { get; set; } = true;

    // A step's parts on the pool's threads. The buffers are pinned by the caller for the duration of
    // the run (Workers.Run returns when every part has finished) so that the pool threads can read
    // them: a span cannot be handed to another thread. Made at the first split step, then reused.
    private sealed unsafe class StepSplit : IShardedWork
    {
        private readonly Optimizer _optimizer;
        private float* _parameters;
        private float* _gradients;
        private int _length;
        private int _parts;

        public StepSplit(Optimizer optimizer) => _optimizer = optimizer;

        public void Run(Span<float> parameters, ReadOnlySpan<float> gradients, int parts)
        {
            fixed (float* p = parameters)
            fixed (float* g = gradients)
            {
                _parameters = p;
                _gradients = g;
                _length = parameters.Length;
                _parts = parts;
                try
                {
                    Workers.Shared.Run(this, parts);
                }
                finally
                {
                    _parameters = _gradients = null;
                }
            }
        }

        public void RunShard(int shard)
        {
            int from = (int)((long)shard * _length / _parts), to = (int)((long)(shard + 1) * _length / _parts);
            _optimizer.StepRanges(new Span<float>(_parameters, _length), new ReadOnlySpan<float>(_gradients, _length), default, from, to);
        }
    }
}
