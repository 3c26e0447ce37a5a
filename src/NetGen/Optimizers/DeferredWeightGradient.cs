using System;

namespace NetGen;

/// <summary>
/// A dense layer's weight gradient given by its factors instead of written out:
/// <c>dW[o, i] = Σ_r dy[r, o] · x[r, i]</c> for the weight at
/// <c>[Offset, Offset + outFeatures · inFeatures)</c> of the parameter buffer. An
/// <see cref="Optimizer"/> computes it a block of rows at a time where it applies it
/// (<see cref="Optimizer.Step(Span{float}, ReadOnlySpan{float}, DeferredWeightGradient)"/>).
/// The default value defers nothing.
/// </summary>
public readonly ref struct DeferredWeightGradient
{
    /// <summary>Values in the block an optimizer computes at once: 32 KB, within an L1 cache.</summary>
    internal const int BlockValues = 8192;

    private readonly ReadOnlySpan<float> _outputGradient;
    private readonly ReadOnlySpan<float> _input;

    /// <summary>Checks and keeps the factors (not copied: they must stay unchanged until the step).</summary>
    /// <param name="offset">Where the weight starts in the parameter buffer.</param>
    /// <param name="outputGradient">dy, <paramref name="rows"/> by <paramref name="outFeatures"/>.</param>
    /// <param name="input">x, <paramref name="rows"/> by <paramref name="inFeatures"/>.</param>
    /// <param name="rows">Rows of the batch (samples, or positions).</param>
    /// <param name="inFeatures">Columns of the weight, at most 8,192.</param>
    /// <param name="outFeatures">Rows of the weight.</param>
    public DeferredWeightGradient(int offset, ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, int rows, int inFeatures, int outFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        if (inFeatures <= 0 || inFeatures > BlockValues)
        {
            throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, $"A deferred weight has 1 to {BlockValues} columns (a whole row is computed at once).");
        }

        if ((long)inFeatures * outFeatures > int.MaxValue || (long)rows * Math.Max(inFeatures, outFeatures) > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, "The weight and the factors must each have fewer than 2^31 values.");
        }

        Guard.Length(outputGradient.Length, rows * outFeatures, nameof(outputGradient), "rows times outFeatures");
        Guard.Length(input.Length, rows * inFeatures, nameof(input), "rows times inFeatures");
        Offset = offset;
        Length = inFeatures * outFeatures;
        BatchRows = rows;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _outputGradient = outputGradient;
        _input = input;
    }

    /// <summary>Where the weight starts in the parameter buffer.</summary>
    public int Offset { get; }

    /// <summary>The weight's values, outFeatures times inFeatures (0: nothing deferred).</summary>
    public int Length { get; }

    /// <summary>Rows of the batch.</summary>
    public int BatchRows { get; }

    /// <summary>Columns of the weight.</summary>
    public int InFeatures { get; }

    /// <summary>Rows of the weight.</summary>
    public int OutFeatures { get; }

    /// <summary>dy, BatchRows by OutFeatures.</summary>
    internal ReadOnlySpan<float> OutputGradient => _outputGradient;

    /// <summary>x, BatchRows by InFeatures.</summary>
    internal ReadOnlySpan<float> Input => _input;

    /// <summary>Writes rows [<paramref name="first"/>, first + count) of the gradient into <paramref name="block"/>.</summary>
    internal void Rows(Span<float> block, int first, int count) =>
        // The product DenseBackward makes for the whole weight, restricted to these rows: A = dyᵀ
        // from column `first` on, through strides (1, outFeatures); the same value for each element.
        MatMul.Multiply(block, _outputGradient.Slice(first), 1, OutFeatures, _input, count, InFeatures, BatchRows, accumulate: false);
}
