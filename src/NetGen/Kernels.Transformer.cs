using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NetGen;

/// <summary>Sequences and the Transformer: embeddings and layer normalisation (attention: Kernels.Attention.cs).</summary>
public static partial class Kernels
{
    // ---------------------------------------------------------------- Embeddings

    /// <summary><c>output[r] = weight[tokens[r]]</c>: one row of the table per token.</summary>
    /// <param name="output">[tokens, dimension].</param>
    /// <param name="tokens">The ids, already checked to lie in [0, vocabulary).</param>
    /// <param name="weight">[vocabulary, dimension].</param>
    /// <param name="dimension">Length of a row.</param>
    public static void EmbeddingForward(Span<float> output, ReadOnlySpan<int> tokens, ReadOnlySpan<float> weight, int dimension)
    {
        CheckSame(output.Length, tokens.Length * dimension, nameof(output));
        for (int r = 0; r < tokens.Length; r++)
        {
            weight.Slice(tokens[r] * dimension, dimension).CopyTo(output.Slice(r * dimension, dimension));
        }
    }

    /// <summary>Backward of <see cref="EmbeddingForward"/>: <c>dWeight[tokens[r]] += dOutput[r]</c> (a row used twice gets both).</summary>
    /// <param name="dWeight">[vocabulary, dimension], accumulated.</param>
    /// <param name="dOutput">[tokens, dimension].</param>
    /// <param name="tokens">The forward ids.</param>
    /// <param name="dimension">Length of a row.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void EmbeddingBackward(Span<float> dWeight, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> tokens, int dimension)
    {
        CheckSame(dOutput.Length, tokens.Length * dimension, nameof(dOutput));
        for (int r = 0; r < tokens.Length; r++)
        {
            Span<float> row = dWeight.Slice(tokens[r] * dimension, dimension);
            TensorPrimitives.Add(row, dOutput.Slice(r * dimension, dimension), row);
        }
    }

    /// <summary>
    /// The learned position embedding: <c>output[b] = input[b] + weight</c> for every sample b of
    /// <paramref name="sampleSize"/> = T·D values (position t of every sample gets row t).
    /// </summary>
    /// <param name="output">[n, T, D].</param>
    /// <param name="input">[n, T, D].</param>
    /// <param name="weight">[T, D] (or more rows; the first T are used).</param>
    /// <param name="sampleSize">T·D.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PositionalForward(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int sampleSize)
    {
        CheckSame(input.Length, output.Length, nameof(input));
        ReadOnlySpan<float> table = weight.Slice(0, sampleSize);
        for (int b = 0; b + sampleSize <= output.Length; b += sampleSize)
        {
            TensorPrimitives.Add(input.Slice(b, sampleSize), table, output.Slice(b, sampleSize));
        }
    }

    /// <summary>Backward of <see cref="PositionalForward"/>: <c>dInput = dOutput</c>, <c>dWeight += Σ_b dOutput[b]</c>.</summary>
    /// <param name="dInput">[n, T, D], overwritten; empty when the input needs no gradient.</param>
    /// <param name="dWeight">[T, D], accumulated.</param>
    /// <param name="dOutput">[n, T, D].</param>
    /// <param name="sampleSize">T·D.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PositionalBackward(Span<float> dInput, Span<float> dWeight, ReadOnlySpan<float> dOutput, int sampleSize)
    {
        Span<float> table = dWeight.Slice(0, sampleSize);
        for (int b = 0; b + sampleSize <= dOutput.Length; b += sampleSize)
        {
            TensorPrimitives.Add(table, dOutput.Slice(b, sampleSize), table);
        }

        if (!dInput.IsEmpty)
        {
            dOutput.CopyTo(dInput);
        }
    }

    // ---------------------------------------------------------------- Layer normalisation

