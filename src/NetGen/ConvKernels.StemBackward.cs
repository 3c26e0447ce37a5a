using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The stem's backward pass (ConvKernels.Stem.cs has the algebra): each shard's Σ dy·(patch − m) and Σ dy, then the
// convolution's weight gradient and the BatchNorm's from the whole batch's sums.
public static partial class ConvKernels
{
    /// <summary>The sums a stem's backward adds up over a batch: T = Σ dy·(patch − m) (F·K), then Σ dy (F).</summary>
    /// <param name="filters">F.</param>
    /// <param name="conv">The convolution's window.</param>
    /// <returns>F·K + F.</returns>
    public static int StemSumsSize(int filters, in Window2D conv) => filters * (conv.PatchSize + 1);

    /// <summary>
    /// A shard's sums for the stem's backward (written): T = Σ dy·(patch − m) and Σ dy, where dy is the BatchNorm's
    /// output gradient, the pooled gradient at each window's winner where the ReLU (with <paramref name="pooledValues"/>)
    /// passed it. Each sample's dy is made in <paramref name="planes"/>, its centred patch matrix in
    /// <paramref name="columns"/>.
    /// </summary>
    /// <param name="sums">[F·K + F], written.</param>
    /// <param name="planes">Scratch, at least F·OH·OW + F·OH/2·OW/2 values.</param>
    /// <param name="columns">Scratch, at least K·OH·OW values.</param>
    /// <param name="dPooled">[batch, F, OH/2, OW/2], the pooling's output gradient.</param>
    /// <param name="argmax">[batch, F, OH/2, OW/2], the winners from the forward pass.</param>
    /// <param name="pooledValues">[batch, F, OH/2, OW/2], the pooled values, with a ReLU between; otherwise empty.</param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="moments">[K + K·K], the whole batch's (only the mean is read).</param>
    /// <param name="batch">Samples.</param>
    /// <param name="conv">The convolution's window.</param>
    /// <param name="pool">The pooling's window.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StemGradientSums(
        Span<float> sums, Span<float> planes, Span<float> columns, ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> pooledValues,
        ReadOnlySpan<float> input, ReadOnlySpan<float> moments, int batch, in Window2D conv, in Window2D pool)
    {
        int k = CheckStem(conv), p = conv.Positions, f = pool.Channels, pooled = f * pool.Positions;
        CheckStemPool(conv, pool, planes, f * k);
        MatMul.CheckLength(planes.Length, (long)pool.InputSize + pooled, nameof(planes));
        MatMul.CheckLength(columns.Length, (long)k * p, nameof(columns));
        Kernels.CheckSame(sums.Length, StemSumsSize(f, conv), nameof(sums));
        Kernels.CheckSame(moments.Length, StemMomentsSize(conv), nameof(moments));
        MatMul.CheckLength(input.Length, (long)batch * conv.InputSize, nameof(input));
        MatMul.CheckLength(dPooled.Length, (long)batch * pooled, nameof(dPooled));
        MatMul.CheckLength(argmax.Length, (long)batch * pooled, nameof(argmax));
        if (!pooledValues.IsEmpty)
        {
            MatMul.CheckLength(pooledValues.Length, (long)batch * pooled, nameof(pooledValues));
        }

        Span<float> t = sums.Slice(0, f * k), sumDy = sums.Slice(f * k, f);
        sums.Clear();
        Span<float> dy = planes.Slice(0, pool.InputSize), passed = planes.Slice(pool.InputSize, pooled);
        Span<float> cols = columns.Slice(0, k * p);
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> g = dPooled.Slice(n * pooled, pooled);
            for (int c = 0; c < f; c++)
            {
                int at = c * pool.Positions;
                sumDy[c] += pooledValues.IsEmpty
                    ? RowSum(g.Slice(at, pool.Positions))
                    : PassWherePositive(passed.Slice(at, pool.Positions), g.Slice(at, pool.Positions), pooledValues.Slice((n * pooled) + at, pool.Positions));
            }

            MaxPoolBackward(dy, pooledValues.IsEmpty ? g : passed, argmax.Slice(n * pooled, pooled), 1, pool);
            Im2Col(cols, input.Slice(n * conv.InputSize, conv.InputSize), conv);
            for (int r = 0; r < k; r++)
            {
                Span<float> row = cols.Slice(r * p, p);
                Kernels.ScaleShift(row, row, moments[r], 1f, 0f, relu: false); // patch − m
            }

            RowDots(t, dy, f, cols, k, p, accumulate: true);
        }
    }

    /// <summary>
    /// The stem's parameter gradients from the whole batch's sums (<see cref="StemGradientSums"/>, added up over
    /// the shards), added to <paramref name="dWeight"/>, <paramref name="dGamma"/> and <paramref name="dBeta"/>:
    /// dβ = Σ dy, dγ = s·(w·T), dW = γ·s·(T − (dγ/N)·s·M2·w), in double. A convolution bias's gradient is 0.
    /// </summary>
    /// <param name="dWeight">[F, C, kH, kW], the convolution's weight gradient; accumulated.</param>
    /// <param name="dGamma">[F], accumulated.</param>
    /// <param name="dBeta">[F], accumulated.</param>
    /// <param name="sums">[F·K + F], the whole batch's.</param>
    /// <param name="moments">[K + K·K], the whole batch's.</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="gamma">[F].</param>
    /// <param name="inverseStd">[F], from the forward pass.</param>
    /// <param name="count">Positions in the whole batch.</param>
    /// <param name="conv">The convolution's window.</param>
    public static void StemGradients(
        Span<float> dWeight, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> sums, ReadOnlySpan<float> moments,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> gamma, ReadOnlySpan<float> inverseStd, long count, in Window2D conv)
    {
        int k = CheckStem(conv), f = gamma.Length;
        Kernels.CheckSame(dWeight.Length, f * k, nameof(dWeight));
        Kernels.CheckSame(weight.Length, f * k, nameof(weight));
        Kernels.CheckSame(dGamma.Length, f, nameof(dGamma));
        Kernels.CheckSame(dBeta.Length, f, nameof(dBeta));
        Kernels.CheckSame(inverseStd.Length, f, nameof(inverseStd));
        Kernels.CheckSame(sums.Length, StemSumsSize(f, conv), nameof(sums));
        Kernels.CheckSame(moments.Length, StemMomentsSize(conv), nameof(moments));
        ReadOnlySpan<float> squares = moments.Slice(k);
        for (int c = 0; c < f; c++)
        {
            ReadOnlySpan<float> w = weight.Slice(c * k, k), t = sums.Slice(c * k, k);
            double s = inverseStd[c];
            double dg = s * Dot(w, t);
            double scale = gamma[c] * s, shrink = dg / count * s;
            for (int r = 0; r < k; r++)
            {
                double m2w = Dot(w, squares.Slice(r * k, k)); // (M2·w)_r: M2 is symmetric
                dWeight[(c * k) + r] += (float)(scale * (t[r] - (shrink * m2w)));
            }

            dGamma[c] += (float)dg;
            dBeta[c] += sums[(f * k) + c];
        }
    }

    /// <summary>
    /// The stem's backward pass on one thread: <see cref="StemGradientSums"/>, then <see cref="StemGradients"/>.
    /// </summary>
    /// <param name="dWeight">[F, C, kH, kW], accumulated.</param>
    /// <param name="dGamma">[F], accumulated.</param>
    /// <param name="dBeta">[F], accumulated.</param>
    /// <param name="sums">[F·K + F], scratch.</param>
    /// <param name="planes">Scratch, at least F·OH·OW + F·OH/2·OW/2 values.</param>
    /// <param name="columns">Scratch, at least K·OH·OW values.</param>
    /// <param name="dPooled">[batch, F, OH/2, OW/2], the pooling's output gradient.</param>
    /// <param name="argmax">[batch, F, OH/2, OW/2], the winners.</param>
    /// <param name="pooledValues">[batch, F, OH/2, OW/2], with a ReLU between; otherwise empty.</param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="moments">[K + K·K], from the forward pass.</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="gamma">[F].</param>
    /// <param name="inverseStd">[F], from the forward pass.</param>
    /// <param name="batch">Samples.</param>
    /// <param name="conv">The convolution's window.</param>
    /// <param name="pool">The pooling's window.</param>
    public static void StemBackward(
        Span<float> dWeight, Span<float> dGamma, Span<float> dBeta, Span<float> sums, Span<float> planes, Span<float> columns,
        ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> pooledValues, ReadOnlySpan<float> input, ReadOnlySpan<float> moments,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> gamma, ReadOnlySpan<float> inverseStd, int batch, in Window2D conv, in Window2D pool)
    {
        StemGradientSums(sums, planes, columns, dPooled, argmax, pooledValues, input, moments, batch, conv, pool);
        StemGradients(dWeight, dGamma, dBeta, sums, moments, weight, gamma, inverseStd, (long)batch * conv.Positions, conv);
    }

    // passed = g where value > 0, else 0 (the ReLU's gradient mask at the pooling's winners: a pooled value is the
    // winner's output of the ReLU, positive exactly where the ReLU passed it); returns the sum of passed.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float PassWherePositive(Span<float> passed, ReadOnlySpan<float> g, ReadOnlySpan<float> value)
    {
        ref float d = ref MemoryMarshal.GetReference(passed);
        ref float s = ref MemoryMarshal.GetReference(g);
        ref float v = ref MemoryMarshal.GetReference(value);
        int n = passed.Length, i = 0;
        float sum = 0;
        if (MatMul.Use512 && MatMul.UseVectors)
        {
            Vector512<float> a = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> x = Vector512.LoadUnsafe(ref s, (nuint)i) & Vector512.GreaterThan(Vector512.LoadUnsafe(ref v, (nuint)i), Vector512<float>.Zero);
                x.StoreUnsafe(ref d, (nuint)i);
                a += x;
            }

            sum = Vector512.Sum(a);
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> a = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> x = Vector256.LoadUnsafe(ref s, (nuint)i) & Vector256.GreaterThan(Vector256.LoadUnsafe(ref v, (nuint)i), Vector256<float>.Zero);
                x.StoreUnsafe(ref d, (nuint)i);
                a += x;
            }

            sum = Vector256.Sum(a);
        }

        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref v, i) > 0f ? Unsafe.Add(ref s, i) : 0f;
            Unsafe.Add(ref d, i) = x;
            sum += x;
        }

        return sum;
    }
}
