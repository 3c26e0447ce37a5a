using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>Sequences and the Transformer: embeddings, layer normalisation and self-attention.</summary>
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
    public static void AttentionForward(Span<float> output, Span<float> probabilities, ReadOnlySpan<float> qkv, int sequences, int length, int dimension, int heads, bool causal, ReadOnlySpan<float> dropoutMask = default)
    {
        CheckAttention(sequences, length, dimension, heads);
        CheckSame(qkv.Length, sequences * length * 3 * dimension, nameof(qkv));
        CheckSame(output.Length, sequences * length * dimension, nameof(output));
        CheckSame(probabilities.Length, sequences * heads * length * length, nameof(probabilities));
        if (!dropoutMask.IsEmpty)
        {
            CheckSame(dropoutMask.Length, probabilities.Length, nameof(dropoutMask));
        }

        for (int b = 0; b < sequences; b++)
        {
            ReadOnlySpan<float> rows = qkv.Slice(b * length * 3 * dimension, length * 3 * dimension);
            for (int h = 0; h < heads; h++)
            {
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
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float inverse = 1f / TensorPrimitives.Sum(row);
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
    /// <param name="scratch">At least T values of working space.</param>
    /// <param name="sequences">Sequences.</param>
    /// <param name="length">T.</param>
    /// <param name="dimension">D.</param>
    /// <param name="heads">Heads.</param>
    /// <param name="causal">As in the forward pass.</param>
    /// <param name="dropoutMask">The forward pass's dropout factors, or empty: with them, <c>dp = (dy·v) ⊙ m</c> and <c>dv[s] += p[s]·m[s]·dy</c>.</param>
    public static void AttentionBackward(Span<float> dQkv, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> qkv, ReadOnlySpan<float> probabilities, Span<float> scratch, int sequences, int length, int dimension, int heads, bool causal, ReadOnlySpan<float> dropoutMask = default)
    {
        CheckAttention(sequences, length, dimension, heads);
        CheckSame(dQkv.Length, sequences * length * 3 * dimension, nameof(dQkv));
        if (!dropoutMask.IsEmpty)
        {
            CheckSame(dropoutMask.Length, sequences * heads * length * length, nameof(dropoutMask));
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
