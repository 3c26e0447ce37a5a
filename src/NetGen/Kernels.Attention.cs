using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>The Transformer's multi-head self-attention: forward, the cached step of generation, backward.</summary>
public static partial class Kernels
{
    // ---------------------------------------------------------------- Self-attention

    /// <summary>
    /// Multi-head scaled dot-product attention of every position of <paramref name="sequences"/>
    /// sequences: per head h, <c>p = softmax(q·kᵀ/√hs)</c> over the keys (with the causal mask, only
    /// positions up to the query's), <c>y = p·v</c>. Queries, keys and values are the three thirds of
    /// each row of <paramref name="qkv"/> (nanoGPT's <c>c_attn</c> output), head h at columns
    /// <c>[h·hs, (h+1)·hs)</c> of each third.
    /// </summary>
    /// <param name="output">[sequences, T, D]: the heads side by side, before the output projection.</param>
    /// <param name="probabilities">[sequences, heads, T, T], written (masked entries 0): the backward pass reads them.</param>
    /// <param name="qkv">[sequences, T, 3D].</param>
    /// <param name="sequences">Sequences in the batch.</param>
    /// <param name="length">T, positions per sequence.</param>
    /// <param name="dimension">D, the model dimension.</param>
    /// <param name="heads">Heads; must divide D.</param>
    /// <param name="causal">Whether a position attends only to itself and earlier positions.</param>
    /// <param name="dropoutMask">
    /// Empty, or [sequences, heads, T, T] dropout factors (0 or 1/(1 − p), <see cref="DropoutMask"/>)
    /// applied to the weights as the values are summed: <c>y = (p ⊙ m)·v</c>. The undropped
    /// weights are what <paramref name="probabilities"/> keeps.
    /// </param>
    /// <param name="scratch">
    /// At least <see cref="AttentionScratchSize"/> values: the heads go through matrix products (the
    /// generated networks' way); smaller or empty: one query row at a time (same results to rounding).
    /// </param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttentionForward(Span<float> output, Span<float> probabilities, ReadOnlySpan<float> qkv, int sequences, int length, int dimension, int heads, bool causal, ReadOnlySpan<float> dropoutMask = default, Span<float> scratch = default)
    {
        CheckAttention(sequences, length, dimension, heads);
        CheckSame(qkv.Length, sequences * length * 3 * dimension, nameof(qkv));
        CheckSame(output.Length, sequences * length * dimension, nameof(output));
        CheckSame(probabilities.Length, sequences * heads * length * length, nameof(probabilities));
        if (!dropoutMask.IsEmpty)
        {
            CheckSame(dropoutMask.Length, probabilities.Length, nameof(dropoutMask));
        }

        bool products = scratch.Length >= AttentionScratchSize(length, dimension, heads);
        for (int b = 0; b < sequences; b++)
        {
            ReadOnlySpan<float> rows = qkv.Slice(b * length * 3 * dimension, length * 3 * dimension);
            for (int h = 0; h < heads; h++)
            {
                if (products)
                {
                    int block = ((b * heads) + h) * length * length;
                    AttendHeadByProducts(
                        output.Slice(b * length * dimension, length * dimension), probabilities.Slice(block, length * length), rows,
                        length, dimension, heads, h, causal, dropoutMask.IsEmpty ? default : dropoutMask.Slice(block, length * length), scratch);
                    continue;
                }

                for (int t = 0; t < length; t++)
                {
                    int at = (((b * heads) + h) * length + t) * length;
                    Span<float> p = probabilities.Slice(at, length);
                    Span<float> y = output.Slice(((b * length) + t) * dimension, dimension);
                    AttendRow(y, p, rows, t, causal ? t + 1 : length, dimension, heads, h, dropoutMask.IsEmpty ? default : dropoutMask.Slice(at, length));
                }
            }
        }
    }

