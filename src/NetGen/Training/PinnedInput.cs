using System;
using System.ComponentModel;

namespace NetGen;

/// <summary>
/// Work that reads a batch's inputs on several threads where the caller passed them:
/// <see cref="PinnedInput.Run"/> pins the inputs and calls <see cref="RunPinned"/> with them. For
/// generated networks (hidden from IntelliSense).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IPinnedWork
{
    /// <summary>Runs the work; <paramref name="inputs"/> may be read on any thread until this returns.</summary>
    /// <param name="inputs">The caller's inputs, pinned.</param>
    /// <returns>The work's result (a generated network's loss).</returns>
    float RunPinned(PinnedInput inputs);
}

/// <summary>
/// A batch's inputs, pinned for the duration of <see cref="Run"/>, so that a generated network's
/// shards read their rows on their own threads where the caller passed them, rather than the caller
/// copying every shard's rows into the shard's arena first (a serial copy of the whole batch, whose
/// rows the other threads then fetch from the caller's core: the MLP at batch 256 on 2 threads spent
/// 20 µs a step copying and 30-40 µs more in the other thread's pass). A span cannot be handed to
/// another thread; this can, and is valid only until <see cref="Run"/> returns (a generated network
/// clears its copies before then). For generated networks (hidden from IntelliSense).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly unsafe struct PinnedInput
{
    private readonly float* _values;
    private readonly int _length;

    private PinnedInput(float* values, int length)
    {
        _values = values;
        _length = length;
    }

    /// <summary>Values pinned: 0 for the default value, which holds none.</summary>
    public int Length => _length;

    /// <summary>Pins <paramref name="inputs"/> and runs <paramref name="work"/> with them.</summary>
    /// <param name="inputs">The batch's inputs, at least one value.</param>
    /// <param name="work">The work that reads them.</param>
    /// <returns>What <paramref name="work"/> returns.</returns>
    public static float Run(ReadOnlySpan<float> inputs, IPinnedWork work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (inputs.IsEmpty)
        {
            throw new ArgumentException("There are no inputs to pin.", nameof(inputs));
        }

        fixed (float* values = inputs)
        {
            return work.RunPinned(new PinnedInput(values, inputs.Length));
        }
    }

    /// <summary>The values [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>).</summary>
    /// <param name="start">The first value.</param>
    /// <param name="length">Values.</param>
    /// <returns>A view of the caller's inputs (valid until <see cref="Run"/> returns).</returns>
    public ReadOnlySpan<float> Slice(int start, int length)
    {
        if ((uint)start > (uint)_length || (uint)length > (uint)(_length - start))
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"Values [{start}, {(long)start + length}) are not within the {_length} pinned.");
        }

        return new ReadOnlySpan<float>(_values + start, length);
    }
}
