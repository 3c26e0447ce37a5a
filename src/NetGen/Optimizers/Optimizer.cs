using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// Base of NetGen's optimizers: they act on a network's flat parameter and gradient buffers.
/// State (moments, accumulators) is allocated once, by <see cref="Bind(int)"/> or by the first
/// <see cref="Step(Span{float}, ReadOnlySpan{float})"/>; a step allocates nothing. Update rules and defaults are PyTorch's
/// (torch.optim), as documented there; <c>maximize</c>, <c>foreach</c>, <c>fused</c> and
/// <c>capturable</c> are not offered.
/// </summary>
public abstract partial class Optimizer : IOptimizer
{
    private float _learningRate;
    // The network whose state this is: a generated network's implementation (identified through
    // its registered parameter buffer, also when Step is called directly) or the INetwork bound;
    // and that buffer, weakly, for the quick check on each step.
    private object? _owner;
    private WeakReference<float[]>? _ownerBuffer;
    private ParameterGroup[] _groups = Array.Empty<ParameterGroup>();
    private float[] _block = Array.Empty<float>(); // a deferred weight gradient's block (see Step)

    /// <summary>Validates and stores the shared hyper-parameters.</summary>
    protected Optimizer(float learningRate, float weightDecay)
    {
        CheckLearningRate(learningRate, nameof(learningRate));
        _learningRate = learningRate;
        if (!(weightDecay >= 0f) || float.IsInfinity(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be non-negative and finite.");
        }

        WeightDecay = weightDecay;
    }

    /// <inheritdoc/>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            CheckLearningRate(value, nameof(LearningRate));
            _learningRate = value;
        }
    }

    /// <summary>Weight decay λ (L2 penalty added to the gradient; decoupled in <see cref="AdamW"/>).</summary>
    public float WeightDecay { get; }

    /// <summary>Steps taken since binding or <see cref="Reset"/> (PyTorch's <c>step</c>, t).</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameter count the state was allocated for; 0 while unbound.</summary>
    public int ParameterCount { get; private set; }

    /// <summary>Allocates the state for <paramref name="parameterCount"/> parameters, once.</summary>
    /// <exception cref="InvalidOperationException">Already bound to a different count.</exception>
    public void Bind(int parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        if (ParameterCount == parameterCount)
        {
            return;
        }

        if (ParameterCount != 0)
        {
            throw new InvalidOperationException($"This optimizer is bound to {ParameterCount} parameters and cannot step {parameterCount}; create one optimizer per network.");
        }

        AllocateState(parameterCount);
        ParameterCount = parameterCount;
    }

    /// <summary>
    /// Binds the optimizer to <paramref name="network"/> and allocates the state for its parameters.
    /// The state (moments, accumulators) belongs to one network: binding a second network, even
    /// one of the same size, throws. Generated <c>TrainStep</c> and the trainers bind for you.
    /// </summary>
    /// <exception cref="InvalidOperationException">Already bound to another network.</exception>
    public void Bind(INetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (IsOwnBuffer(network.Parameters))
        {
            return; // the network it is bound to (TrainStep binds on every step)
        }

        object owner = ParameterBuffers.OwnerOf(network.Parameters, out float[]? buffer) ?? network;
        CheckOwner(owner);
        Bind(network.ParameterCount);
        Own(owner, buffer);
    }

    private bool IsOwnBuffer(ReadOnlySpan<float> parameters) =>
        _ownerBuffer is not null && _ownerBuffer.TryGetTarget(out float[]? known) && ParameterBuffers.IsBuffer(parameters, known);

    private void CheckOwner(object owner)
    {
        if (_owner is not null && !ReferenceEquals(_owner, owner))
        {
            string name = _owner is INetwork n ? n.GetType().Name : ParameterBuffers.NameOf(_owner);
            string other = owner is INetwork o ? o.GetType().Name : ParameterBuffers.NameOf(owner);
            throw new InvalidOperationException($"This {GetType().Name} is bound to another network ({name}); its state (moment estimates, accumulators) belongs to that network's parameters, and these are another {other}'s. Create one optimizer per network.");
        }
    }

    private void Own(object owner, float[]? buffer)
    {
        _owner = owner;
        if (buffer is not null && _ownerBuffer is null)
        {
            _ownerBuffer = new WeakReference<float[]>(buffer);
        }
    }

    /// <summary>Forgets the state (moments, accumulators, step count), keeping its memory.</summary>
    public void Reset()
    {
        StepCount = 0;
        ClearState();
    }

    /// <inheritdoc/>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (!BeginStep(parameters, gradients))
        {
            return;
        }

        StepRanges(parameters, gradients, default, 0, parameters.Length);
    }

    /// <summary>
    /// Whether each parameter's update depends on that parameter's own values alone (its gradient and
    /// state): true for NetGen's optimizers, so that a step may be taken in parts, as
    /// <see cref="Step(Span{float}, ReadOnlySpan{float}, DeferredWeightGradient)"/> does. False for
    /// a class derived outside NetGen, whose rule may look at a whole segment (a norm, say).
    /// </summary>
    public bool IsElementwise => GetType().Assembly == typeof(Optimizer).Assembly;

    /// <summary>
    /// One step in which one dense layer's weight gradient is not in <paramref name="gradients"/>
    /// but given by its factors (<paramref name="deferred"/>): it is computed a few rows at a time
    /// into a small buffer that stays in the L1 cache, and each block is applied where it is made.
    /// The result is the same, bit for bit, as writing that gradient into the buffer and calling
    /// <see cref="Step(Span{float}, ReadOnlySpan{float})"/>; what is saved is writing the weight
    /// gradient out and reading it back (at batch 1, most of a small network's step). Generated
    /// <c>TrainStep</c> uses it at small batches. Only for an optimizer whose
    /// <see cref="IsElementwise"/> is true.
    /// </summary>
    /// <param name="parameters">The network's parameters.</param>
    /// <param name="gradients">Their gradients; the deferred weight's range is not read.</param>
    /// <param name="deferred">The weight gradient's place and factors.</param>
    /// <exception cref="InvalidOperationException">The optimizer is not elementwise.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients, DeferredWeightGradient deferred)
    {
        if (!IsElementwise)
        {
            throw new InvalidOperationException($"{GetType().Name} is not one of NetGen's elementwise optimizers; write the gradient and call Step(parameters, gradients).");
        }

        if ((long)deferred.Offset + deferred.Length > parameters.Length)
        {
            throw new ArgumentException($"The deferred weight [{deferred.Offset}, {(long)deferred.Offset + deferred.Length}) lies outside the {parameters.Length} parameters.", nameof(deferred));
        }

        if (!BeginStep(parameters, gradients))
        {
            return;
        }

        StepRanges(parameters, gradients, deferred, 0, parameters.Length);
    }

    // The checks every step makes before it changes anything, then the step count; false: nothing to do.
    private bool BeginStep(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (gradients.Length != parameters.Length)
        {
            throw new ArgumentException($"'{nameof(gradients)}' has {gradients.Length} values; {parameters.Length} were expected (one per parameter).", nameof(gradients));
        }

        if (parameters.IsEmpty)
        {
            return false;
        }

        // Direct calls too: the parameters of a second network (even of the same size) are refused
        // before anything changes. The quick check: the buffer this optimizer already steps.
        if (!IsOwnBuffer(parameters))
        {
            if (ParameterBuffers.OwnerOf(parameters, out float[]? buffer) is { } owner)
            {
                CheckOwner(owner);
                Own(owner, buffer);
            }
        }

        if (ParameterCount != parameters.Length)
        {
            Bind(parameters.Length);
        }

        foreach (ParameterGroup group in _groups)
        {
            if (group.Offset + group.Length > parameters.Length)
            {
                throw new InvalidOperationException($"The parameter group at [{group.Offset}, {group.Offset + group.Length}) lies outside the {parameters.Length} parameters; groups must come from this network's ParameterLayout.");
            }
        }

        StepCount++;
        return true;
    }

    // The groups in buffer order, within [from, to) (all of it, or one thread's part of a split step);
    // a stretch that no group covers gets the optimizer's own settings.
    private void StepRanges(Span<float> parameters, ReadOnlySpan<float> gradients, DeferredWeightGradient deferred, int from, int to)
    {
        int next = 0;
        foreach (ParameterGroup group in _groups)
        {
            UpdateWithin(parameters, gradients, next, group.Offset, LearningRate, WeightDecay, deferred, from, to);
            UpdateWithin(parameters, gradients, group.Offset, group.Offset + group.Length, LearningRate * group.LearningRateScale, group.WeightDecay ?? WeightDecay, deferred, from, to);
            next = group.Offset + group.Length;
        }

        UpdateWithin(parameters, gradients, next, parameters.Length, LearningRate, WeightDecay, deferred, from, to);
    }

    // The part of [offset, end) inside [from, to), if any.
    private void UpdateWithin(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, int end, float learningRate, float weightDecay, DeferredWeightGradient deferred, int from, int to)
    {
        int start = Math.Max(offset, from), stop = Math.Min(end, to);
        if (stop > start)
        {
            UpdateRange(parameters, gradients, start, stop - start, learningRate, weightDecay, deferred);
        }
    }

    /// <summary>
    /// Parameter groups (PyTorch's param_groups): parts of the buffer with their own weight decay or
    /// learning-rate scale, in buffer order and not overlapping. Parameters outside every group use
    /// <see cref="LearningRate"/> and <see cref="WeightDecay"/>. Empty (the default): one group, the whole buffer.
    /// </summary>
    public IReadOnlyList<ParameterGroup> Groups => _groups;

    /// <summary>Sets <see cref="Groups"/>; they are sorted by offset and must not overlap.</summary>
    /// <param name="groups">The groups, e.g. from <see cref="ParameterGroup.DecayMatricesOnly"/>.</param>
    public void SetGroups(IEnumerable<ParameterGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ParameterGroup[] sorted = groups.OrderBy(g => g.Offset).ToArray();
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].Length)
            {
                throw new ArgumentException($"Parameter groups overlap: [{sorted[i - 1].Offset}, {sorted[i - 1].Offset + sorted[i - 1].Length}) and [{sorted[i].Offset}, {sorted[i].Offset + sorted[i].Length}).", nameof(groups));
            }
        }

        _groups = sorted;
    }

    // [offset, offset + length) with one rate and decay: the part before the deferred weight, the
    // deferred weight's part a block of its gradient at a time, then the part after.
    private void UpdateRange(Span<float> parameters, ReadOnlySpan<float> gradients, int offset, int length, float learningRate, float weightDecay, DeferredWeightGradient deferred)
    {
        int end = offset + length;
        int start = Math.Clamp(deferred.Offset, offset, end), stop = Math.Clamp(deferred.Offset + deferred.Length, offset, end);
        if (start == stop)
        {
            UpdateBetween(parameters, gradients, offset, end, learningRate, weightDecay);
            return;
        }

        UpdateBetween(parameters, gradients, offset, start, learningRate, weightDecay);

        // Blocks of whole rows of the weight (so that each value is computed as the whole product
        // computes it, the same columns in the same vector tiles), as many as the buffer holds.
        int columns = deferred.InFeatures;
        int rowsPerBlock = Math.Max(1, DeferredWeightGradient.BlockValues / columns);
        if (rowsPerBlock > 8)
        {
            rowsPerBlock -= rowsPerBlock % 8; // whole 8-row tiles
        }

        if (_block.Length < rowsPerBlock * columns)
        {
            _block = new float[rowsPerBlock * columns]; // once, at the first such step
        }

        int firstRow = (start - deferred.Offset) / columns, lastRow = (stop - deferred.Offset + columns - 1) / columns;
        for (int r0 = firstRow; r0 < lastRow; r0 += rowsPerBlock)
        {
            int r1 = Math.Min(lastRow, r0 + rowsPerBlock);
            int values = (r1 - r0) * columns;

            // A group boundary may cut a row: only the block's part inside this range is applied here.
            int blockStart = deferred.Offset + (r0 * columns);
            int from = Math.Max(blockStart, start), to = Math.Min(blockStart + values, stop);
            var segment = new ParameterSegment(from, to - from, learningRate, weightDecay);
            if (from == blockStart && to == blockStart + values && UpdateDeferredRows(parameters.Slice(from, values), deferred, r0, r1 - r0, segment, StepCount))
            {
                continue;
            }

            Span<float> block = _block.AsSpan(0, values);
            deferred.Rows(block, r0, r1 - r0);
            Update(parameters.Slice(from, to - from), block.Slice(from - blockStart, to - from), segment, StepCount);
        }

        UpdateBetween(parameters, gradients, stop, end, learningRate, weightDecay);
    }

    private void UpdateBetween(Span<float> parameters, ReadOnlySpan<float> gradients, int start, int end, float learningRate, float weightDecay)
    {
        if (end > start)
        {
            Update(parameters.Slice(start, end - start), gradients.Slice(start, end - start), new ParameterSegment(start, end - start, learningRate, weightDecay), StepCount);
        }
    }

    /// <summary>
    /// Rows [<paramref name="first"/>, first + count) of a deferred weight gradient applied to
    /// <paramref name="parameters"/> (those whole rows, one segment) by a rule that computes each
    /// gradient value where it applies it, with the bits of <see cref="DeferredWeightGradient"/>'s
    /// product then <see cref="Update"/>. False (the default): the caller writes the block and calls Update.
    /// </summary>
    private protected virtual bool UpdateDeferredRows(Span<float> parameters, DeferredWeightGradient deferred, int first, int count, ParameterSegment segment, long t) => false;

    /// <summary>Allocates the state arrays.</summary>
    protected abstract void AllocateState(int parameterCount);

    /// <summary>
    /// The per-parameter buffers, under PyTorch's state names (<c>exp_avg</c>, <c>momentum_buffer</c>...),
    /// that a checkpoint saves and restores (<see cref="IO.Checkpoint"/>); each holds one value per
    /// parameter once bound. Empty by default: an optimizer without state, or one that keeps it elsewhere.
    /// </summary>
    protected internal virtual IEnumerable<KeyValuePair<string, float[]>> StateBuffers => Array.Empty<KeyValuePair<string, float[]>>();

    /// <summary>Sets the step count a restored checkpoint had (its bias corrections and decays depend on it).</summary>
    internal void RestoreStepCount(long steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        StepCount = steps;
    }

    /// <summary>Zeroes the state arrays (or sets their initial values).</summary>
    protected abstract void ClearState();

    /// <summary>
    /// Step <paramref name="t"/> (1-based) of the update rule on one segment of the buffer:
    /// <paramref name="parameters"/> and <paramref name="gradients"/> are the segment's values, its
    /// state is <c>segment.Of(stateArray)</c>, and its rate and decay are the segment's.
    /// </summary>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t);

    private static void CheckLearningRate(float value, string name)
    {
        if (!(value >= 0f) || float.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "The learning rate must be non-negative and finite.");
        }
    }

    internal static void CheckRange(float value, float min, float maxExclusive, string name)
    {
        if (!(value >= min && value < maxExclusive))
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must lie in [{min}, {maxExclusive}).");
        }
    }

    internal static void CheckPositive(float value, string name)
    {
        if (!(value > 0f) || float.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be positive and finite.");
        }
    }

    internal static ref float Ref(Span<float> span) => ref MemoryMarshal.GetReference(span);

    internal static ref float Ref(ReadOnlySpan<float> span) => ref MemoryMarshal.GetReference(span);

    internal static int VectorEnd(int n) => Vector256.IsHardwareAccelerated ? n - (n % Vector256<float>.Count) : 0;
}