    /// <summary>
    /// One query row against the keys and values of positions <c>[0, keys)</c> of one sequence: the
    /// step of incremental (key/value-cached) generation, where <paramref name="qkv"/> holds the
    /// projections of the positions seen so far.
    /// </summary>
    /// <param name="output">[D], the new position's attention output (all heads).</param>
    /// <param name="scores">At least <paramref name="keys"/> values of working space.</param>
    /// <param name="qkv">[≥ keys, 3D]: row <c>keys − 1</c> is the query's.</param>
    /// <param name="keys">Positions attended to (the new one included).</param>
    /// <param name="dimension">D.</param>
    /// <param name="heads">Heads.</param>
    public static void AttentionStep(Span<float> output, Span<float> scores, ReadOnlySpan<float> qkv, int keys, int dimension, int heads)
    {
        CheckAttention(1, keys, dimension, heads);
        CheckSame(output.Length, dimension, nameof(output));
        for (int h = 0; h < heads; h++)
        {
            AttendRow(output, scores.Slice(0, keys), qkv, keys - 1, keys, dimension, heads, h, default);
        }
    }

    // Head h of query row t against key rows [0, keys): writes p[0, keys) (and zeros after, up to
    // p's length) and y's head columns, the weights times the dropout factors m when m is given.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendRow(Span<float> y, Span<float> p, ReadOnlySpan<float> rows, int t, int keys, int dimension, int heads, int h, ReadOnlySpan<float> m)
    {
        int hs = dimension / heads;
        int stride = 3 * dimension;
        float scale = 1f / MathF.Sqrt(hs);
        ReadOnlySpan<float> q = rows.Slice((t * stride) + (h * hs), hs);
        float max = float.NegativeInfinity;
        for (int s = 0; s < keys; s++)
        {
            float score = HeadDot(q, rows.Slice((s * stride) + dimension + (h * hs), hs)) * scale;
            p[s] = score;
            max = MathF.Max(max, score);
        }

        Span<float> row = p.Slice(0, keys);
        float inverse = 1f / ExpShifted(row, row, max, 1f);
        TensorPrimitives.Multiply(row, inverse, row);
        p.Slice(keys).Clear();
        Span<float> yh = y.Slice(h * hs, hs);
        yh.Clear();
        for (int s = 0; s < keys; s++)
        {
            HeadAxpy(yh, rows.Slice((s * stride) + (2 * dimension) + (h * hs), hs), m.IsEmpty ? p[s] : p[s] * m[s]);
        }
    }

