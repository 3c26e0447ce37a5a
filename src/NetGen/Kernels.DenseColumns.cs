using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace NetGen;

// A dense layer in blocks of its output features, each block on a thread of its own, with exactly the bits of
// the whole layer: generated networks split an MLP by its hidden layers' units this way when a batch is too
// small to split by samples (the units' weights and gradients then stay with one core).
public static partial class Kernels
{
    /// <summary>Blocks of output features computed so far by the kernels below (for the tests).</summary>
    internal static int s_columnBlocks;

    /// <summary>Whether <see cref="DenseColumnBlocks"/> may split at all: a switch for benchmarks to compare.</summary>
    internal static bool SplitUnits { get; set; } = true;

    /// <summary>
    /// Into how many blocks of output features a dense layer of <paramref name="rows"/> x
    /// <paramref name="inFeatures"/> x <paramref name="outFeatures"/> is split on up to
    /// <paramref name="threads"/> threads (1: not at all): blocks of whole 32-feature strips, each
    /// with 2^18 multiply-adds at least, and only where the blocks give exactly the bits of the whole
    /// layer (<paramref name="outFeatures"/> a multiple of 32, and not a product of few rows that the
    /// whole computes by dot products).
    /// </summary>
    /// <param name="rows">Rows (samples).</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="threads">The most threads, 1 to <see cref="Workers.MaxThreads"/>.</param>
    /// <returns>The number of blocks, 1 to <paramref name="threads"/>.</returns>
    public static int DenseColumnBlocks(int rows, int inFeatures, int outFeatures, int threads)
    {
        Guard.Threads(threads, nameof(threads));
        if (!SplitUnits || rows < 1 || inFeatures < 1 || outFeatures % 32 != 0 || MatMul.TakesDots(rows, outFeatures, inFeatures))
        {
            return 1;
        }

        long worth = (long)rows * inFeatures * outFeatures / MatMul.MinMultiplyAddsPerThread; // threads' worth of work
        return (int)Math.Max(1, Math.Min(Math.Min(threads, outFeatures / 32), worth));
    }

