using System;

namespace NetGen.Training;

/// <summary>
/// Samples and their targets in two flat arrays: <c>Count</c> samples of <c>InputSize</c>
/// floats, and <c>Count</c> targets of <c>TargetSize</c> values (1 for class labels).
/// </summary>
/// <typeparam name="TTarget"><see cref="int"/> class labels or <see cref="float"/> targets.</typeparam>
public sealed class DataSet<TTarget>
    where TTarget : unmanaged
{
    /// <summary>Wraps the arrays (not copied).</summary>
    /// <exception cref="ArgumentException">The lengths do not describe the same number of samples.</exception>
    public DataSet(float[] inputs, TTarget[] targets, int inputSize, int targetSize = 1)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        if (inputs.Length % inputSize != 0)
        {
            throw new ArgumentException($"'{nameof(inputs)}' has {inputs.Length} values, not a whole number of samples of {inputSize}.", nameof(inputs));
        }

        int count = inputs.Length / inputSize;
        if (targets.Length != count * targetSize)
        {
            throw new ArgumentException($"'{nameof(targets)}' has {targets.Length} values; {count} samples need {count * targetSize}.", nameof(targets));
        }

        Inputs = inputs;
        Targets = targets;
        InputSize = inputSize;
        TargetSize = targetSize;
        Count = count;
    }

    /// <summary>All samples, one after another.</summary>
    public float[] Inputs { get; }

    /// <summary>All targets, one after another.</summary>
    public TTarget[] Targets { get; }

    /// <summary>Values per sample.</summary>
    public int InputSize { get; }

    /// <summary>Target values per sample.</summary>
    public int TargetSize { get; }

    /// <summary>Number of samples.</summary>
    public int Count { get; }

    /// <summary>The first <paramref name="count"/> samples (copies), for quick runs.</summary>
    public DataSet<TTarget> Take(int count)
    {
        count = Math.Clamp(count, 0, Count);
        return new DataSet<TTarget>(Inputs.AsSpan(0, count * InputSize).ToArray(), Targets.AsSpan(0, count * TargetSize).ToArray(), InputSize, TargetSize);
    }
}
