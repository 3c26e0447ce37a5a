using System;
using System.Runtime.CompilerServices;

namespace NetGen;

// A network's stem: its first convolution (whose input needs no gradient), the BatchNorm after it, the ReLU (if
// any) and the 2x2 max pooling, in training, without the convolution's output or its gradient ever being written.
// z = W·patch is linear in the patch, so the BatchNorm's batch statistics follow from the patches' mean m and
// co-moments M2 = Σ (patch − m)(patch − m)ᵀ: μ_f = w_f·m + b_f, Σ (z − μ)² = w_fᵀ·M2·w_f. Each sample's z is made
// in a per-sample buffer where it is normalised and pooled. Backward, with dy the BatchNorm's output gradient
// (the pooled gradient at the winners, where the ReLU passed) and T = Σ dy·(patch − m):
//   dβ = Σ dy,   dγ = Σ dy·x̂ = s·(w·T)   (s = 1/σ),
//   dz = γ·s·(dy − dβ/N − x̂·dγ/N),   so   dW = Σ dz·patch = γ·s·(T − (dγ/N)·s·M2·w),
// since Σ x̂·patch = s·M2·w; dz sums to 0, so a bias's gradient is 0. The sample CNN's first convolution and
// BatchNorm wrote and read 3.2 MB (64 x 16 x 28 x 28) four times a step; the stem reads the 200 KB input instead.
public static partial class ConvKernels
{
    /// <summary>The largest patch (C·kH·kW) a stem takes: its co-moments are K² values per sample.</summary>
    public const int StemMaxPatch = 32;

    /// <summary>The moments a stem keeps: the patches' mean (K) and co-moments (K·K).</summary>
    /// <param name="conv">The convolution's window.</param>
    /// <returns>K + K².</returns>
    public static int StemMomentsSize(in Window2D conv) => conv.PatchSize * (conv.PatchSize + 1);

    /// <summary>
    /// The mean patch and the co-moments Σ (patch − mean)(patch − mean)ᵀ over every output position of
    /// <paramref name="batch"/> samples (a split batch's shard), written into <paramref name="moments"/>: each
    /// sample's measured about its own mean, merged in double (Chan, Golub and LeVeque) in sample order.
    /// </summary>
    /// <param name="moments">[K + K·K], written: the mean, then the co-moments row by row.</param>
    /// <param name="columns">Scratch, at least K·OH·OW values (one sample's patch matrix).</param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="conv">The convolution's window; its patch at most <see cref="StemMaxPatch"/> values.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StemMoments(Span<float> moments, Span<float> columns, ReadOnlySpan<float> input, int batch, in Window2D conv)
    {
        int k = CheckStem(conv), p = conv.Positions;
        Kernels.CheckSame(moments.Length, StemMomentsSize(conv), nameof(moments));
        MatMul.CheckLength(columns.Length, (long)k * p, nameof(columns));
        MatMul.CheckLength(input.Length, (long)batch * conv.InputSize, nameof(input));
        Span<double> mean = stackalloc double[k];
        Span<double> squares = stackalloc double[k * k];
        Span<float> sampleMean = stackalloc float[k];
        Span<float> gram = stackalloc float[k * k];
        mean.Clear();
        squares.Clear();
        Span<float> cols = columns.Slice(0, k * p);
        for (int n = 0; n < batch; n++)
        {
            Im2Col(cols, input.Slice(n * conv.InputSize, conv.InputSize), conv);
            for (int r = 0; r < k; r++)
            {
                Span<float> row = cols.Slice(r * p, p);
                sampleMean[r] = RowSum(row) / p;
                Kernels.ScaleShift(row, row, sampleMean[r], 1f, 0f, relu: false); // x − mean
            }

            Gram(gram, cols, k, p);
            Merge(mean, squares, (double)n * p, sampleMean, gram, p);
        }

        for (int r = 0; r < k; r++)
        {
            moments[r] = (float)mean[r];
        }

        for (int i = 0; i < k * k; i++)
        {
            moments[k + i] = (float)squares[i];
        }
    }