    /// <summary>
    /// Layer normalisation of every row: <c>y = (x − mean)·rstd·weight + bias</c>, with the row's
    /// mean and <c>rstd = 1/√(var + ε)</c> (biased variance), which are kept for the backward pass.
    /// </summary>
    /// <param name="output">[rows, cols].</param>
    /// <param name="mean">[rows], written.</param>
    /// <param name="rstd">[rows], written.</param>
    /// <param name="input">[rows, cols].</param>
    /// <param name="weight">[cols].</param>
    /// <param name="bias">[cols], or empty for none.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">The normalised axis.</param>
    /// <param name="epsilon">ε.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNormForward(Span<float> output, Span<float> mean, Span<float> rstd, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, int cols, float epsilon)
    {
        CheckSame(input.Length, rows * cols, nameof(input));
        CheckSame(output.Length, rows * cols, nameof(output));
        weight = weight.Slice(0, cols);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = input.Slice(r * cols, cols);
            Span<float> y = output.Slice(r * cols, cols);
            float m = TensorPrimitives.Sum(x) / cols;

            // The variance from the centred values (two passes), not E[x²] − m², which cancels badly.
            TensorPrimitives.Subtract(x, m, y);
            float variance = TensorPrimitives.SumOfSquares(y) / cols;
            float s = 1f / MathF.Sqrt(variance + epsilon);
            mean[r] = m;
            rstd[r] = s;
            TensorPrimitives.Multiply(y, s, y);
            if (bias.IsEmpty)
            {
                TensorPrimitives.Multiply(y, weight, y);
            }
            else
            {
                TensorPrimitives.FusedMultiplyAdd(y, weight, bias.Slice(0, cols), y);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="LayerNormForward"/>: with <c>x̂ = (x − mean)·rstd</c> and
    /// <c>g = dOutput·weight</c>, <c>dInput = rstd·(g − mean(g) − x̂·mean(g·x̂))</c>,
    /// <c>dWeight += Σ_rows dOutput·x̂</c>, <c>dBias += Σ_rows dOutput</c>.
    /// </summary>
    /// <param name="dInput">[rows, cols], overwritten; empty when the input needs no gradient.</param>
    /// <param name="dWeight">[cols], accumulated.</param>
    /// <param name="dBias">[cols], accumulated; empty for none.</param>
    /// <param name="dOutput">[rows, cols].</param>
    /// <param name="input">[rows, cols], the forward input.</param>
    /// <param name="weight">[cols].</param>
    /// <param name="mean">[rows], from the forward pass.</param>
    /// <param name="rstd">[rows], from the forward pass.</param>
    /// <param name="scratch">At least 2·cols values of working space.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">The normalised axis.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNormBackward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> scratch, int rows, int cols)
    {
        CheckSame(dOutput.Length, rows * cols, nameof(dOutput));
        Span<float> xhat = scratch.Slice(0, cols);
        Span<float> g = scratch.Slice(cols, cols);
        weight = weight.Slice(0, cols);
        Span<float> dw = dWeight.Slice(0, cols);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> dy = dOutput.Slice(r * cols, cols);
            TensorPrimitives.Subtract(input.Slice(r * cols, cols), mean[r], xhat);
            TensorPrimitives.Multiply(xhat, rstd[r], xhat);
            TensorPrimitives.FusedMultiplyAdd(dy, xhat, dw, dw);
            if (!dBias.IsEmpty)
            {
                Span<float> db = dBias.Slice(0, cols);
                TensorPrimitives.Add(db, dy, db);
            }

            if (dInput.IsEmpty)
            {
                continue;
            }

            TensorPrimitives.Multiply(dy, weight, g);
            float meanG = TensorPrimitives.Sum(g) / cols;
            float meanGx = TensorPrimitives.Dot(g, xhat) / cols;

            // dx = rstd·(g − meanG − x̂·meanGx)
            Span<float> dx = dInput.Slice(r * cols, cols);
            TensorPrimitives.Multiply(xhat, -meanGx, dx);
            TensorPrimitives.Add(dx, g, dx);
            TensorPrimitives.Add(dx, -meanG, dx);
            TensorPrimitives.Multiply(dx, rstd[r], dx);
        }
    }
}
