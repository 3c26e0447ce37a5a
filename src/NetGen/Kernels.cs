using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// Forward and backward kernels for the layers NetGen generates. Generated code calls them
/// with constant sizes; they are public so that a person can call them too. Argument order
/// is the same everywhere: outputs first, then inputs, then weights, then sizes. Backward
/// kernels add into parameter gradients (as PyTorch's <c>.grad</c> accumulates) and
/// overwrite input gradients. No kernel allocates.
/// </summary>
public static partial class Kernels
{
    // ---------------------------------------------------------------- Dense

    /// <summary>
    /// <c>output[r, o] = Σ_i input[r, i] · weight[o, i] + bias[o]</c> for <paramref name="rows"/> rows.
    /// </summary>
    /// <param name="output">[rows, outFeatures].</param>
    /// <param name="input">[rows, inFeatures].</param>
    /// <param name="weight">[outFeatures, inFeatures], as PyTorch's nn.Linear.</param>
    /// <param name="bias">[outFeatures], or empty for a layer without bias.</param>
    /// <param name="rows">Rows (batch size times any leading axes).</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    public static void DenseForward(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures) =>
        DenseForward(output, input, weight, bias, rows, inFeatures, outFeatures, threads: 1);

    /// <summary>
    /// <see cref="DenseForward(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int)"/>
    /// with its product split across up to <paramref name="threads"/> threads when it is large enough
    /// (<see cref="MatMul.MultiplyTransposed(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, bool, int)"/>):
    /// the same bits on any thread count.
    /// </summary>
    /// <param name="output">[rows, outFeatures].</param>
    /// <param name="input">[rows, inFeatures].</param>
    /// <param name="weight">[outFeatures, inFeatures], as PyTorch's nn.Linear.</param>
    /// <param name="bias">[outFeatures], or empty for a layer without bias.</param>
    /// <param name="rows">Rows (batch size times any leading axes).</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="threads">The most threads the product may use, 1 to <see cref="Workers.MaxThreads"/>.</param>
    public static void DenseForward(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures, int threads)
    {
        Span<float> y = output.Slice(0, rows * outFeatures);
        if (bias.IsEmpty)
        {
            MatMul.MultiplyTransposed(y, input, weight, rows, outFeatures, inFeatures, accumulate: false, threads);
            return;
        }

        bias = bias.Slice(0, outFeatures);
        for (int r = 0; r < rows; r++)
        {
            bias.CopyTo(y.Slice(r * outFeatures, outFeatures));
        }

        MatMul.MultiplyTransposed(y, input, weight, rows, outFeatures, inFeatures, accumulate: true, threads);
    }

    /// <summary>
    /// Backward of <see cref="DenseForward(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int)"/>: <c>dWeight += dOutputᵀ·input</c>, <c>dBias += Σ_r dOutput[r]</c>,
    /// <c>dInput = dOutput·weight</c> (with <paramref name="accumulate"/> false, the parameter
    /// gradients are written instead of added to: no separate pass to clear them first).
    /// </summary>
    /// <param name="dInput">[rows, inFeatures], overwritten; empty when the input needs no gradient.</param>
    /// <param name="dWeight">[outFeatures, inFeatures], accumulated; empty when the optimizer computes it (<see cref="DeferredWeightGradient"/>).</param>
    /// <param name="dBias">[outFeatures], accumulated; empty for a layer without bias.</param>
    /// <param name="dOutput">[rows, outFeatures].</param>
    /// <param name="input">[rows, inFeatures], the forward input.</param>
    /// <param name="weight">[outFeatures, inFeatures].</param>
    /// <param name="rows">Rows.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="accumulate">Add to <paramref name="dWeight"/> and <paramref name="dBias"/> (the default), or overwrite them.</param>
    public static void DenseBackward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int rows, int inFeatures, int outFeatures, bool accumulate = true) =>
        DenseBackward(dInput, dWeight, dBias, dOutput, input, weight, rows, inFeatures, outFeatures, accumulate, threads: 1);

    /// <summary>
    /// <see cref="DenseBackward(Span{float}, Span{float}, Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, bool)"/>
    /// with its two products split across up to <paramref name="threads"/> threads when they are large
    /// enough (<see cref="MatMul.Multiply(Span{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, int, bool, int)"/>):
    /// the same bits on any thread count.
    /// </summary>
    /// <param name="dInput">[rows, inFeatures], overwritten; empty when the input needs no gradient.</param>
    /// <param name="dWeight">[outFeatures, inFeatures]; empty when the optimizer computes it (<see cref="DeferredWeightGradient"/>).</param>
    /// <param name="dBias">[outFeatures]; empty for a layer without bias.</param>
    /// <param name="dOutput">[rows, outFeatures].</param>
    /// <param name="input">[rows, inFeatures], the forward input.</param>
    /// <param name="weight">[outFeatures, inFeatures].</param>
    /// <param name="rows">Rows.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="accumulate">Add to <paramref name="dWeight"/> and <paramref name="dBias"/>, or overwrite them.</param>
    /// <param name="threads">The most threads each product may use, 1 to <see cref="Workers.MaxThreads"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DenseBackward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int rows, int inFeatures, int outFeatures, bool accumulate, int threads)
    {
        ReadOnlySpan<float> dy = dOutput.Slice(0, rows * outFeatures);
        if (!dBias.IsEmpty)
        {
            ColumnSums(dBias.Slice(0, outFeatures), dy, rows, outFeatures, accumulate);
        }

        // dW[o, i] (+)= Σ_r dy[r, o] · x[r, i]: A = dyᵀ through strides (1, outFeatures). Empty
        // dWeight: the weight gradient is deferred to the optimizer (DeferredWeightGradient).
        if (!dWeight.IsEmpty)
        {
            MatMul.Multiply(dWeight, dy, 1, outFeatures, input, outFeatures, inFeatures, rows, accumulate, threads);
        }

        if (!dInput.IsEmpty)
        {
            // dx[r, i] = Σ_o dy[r, o] · W[o, i].
            MatMul.Multiply(dInput, dy, outFeatures, 1, weight, rows, inFeatures, outFeatures, accumulate: false, threads);
        }
    }

    // sums[j] (+)= Σ_r values[r·stride + j] for the sums' columns, row by row in order (the bias gradient of a dense
    // layer, or of a block of its features: the same additions, so the same bits); overwritten unless accumulate.
    private static void ColumnSums(Span<float> sums, ReadOnlySpan<float> values, int rows, int stride, bool accumulate)
    {
        int columns = sums.Length, r = 0;
        if (!accumulate)
        {
            values.Slice(0, columns).CopyTo(sums);
            r = 1;
        }

        for (; r < rows; r++)
        {
            TensorPrimitives.Add(sums, values.Slice(r * stride, columns), sums);
        }
    }

    internal static void CheckSame(int actual, int expected, string paramName)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"'{paramName}' has {actual} values; {expected} were expected.", paramName);
        }
    }
}