    /// <summary>
    /// Backward of <see cref="AttentionForward"/>. Per head and query t, with <c>dp[s] = dy[t]·v[s]</c>
    /// and <c>ds = p ⊙ (dp − Σ p·dp)</c> (the softmax's Jacobian):
    /// <c>dv[s] += p[s]·dy[t]</c>, <c>dq[t] += Σ_s ds[s]·k[s]/√hs</c>, <c>dk[s] += ds[s]·q[t]/√hs</c>.
    /// </summary>
    /// <param name="dQkv">[sequences, T, 3D], overwritten.</param>
    /// <param name="dOutput">[sequences, T, D].</param>
    /// <param name="qkv">[sequences, T, 3D], the forward input.</param>
    /// <param name="probabilities">[sequences, heads, T, T], from the forward pass.</param>
    /// <param name="scratch">
    /// At least <see cref="AttentionScratchSize"/> values: matrix products per head; at least T: one query
    /// row at a time (same results to rounding).
    /// </param>
    /// <param name="sequences">Sequences.</param>
    /// <param name="length">T.</param>
    /// <param name="dimension">D.</param>
    /// <param name="heads">Heads.</param>
    /// <param name="causal">As in the forward pass.</param>
    /// <param name="dropoutMask">The forward pass's dropout factors, or empty: with them, <c>dp = (dy·v) ⊙ m</c> and <c>dv[s] += p[s]·m[s]·dy</c>.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttentionBackward(Span<float> dQkv, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> qkv, ReadOnlySpan<float> probabilities, Span<float> scratch, int sequences, int length, int dimension, int heads, bool causal, ReadOnlySpan<float> dropoutMask = default)
    {
        CheckAttention(sequences, length, dimension, heads);
        CheckSame(dQkv.Length, sequences * length * 3 * dimension, nameof(dQkv));
        if (!dropoutMask.IsEmpty)
        {
            CheckSame(dropoutMask.Length, sequences * heads * length * length, nameof(dropoutMask));
        }

        if (scratch.Length >= AttentionScratchSize(length, dimension, heads))
        {
            for (int b = 0; b < sequences; b++)
            {
                int at = b * length * 3 * dimension;
                for (int h = 0; h < heads; h++)
                {
                    int block = ((b * heads) + h) * length * length;
                    AttendHeadBackwardByProducts(
                        dQkv.Slice(at, length * 3 * dimension), dOutput.Slice(b * length * dimension, length * dimension), qkv.Slice(at, length * 3 * dimension),
                        probabilities.Slice(block, length * length), length, dimension, heads, h, causal,
                        dropoutMask.IsEmpty ? default : dropoutMask.Slice(block, length * length), scratch);
                }
            }

            return;
        }

        dQkv.Clear();
        int hs = dimension / heads;
        int stride = 3 * dimension;
        float scale = 1f / MathF.Sqrt(hs);
        Span<float> dp = scratch.Slice(0, length);
        for (int b = 0; b < sequences; b++)
        {
            ReadOnlySpan<float> rows = qkv.Slice(b * length * stride, length * stride);
            Span<float> dRows = dQkv.Slice(b * length * stride, length * stride);
            for (int h = 0; h < heads; h++)
            {
                int q0 = h * hs, k0 = dimension + (h * hs), v0 = (2 * dimension) + (h * hs);
                for (int t = 0; t < length; t++)
                {
                    int keys = causal ? t + 1 : length;
                    int at = (((b * heads) + h) * length + t) * length;
                    ReadOnlySpan<float> p = probabilities.Slice(at, keys);
                    ReadOnlySpan<float> dy = dOutput.Slice((((b * length) + t) * dimension) + (h * hs), hs);
                    if (dropoutMask.IsEmpty)
                    {
                        for (int s = 0; s < keys; s++)
                        {
                            dp[s] = HeadDot(dy, rows.Slice((s * stride) + v0, hs));
                            HeadAxpy(dRows.Slice((s * stride) + v0, hs), dy, p[s]);
                        }
                    }
                    else
                    {
                        ReadOnlySpan<float> m = dropoutMask.Slice(at, keys);
                        for (int s = 0; s < keys; s++)
                        {
                            dp[s] = HeadDot(dy, rows.Slice((s * stride) + v0, hs)) * m[s];
                            HeadAxpy(dRows.Slice((s * stride) + v0, hs), dy, p[s] * m[s]);
                        }
                    }

                    Span<float> ds = dp.Slice(0, keys);
                    float dot = TensorPrimitives.Dot(p, ds);
                    TensorPrimitives.Subtract(ds, dot, ds);
                    TensorPrimitives.Multiply(ds, p, ds);
                    TensorPrimitives.Multiply(ds, scale, ds);
                    ReadOnlySpan<float> q = rows.Slice((t * stride) + q0, hs);
                    Span<float> dq = dRows.Slice((t * stride) + q0, hs);
                    for (int s = 0; s < keys; s++)
                    {
                        HeadAxpy(dq, rows.Slice((s * stride) + k0, hs), ds[s]);
                        HeadAxpy(dRows.Slice((s * stride) + k0, hs), q, ds[s]);
                    }
                }
            }
        }
    }

    // Dot product and y += a·x over one head's values (a few dozen): inlined vector loops, where a
    // TensorPrimitives call per pair of positions costs more in dispatch than in arithmetic.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HeadDot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int n = x.Length, i = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                acc = Simd.Fma(Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref ry, (nuint)i), acc);
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref rx, i) * Unsafe.Add(ref ry, i);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HeadAxpy(Span<float> y, ReadOnlySpan<float> x, float a)
    {
        int n = y.Length, i = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                Simd.Fma(va, Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref ry, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref ry, i) += a * Unsafe.Add(ref rx, i);
        }
    }

    private static void CheckAttention(int sequences, int length, int dimension, int heads)
    {
        if (sequences < 0 || length <= 0 || dimension <= 0 || heads <= 0 || dimension % heads != 0)
        {
            throw new ArgumentException($"Attention needs positive sizes and heads dividing the dimension; got {sequences} sequences of {length} positions, dimension {dimension}, {heads} heads.");
        }
    }
}