    /// <summary>
    /// Merges another shard's <see cref="StemMoments"/> into <paramref name="moments"/>: afterwards they describe
    /// both shards' patches (the network calls it in shard order).
    /// </summary>
    /// <param name="moments">[K + K·K], the merged moments so far; updated.</param>
    /// <param name="count">Positions merged so far (samples · OH·OW).</param>
    /// <param name="shardMoments">[K + K·K], the other shard's.</param>
    /// <param name="shardCount">The other shard's positions.</param>
    /// <param name="conv">The convolution's window.</param>
    public static void StemMerge(Span<float> moments, long count, ReadOnlySpan<float> shardMoments, long shardCount, in Window2D conv)
    {
        int k = CheckStem(conv);
        Kernels.CheckSame(moments.Length, StemMomentsSize(conv), nameof(moments));
        Kernels.CheckSame(shardMoments.Length, StemMomentsSize(conv), nameof(shardMoments));
        Span<double> mean = stackalloc double[k];
        Span<double> squares = stackalloc double[k * k];
        for (int r = 0; r < k; r++)
        {
            mean[r] = moments[r];
        }

        for (int i = 0; i < k * k; i++)
        {
            squares[i] = moments[k + i];
        }

        Merge(mean, squares, count, shardMoments.Slice(0, k), shardMoments.Slice(k), shardCount);
        for (int r = 0; r < k; r++)
        {
            moments[r] = (float)mean[r];
        }

        for (int i = 0; i < k * k; i++)
        {
            moments[k + i] = (float)squares[i];
        }
    }

    // Chan, Golub and LeVeque's pairwise update of a mean vector and co-moment matrix, in double.
    private static void Merge(Span<double> mean, Span<double> squares, double count, ReadOnlySpan<float> otherMean, ReadOnlySpan<float> otherSquares, double otherCount)
    {
        int k = mean.Length;
        double total = count + otherCount, weight = count * otherCount / total;
        Span<double> delta = stackalloc double[k];
        for (int r = 0; r < k; r++)
        {
            delta[r] = otherMean[r] - mean[r];
            mean[r] += delta[r] * otherCount / total;
        }

        for (int r = 0; r < k; r++)
        {
            for (int c = 0; c < k; c++)
            {
                squares[(r * k) + c] += otherSquares[(r * k) + c] + (delta[r] * delta[c] * weight);
            }
        }
    }

    /// <summary>
    /// The BatchNorm's batch statistics from the whole batch's patch moments: μ_f = w_f·m + b_f and
    /// Σ (z − μ)² = w_fᵀ·M2·w_f (in double), then 1/√(σ² + ε) and the running statistics as
    /// <see cref="Kernels.BatchNormFinish"/> makes them.
    /// </summary>
    /// <param name="batchMean">[F], written.</param>
    /// <param name="batchInverseStd">[F], written.</param>
    /// <param name="runningMean">[F], updated.</param>
    /// <param name="runningVariance">[F], updated.</param>
    /// <param name="moments">[K + K·K], the whole batch's (<see cref="StemMoments"/>, merged).</param>
    /// <param name="weight">[F, C, kH, kW], the convolution's.</param>
    /// <param name="bias">[F], the convolution's, or empty.</param>
    /// <param name="count">Positions in the whole batch (samples · OH·OW); at least 2.</param>
    /// <param name="momentum">PyTorch's momentum.</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="filters">F.</param>
    /// <param name="conv">The convolution's window.</param>
    public static void StemStatistics(
        Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance, ReadOnlySpan<float> moments,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, long count, float momentum, float epsilon, int filters, in Window2D conv)
    {
        int k = CheckStem(conv);
        Kernels.CheckSame(moments.Length, StemMomentsSize(conv), nameof(moments));
        Kernels.CheckSame(weight.Length, filters * k, nameof(weight));
        Kernels.CheckSame(batchMean.Length, filters, nameof(batchMean));
        Kernels.CheckSame(batchInverseStd.Length, filters, nameof(batchInverseStd));
        Kernels.CheckSame(runningMean.Length, filters, nameof(runningMean));
        Kernels.CheckSame(runningVariance.Length, filters, nameof(runningVariance));
        Kernels.CheckStatisticsCount(count, nameof(count)); // before anything is written
        if (!bias.IsEmpty)
        {
            Kernels.CheckSame(bias.Length, filters, nameof(bias));
        }

        for (int f = 0; f < filters; f++)
        {
            ReadOnlySpan<float> w = weight.Slice(f * k, k);
            batchMean[f] = (float)(Dot(w, moments.Slice(0, k)) + (bias.IsEmpty ? 0 : bias[f]));
            batchInverseStd[f] = (float)Quadratic(moments.Slice(k), w, w);
        }

        Kernels.BatchNormFinish(batchInverseStd, batchMean, runningMean, runningVariance, count, momentum, epsilon);
    }

