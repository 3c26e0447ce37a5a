using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NetGen;

/// <summary>
/// Self-attention as matrix products, one head of one sequence at a time: the head's queries, keys
/// and values gathered into contiguous [T, hs] matrices, the scores <c>Q·Kᵀ</c> and the weighted values
/// <c>P·V</c> (and in backward <c>dY·Vᵀ</c>, <c>Pᵀ·dY</c>, <c>dS·K</c>, <c>dSᵀ·Q</c>) by <see cref="MatMul"/>'s
/// register tiles. The row-by-row form (a dot product per query and key) spent a horizontal sum on
/// every score; this one is what the generated networks call, given the scratch
/// <see cref="AttentionScratchSize"/> asks for. With the causal mask the products also compute the
/// masked half, which the softmax then overwrites with zeros: at T = 64 the tiles' speed is worth more.
/// </summary>
public static partial class Kernels
{
    /// <summary>
    /// The working space, in values, with which <see cref="AttentionForward"/> and
    /// <see cref="AttentionBackward"/> use matrix products: seven [T, hs] matrices and one [T, T].
    /// </summary>
    /// <param name="length">T.</param>
    /// <param name="dimension">D.</param>
    /// <param name="heads">Heads (dividing D).</param>
    /// <returns><c>7·T·(D / heads) + T·T</c>.</returns>
    public static int AttentionScratchSize(int length, int dimension, int heads)
    {
        CheckAttention(1, length, dimension, heads);
        return checked((7 * length * (dimension / heads)) + (length * length));
    }

    // Head h of one sequence: rows is [T, 3D] (queries, keys, values), probabilities the head's
    // [T, T] block, output [T, D]; m the head's [T, T] dropout factors or empty.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendHeadByProducts(Span<float> output, Span<float> probabilities, ReadOnlySpan<float> rows, int length, int dimension, int heads, int h, bool causal, ReadOnlySpan<float> m, Span<float> scratch)
    {
        int hs = dimension / heads, size = length * hs;
        Span<float> q = scratch.Slice(0, size), k = scratch.Slice(size, size), v = scratch.Slice(2 * size, size), y = scratch.Slice(3 * size, size);
        Span<float> weighted = scratch.Slice(7 * size, length * length);
        GatherHead(q, rows, 3 * dimension, h * hs, hs, length);
        GatherHead(k, rows, 3 * dimension, dimension + (h * hs), hs, length);
        GatherHead(v, rows, 3 * dimension, (2 * dimension) + (h * hs), hs, length);

        // Scores, then each row's softmax of the scaled scores over its keys (zeros after them).
        Span<float> p = probabilities.Slice(0, length * length);
        MatMul.MultiplyTransposed(p, q, k, length, length, hs, accumulate: false);
        float scale = 1f / MathF.Sqrt(hs);
        for (int t = 0; t < length; t++)
        {
            int keys = causal ? t + 1 : length;
            Span<float> row = p.Slice(t * length, keys);
            float sum = ExpShifted(row, row, TensorPrimitives.Max(row), scale);
            TensorPrimitives.Multiply(row, 1f / sum, row);
            p.Slice((t * length) + keys, length - keys).Clear();
        }

        ReadOnlySpan<float> w = p;
        if (!m.IsEmpty)
        {
            TensorPrimitives.Multiply(p, m.Slice(0, length * length), weighted);
            w = weighted;
        }

        MatMul.Multiply(y, w, length, 1, v, length, hs, length, accumulate: false);
        ScatterHead(output, y, dimension, h * hs, hs, length);
    }

    // Backward of one head of one sequence: dRows [T, 3D] gets the head's columns of dq, dk, dv
    // (written, not added: every column of dRows belongs to one head of one of the three).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendHeadBackwardByProducts(Span<float> dRows, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> rows, ReadOnlySpan<float> probabilities, int length, int dimension, int heads, int h, bool causal, ReadOnlySpan<float> m, Span<float> scratch)
    {
        int hs = dimension / heads, size = length * hs, stride = 3 * dimension;
        int q0 = h * hs, k0 = dimension + (h * hs), v0 = (2 * dimension) + (h * hs);
        Span<float> q = scratch.Slice(0, size), k = scratch.Slice(size, size), v = scratch.Slice(2 * size, size), dy = scratch.Slice(3 * size, size);
        Span<float> dq = scratch.Slice(4 * size, size), dk = scratch.Slice(5 * size, size), dv = scratch.Slice(6 * size, size);
        Span<float> square = scratch.Slice(7 * size, length * length);
        ReadOnlySpan<float> p = probabilities.Slice(0, length * length);
        GatherHead(q, rows, stride, q0, hs, length);
        GatherHead(k, rows, stride, k0, hs, length);
        GatherHead(v, rows, stride, v0, hs, length);
        GatherHead(dy, dOutput, dimension, h * hs, hs, length);

        // dV = Wᵀ·dY, W the weights the values were summed with (after dropout).
        ReadOnlySpan<float> w = p;
        if (!m.IsEmpty)
        {
            TensorPrimitives.Multiply(p, m.Slice(0, length * length), square);
            w = square;
        }

        MatMul.Multiply(dv, w, 1, length, dy, length, hs, length, accumulate: false);

        // dP = dY·Vᵀ (⊙ the dropout factors), then the softmax's Jacobian row by row, scaled by
        // 1/√hs: dS = p ⊙ (dP − Σ p·dP) / √hs, zero on the masked keys.
        Span<float> ds = square;
        MatMul.MultiplyTransposed(ds, dy, v, length, length, hs, accumulate: false);
        if (!m.IsEmpty)
        {
            TensorPrimitives.Multiply(ds, m.Slice(0, length * length), ds);
        }

        float scale = 1f / MathF.Sqrt(hs);
        for (int t = 0; t < length; t++)
        {
            int keys = causal ? t + 1 : length;
            Span<float> row = ds.Slice(t * length, keys);
            ReadOnlySpan<float> pt = p.Slice(t * length, keys);
            float dot = TensorPrimitives.Dot(pt, row);
            TensorPrimitives.Subtract(row, dot, row);
            TensorPrimitives.Multiply(row, pt, row);
            TensorPrimitives.Multiply(row, scale, row);
            ds.Slice((t * length) + keys, length - keys).Clear();
        }

        // dQ = dS·K, dK = dSᵀ·Q.
        MatMul.Multiply(dq, ds, length, 1, k, length, hs, length, accumulate: false);
        MatMul.Multiply(dk, ds, 1, length, q, length, hs, length, accumulate: false);
        ScatterHead(dRows, dq, stride, q0, hs, length);
        ScatterHead(dRows, dk, stride, k0, hs, length);
        ScatterHead(dRows, dv, stride, v0, hs, length);
    }

    // head[t, :] = rows[t, offset .. offset + hs) for t in [0, T).
    private static void GatherHead(Span<float> head, ReadOnlySpan<float> rows, int stride, int offset, int hs, int length)
    {
        for (int t = 0; t < length; t++)
        {
            rows.Slice((t * stride) + offset, hs).CopyTo(head.Slice(t * hs, hs));
        }
    }

    private static void ScatterHead(Span<float> rows, ReadOnlySpan<float> head, int stride, int offset, int hs, int length)
    {
        for (int t = 0; t < length; t++)
        {
            head.Slice(t * hs, hs).CopyTo(rows.Slice((t * stride) + offset, hs));
        }
    }
}