    /// <summary>
    /// Block <paramref name="block"/> of <paramref name="blocks"/> of <paramref name="outFeatures"/>
    /// features: whole 32-feature strips, contiguous and in order, sizes differing by a strip at most.
    /// </summary>
    /// <param name="outFeatures">Output features, a multiple of 32.</param>
    /// <param name="block">The block, 0 to <paramref name="blocks"/> - 1.</param>
    /// <param name="blocks">Blocks, 1 to <paramref name="outFeatures"/> / 32.</param>
    /// <returns>Its first feature and its feature count.</returns>
    public static (int First, int Count) DenseColumnBlock(int outFeatures, int block, int blocks)
    {
        if (outFeatures < 32 || outFeatures % 32 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outFeatures), $"{nameof(outFeatures)} must be a positive multiple of 32, but is {outFeatures}.");
        }

        if (blocks < 1 || blocks > outFeatures / 32)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks), $"{nameof(blocks)} must lie in [1, {outFeatures / 32}], but is {blocks}.");
        }

        if ((uint)block >= (uint)blocks)
        {
            throw new ArgumentOutOfRangeException(nameof(block), $"{nameof(block)} must lie in [0, {blocks}), but is {block}.");
        }

        int strips = outFeatures / 32, first = (int)((long)strips * block / blocks), end = (int)((long)strips * (block + 1) / blocks);
        return (first * 32, (end - first) * 32);
    }

    /// <summary>
    /// <see cref="DenseForward(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int)"/>
    /// for output features [<paramref name="first"/>, first + count) only, written in place in the whole
    /// output's rows: exactly their bits in the whole layer's output wherever <see cref="DenseColumnBlocks"/>
    /// splits the layer (not for a few rows that the whole computes by dot products).
    /// </summary>
    /// <param name="output">[rows, outFeatures]: only the block's columns are written.</param>
    /// <param name="input">[rows, inFeatures].</param>
    /// <param name="weight">[outFeatures, inFeatures], the whole weight.</param>
    /// <param name="bias">[outFeatures], or empty for a layer without bias.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features, a multiple of 32.</param>
    /// <param name="first">The block's first feature (<see cref="DenseColumnBlock"/>).</param>
    /// <param name="count">The block's features.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DenseForwardColumns(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, int first, int count)
    {
        CheckBlock(outFeatures, first, count);
        CheckAtLeast(bias.Length, bias.IsEmpty ? 0 : outFeatures, nameof(bias));
        Interlocked.Increment(ref s_columnBlocks);
        if (!bias.IsEmpty)
        {
            ReadOnlySpan<float> b = bias.Slice(first, count);
            Span<float> y = output.Slice(0, rows * outFeatures);
            for (int r = 0; r < rows; r++)
            {
                b.CopyTo(y.Slice((r * outFeatures) + first, count));
            }
        }

        MatMul.MultiplyTransposedColumns(output, input, weight, rows, outFeatures, inFeatures, first, count, accumulate: !bias.IsEmpty);
    }

    /// <summary>
    /// The parameter gradients of <see cref="DenseBackward(Span{float}, Span{float}, Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, bool)"/>
    /// for output features [<paramref name="first"/>, first + count) only: those rows of the weight's
    /// gradient and entries of the bias's, with exactly their bits in the whole layer's gradients.
    /// </summary>
    /// <param name="dWeight">[outFeatures, inFeatures], the whole gradient: only the block's rows are written.</param>
    /// <param name="dBias">[outFeatures], or empty for a layer without bias: only the block's entries are written.</param>
    /// <param name="dOutput">[rows, outFeatures], the whole output gradient (the block's columns are read).</param>
    /// <param name="input">[rows, inFeatures], the forward input.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features, a multiple of 32.</param>
    /// <param name="first">The block's first feature.</param>
    /// <param name="count">The block's features.</param>
    /// <param name="accumulate">Add to the gradients, or overwrite them.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DenseBackwardColumns(Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, int rows, int inFeatures, int outFeatures, int first, int count, bool accumulate)
    {
        CheckBlock(outFeatures, first, count);
        CheckAtLeast(dBias.Length, dBias.IsEmpty ? 0 : outFeatures, nameof(dBias));
        CheckAtLeast(dOutput.Length, (long)rows * outFeatures, nameof(dOutput));
        CheckAtLeast(dWeight.Length, (long)outFeatures * inFeatures, nameof(dWeight));
        ReadOnlySpan<float> dy = dOutput.Slice(0, rows * outFeatures);
        if (!dBias.IsEmpty)
        {
            ColumnSums(dBias.Slice(first, count), dy.Slice(first), rows, outFeatures, accumulate);
        }

        // Rows [first, first + count) of dW = dyᵀ·x: A = dyᵀ through strides (1, outFeatures), from column first.
        MatMul.Multiply(dWeight.Slice(first * inFeatures, count * inFeatures), dy.Slice(first), 1, outFeatures, input, count, inFeatures, rows, accumulate);
    }

    /// <summary>
    /// <see cref="ActivationForward"/> on columns [<paramref name="first"/>, first + count) of
    /// <paramref name="rows"/> rows of <paramref name="cols"/>: an elementwise activation only (not softmax).
    /// </summary>
    /// <param name="output">[rows, cols]: only the block's columns are written.</param>
    /// <param name="input">[rows, cols].</param>
    /// <param name="activation">Which function (not <see cref="Activation.Softmax"/>).</param>
    /// <param name="alpha">Negative slope for <see cref="Activation.LeakyReLU"/>.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Row length.</param>
    /// <param name="first">The block's first column.</param>
    /// <param name="count">The block's columns.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ActivationForwardColumns(Span<float> output, ReadOnlySpan<float> input, Activation activation, float alpha, int rows, int cols, int first, int count)
    {
        CheckElementwise(activation);
        CheckColumns(rows, cols, first, count);
        CheckAtLeast(output.Length, (long)rows * cols, nameof(output));
        CheckAtLeast(input.Length, (long)rows * cols, nameof(input));
        for (int r = 0; r < rows; r++)
        {
            int at = (r * cols) + first;
            ActivationForward(output.Slice(at, count), input.Slice(at, count), activation, alpha, count);
        }
    }

    /// <summary>
    /// <see cref="ActivationBackward"/> on columns [<paramref name="first"/>, first + count) of
    /// <paramref name="rows"/> rows of <paramref name="cols"/>: an elementwise activation only (not softmax).
    /// </summary>
    /// <param name="dInput">[rows, cols]: only the block's columns are written.</param>
    /// <param name="dOutput">[rows, cols].</param>
    /// <param name="input">[rows, cols], the forward input.</param>
    /// <param name="output">[rows, cols], the forward output.</param>
    /// <param name="activation">Which function (not <see cref="Activation.Softmax"/>).</param>
    /// <param name="alpha">Negative slope for <see cref="Activation.LeakyReLU"/>.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Row length.</param>
    /// <param name="first">The block's first column.</param>
    /// <param name="count">The block's columns.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ActivationBackwardColumns(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> output, Activation activation, float alpha, int rows, int cols, int first, int count)
    {
        CheckElementwise(activation);
        CheckColumns(rows, cols, first, count);
        CheckAtLeast(dInput.Length, (long)rows * cols, nameof(dInput));
        CheckAtLeast(dOutput.Length, (long)rows * cols, nameof(dOutput));
        CheckAtLeast(input.Length, (long)rows * cols, nameof(input));
        CheckAtLeast(output.Length, (long)rows * cols, nameof(output));
        for (int r = 0; r < rows; r++)
        {
            int at = (r * cols) + first;
            ActivationBackward(dInput.Slice(at, count), dOutput.Slice(at, count), input.Slice(at, count), output.Slice(at, count), activation, alpha, count);
        }
    }

    /// <summary>
    /// Copies columns [<paramref name="first"/>, first + count) of <paramref name="rows"/> rows of
    /// <paramref name="cols"/> from <paramref name="input"/> into the same places in <paramref name="output"/>.
    /// </summary>
    /// <param name="output">[rows, cols]: only the block's columns are written.</param>
    /// <param name="input">[rows, cols].</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Row length.</param>
    /// <param name="first">The block's first column.</param>
    /// <param name="count">The block's columns.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CopyColumns(Span<float> output, ReadOnlySpan<float> input, int rows, int cols, int first, int count)
    {
        CheckColumns(rows, cols, first, count);
        CheckAtLeast(output.Length, (long)rows * cols, nameof(output));
        CheckAtLeast(input.Length, (long)rows * cols, nameof(input));
        for (int r = 0; r < rows; r++)
        {
            int at = (r * cols) + first;
            input.Slice(at, count).CopyTo(output.Slice(at, count));
        }
    }

    private static void CheckBlock(int outFeatures, int first, int count)
    {
        if (first < 0 || first % 32 != 0 || count < 1 || (long)first + count > outFeatures || (count % 32 != 0 && first + count != outFeatures))
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"Features [{first}, {(long)first + count}) are not a block of whole 32-feature strips of {outFeatures}.");
        }
    }

    // Columns [first, first + count) of rows of cols.
    private static void CheckColumns(int rows, int cols, int first, int count)
    {
        if (rows < 0 || cols < 0 || first < 0 || count < 0 || (long)first + count > cols)
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"Columns [{first}, {(long)first + count}) of {rows} rows of {cols} are not a block of them.");
        }
    }

    private static void CheckAtLeast(int actual, long expected, string paramName)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"'{paramName}' has {actual} values; at least {expected} were expected.", paramName);
        }
    }

    private static void CheckElementwise(Activation activation)
    {
        if (activation == Activation.Softmax)
        {
            throw new ArgumentException("Softmax is not elementwise: it cannot be computed in blocks of columns.", nameof(activation));
        }
    }
}