    /// <summary>
    /// The stem's forward pass in training with given statistics: each sample's convolution output made in
    /// <paramref name="planes"/>, then normalised, passed through the ReLU (with <paramref name="relu"/>) and
    /// pooled there (<see cref="BatchNormMaxPool"/>).
    /// </summary>
    /// <param name="output">[batch, F, OH/2, OW/2], the pooled values.</param>
    /// <param name="argmax">[batch, F, OH/2, OW/2], the winners within each sample.</param>
    /// <param name="planes">Scratch, at least F·OH·OW values (one sample's convolution output).</param>
    /// <param name="columns">The convolution's scratch (<see cref="Conv2DForward"/> with one sample).</param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="bias">[F], or empty.</param>
    /// <param name="mean">[F], the batch mean.</param>
    /// <param name="inverseStd">[F], 1/√(σ² + ε).</param>
    /// <param name="gamma">[F].</param>
    /// <param name="beta">[F].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="relu">Whether a ReLU comes between the BatchNorm and the pooling.</param>
    /// <param name="conv">The convolution's window.</param>
    /// <param name="pool">The pooling's window: 2x2, stride 2, over [F, OH, OW].</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StemNormalizeMaxPool(
        Span<float> output, Span<int> argmax, Span<float> planes, Span<float> columns, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> inverseStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int batch, bool relu, in Window2D conv, in Window2D pool)
    {
        CheckStemPool(conv, pool, planes, weight.Length);
        int pooled = pool.Channels * pool.Positions;
        MatMul.CheckLength(input.Length, (long)batch * conv.InputSize, nameof(input));
        MatMul.CheckLength(output.Length, (long)batch * pooled, nameof(output));
        MatMul.CheckLength(argmax.Length, (long)batch * pooled, nameof(argmax));
        Span<float> z = planes.Slice(0, pool.InputSize);
        for (int n = 0; n < batch; n++)
        {
            Conv2DForward(z, columns, input.Slice(n * conv.InputSize, conv.InputSize), weight, bias, 1, pool.Channels, conv);
            BatchNormMaxPool(output.Slice(n * pooled, pooled), argmax.Slice(n * pooled, pooled), z, mean, inverseStd, gamma, beta, 1, relu, pool);
        }
    }

    /// <summary>
    /// The stem's forward pass in training on one thread: <see cref="StemMoments"/>, <see cref="StemStatistics"/> and
    /// <see cref="StemNormalizeMaxPool"/>.
    /// </summary>
    /// <param name="output">[batch, F, OH/2, OW/2], the pooled values.</param>
    /// <param name="argmax">[batch, F, OH/2, OW/2], the winners within each sample.</param>
    /// <param name="batchMean">[F], written.</param>
    /// <param name="batchInverseStd">[F], written.</param>
    /// <param name="runningMean">[F], updated.</param>
    /// <param name="runningVariance">[F], updated.</param>
    /// <param name="moments">[K + K·K], written.</param>
    /// <param name="planes">Scratch, at least F·OH·OW values.</param>
    /// <param name="columns">The convolution's scratch.</param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="bias">[F], or empty.</param>
    /// <param name="gamma">[F].</param>
    /// <param name="beta">[F].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="momentum">PyTorch's momentum.</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="relu">Whether a ReLU comes between the BatchNorm and the pooling.</param>
    /// <param name="conv">The convolution's window.</param>
    /// <param name="pool">The pooling's window.</param>
    public static void StemTrainingForward(
        Span<float> output, Span<int> argmax, Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance,
        Span<float> moments, Span<float> planes, Span<float> columns, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int batch, float momentum, float epsilon, bool relu, in Window2D conv, in Window2D pool)
    {
        CheckStemPool(conv, pool, planes, weight.Length);
        StemMoments(moments, columns, input, batch, conv);
        StemStatistics(batchMean, batchInverseStd, runningMean, runningVariance, moments, weight, bias, (long)batch * conv.Positions, momentum, epsilon, pool.Channels, conv);
        StemNormalizeMaxPool(output, argmax, planes, columns, input, weight, bias, batchMean, batchInverseStd, gamma, beta, batch, relu, conv, pool);
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }

        return sum;
    }

    // aᵀ·M·b for a K x K matrix M stored row by row.
    private static double Quadratic(ReadOnlySpan<float> m, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int k = a.Length;
        double sum = 0;
        for (int r = 0; r < k; r++)
        {
            sum += a[r] * Dot(m.Slice(r * k, k), b);
        }

        return sum;
    }

    private static int CheckStem(in Window2D conv)
    {
        if (conv.PatchSize > StemMaxPatch || conv.PatchSize < 1)
        {
            throw new ArgumentException($"A stem takes patches of 1 to {StemMaxPatch} values, but this convolution's have {conv.PatchSize}.", nameof(conv));
        }

        return conv.PatchSize;
    }

    private static void CheckStemPool(in Window2D conv, in Window2D pool, Span<float> planes, int weights)
    {
        int k = CheckStem(conv);
        CheckPoolWindow(pool, nameof(pool));
        if (pool.Height != conv.OutHeight || pool.Width != conv.OutWidth)
        {
            throw new ArgumentException($"The pooling's input is {pool.Height}x{pool.Width}, but the convolution's output is {conv.OutHeight}x{conv.OutWidth}.", nameof(pool));
        }

        Kernels.CheckSame(weights, pool.Channels * k, "weight");
        MatMul.CheckLength(planes.Length, pool.InputSize, nameof(planes));
    }
}
