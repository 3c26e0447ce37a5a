using System;

namespace NetGen;

/// <summary>
/// Batch normalisation of a batch split across threads: every shard measures its own rows, the
/// network merges the shards' measurements in shard order, and every shard then normalises with the
/// whole batch's statistics, exactly as one thread would (to rounding). The same in backward for the
/// two sums the input gradient needs.
/// </summary>
public static partial class Kernels
{
    /// <summary>
    /// A shard's per-channel mean and sum of squared deviations from it, over its
    /// <paramref name="rows"/> × <paramref name="spatial"/> values per channel.
    /// </summary>
    /// <param name="mean">[channels], written.</param>
    /// <param name="squares">[channels], written: Σ (x − mean)².</param>
    /// <param name="input">[rows, channels, spatial].</param>
    /// <param name="rows">The shard's samples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Values per channel per sample.</param>
    public static void BatchNormShardMoments(Span<float> mean, Span<float> squares, ReadOnlySpan<float> input, int rows, int channels, int spatial)
    {
        for (int c = 0; c < channels; c++)
        {
            (float m, double total) = ChannelMoments(input, rows, channels, spatial, c);
            mean[c] = m;
            squares[c] = (float)total;
        }
    }

    /// <summary>
    /// Merges another shard's moments into <paramref name="mean"/> and <paramref name="squares"/>
    /// (Chan, Golub and LeVeque's pairwise update): afterwards they describe both shards' values.
    /// </summary>
    /// <param name="mean">[channels], the merged mean so far; updated.</param>
    /// <param name="squares">[channels], the merged sum of squared deviations so far; updated.</param>
    /// <param name="count">Values per channel merged so far.</param>
    /// <param name="shardMean">[channels], the other shard's mean.</param>
    /// <param name="shardSquares">[channels], the other shard's sum of squared deviations.</param>
    /// <param name="shardCount">The other shard's values per channel.</param>
    public static void BatchNormMerge(Span<float> mean, Span<float> squares, long count, ReadOnlySpan<float> shardMean, ReadOnlySpan<float> shardSquares, long shardCount)
    {
        double total = count + shardCount;
        for (int c = 0; c < mean.Length; c++)
        {
            double delta = (double)shardMean[c] - mean[c];
            mean[c] = (float)(mean[c] + (delta * shardCount / total));
            squares[c] = (float)(squares[c] + (double)shardSquares[c] + (delta * delta * count * shardCount / total));
        }
    }

    /// <summary>
    /// Turns the whole batch's merged moments into what normalisation uses, and updates the running
    /// statistics as <see cref="BatchNormTrainingForward"/> does (the unbiased variance).
    /// </summary>
    /// <param name="squaresToInverseStd">[channels]: Σ (x − μ)² in, 1/√(σ² + ε) out.</param>
    /// <param name="mean">[channels], the batch mean.</param>
    /// <param name="runningMean">[channels], updated.</param>
    /// <param name="runningVariance">[channels], updated.</param>
    /// <param name="count">Values per channel in the whole batch; at least 2.</param>
    /// <param name="momentum">PyTorch's momentum.</param>
    /// <param name="epsilon">Added to the variance.</param>
    public static void BatchNormFinish(Span<float> squaresToInverseStd, ReadOnlySpan<float> mean, Span<float> runningMean, Span<float> runningVariance, long count, float momentum, float epsilon)
    {
        if (count < 2)
        {
            throw new ArgumentException($"Batch normalisation in training needs at least 2 values per channel, but the batch has {count}.", nameof(count));
        }

        for (int c = 0; c < squaresToInverseStd.Length; c++)
        {
            double squares = squaresToInverseStd[c];
            runningMean[c] = ((1f - momentum) * runningMean[c]) + (momentum * mean[c]);
            runningVariance[c] = ((1f - momentum) * runningVariance[c]) + (momentum * (float)(squares / (count - 1)));
            squaresToInverseStd[c] = 1f / MathF.Sqrt((float)(squares / count) + epsilon);
        }
    }

    /// <summary><c>y = γ·(x − μ)·(1/σ) + β</c> with given batch statistics; <c>max(y, 0)</c> with <paramref name="relu"/>.</summary>
    /// <param name="output">[rows, channels, spatial], written.</param>
    /// <param name="input">[rows, channels, spatial].</param>
    /// <param name="mean">[channels].</param>
    /// <param name="inverseStd">[channels].</param>
    /// <param name="gamma">[channels].</param>
    /// <param name="beta">[channels].</param>
    /// <param name="rows">Samples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Values per channel per sample.</param>
    /// <param name="relu">Whether the ReLU after the layer is fused in.</param>
    public static void BatchNormNormalize(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> mean, ReadOnlySpan<float> inverseStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int rows, int channels, int spatial, bool relu = false)
    {
        for (int c = 0; c < channels; c++)
        {
            float scale = gamma[c] * inverseStd[c];
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                ScaleShift(output.Slice(o, spatial), input.Slice(o, spatial), mean[c], scale, beta[c], relu);
            }
        }
    }

    /// <summary>
    /// A shard's per-channel <c>Σ dy</c> and <c>Σ dy·x̂</c> (written, not accumulated); with a fused ReLU
    /// (<paramref name="reluGamma"/> and <paramref name="reluBeta"/> given), dy masked where γ·x̂ + β was not positive.
    /// </summary>
    /// <param name="sumDy">[channels], written.</param>
    /// <param name="sumDyXhat">[channels], written.</param>
    /// <param name="dOutput">[rows, channels, spatial].</param>
    /// <param name="input">[rows, channels, spatial].</param>
    /// <param name="mean">[channels], the whole batch's.</param>
    /// <param name="inverseStd">[channels], the whole batch's.</param>
    /// <param name="rows">The shard's samples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Values per channel per sample.</param>
    /// <param name="reluGamma">[channels], γ, when the ReLU after the layer is fused in; otherwise empty.</param>
    /// <param name="reluBeta">[channels], β, likewise.</param>
    public static void BatchNormShardGradientSums(
        Span<float> sumDy, Span<float> sumDyXhat, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> mean, ReadOnlySpan<float> inverseStd, int rows, int channels, int spatial,
        ReadOnlySpan<float> reluGamma = default, ReadOnlySpan<float> reluBeta = default)
    {
        bool relu = !reluBeta.IsEmpty;
        if (relu || !reluGamma.IsEmpty)
        {
            CheckSame(reluGamma.Length, channels, nameof(reluGamma));
            CheckSame(reluBeta.Length, channels, nameof(reluBeta));
        }

        ShardGradientSums(sumDy, sumDyXhat, dOutput, default, input, mean, inverseStd, rows, channels, spatial, reluGamma, reluBeta);
    }

    // BatchNormShardGradientSums with the output gradient from dOutput or, where that is empty, from pooled.
    internal static void ShardGradientSums(
        Span<float> sumDy, Span<float> sumDyXhat, ReadOnlySpan<float> dOutput, PooledGradient pooled, ReadOnlySpan<float> input, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> inverseStd, int rows, int channels, int spatial, ReadOnlySpan<float> reluGamma, ReadOnlySpan<float> reluBeta)
    {
        bool relu = !reluBeta.IsEmpty;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> channelGradient = pooled.IsEmpty ? default : pooled.Channel(c, rows);
            float m = mean[c];
            float scale = relu ? reluGamma[c] * inverseStd[c] : 0f, shift = relu ? reluBeta[c] : 0f;
            double dy = 0, dyx = 0;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                PrefetchNextSlice(input, o, channels * spatial, spatial);
                PrefetchNextSlice(dOutput, o, channels * spatial, spatial);
                ReadOnlySpan<float> g = pooled.IsEmpty ? dOutput.Slice(o, spatial) : channelGradient.Slice(r * spatial, spatial);
                (float sum, float dot) = GradientSums(g, input.Slice(o, spatial), m, relu, scale, shift);
                dy += sum;
                dyx += dot;
            }

            dyx *= inverseStd[c];
            sumDy[c] = (float)dy;
            sumDyXhat[c] = (float)dyx;
        }
    }

    /// <summary>
    /// The input gradient with the whole batch's sums: <c>dx = γ/σ·(dy − Σdy/M − x̂·Σ(dy·x̂)/M)</c>,
    /// M the whole batch's values per channel; with <paramref name="reluBeta"/>, dy masked as in
    /// <see cref="BatchNormShardGradientSums"/>.
    /// </summary>
    /// <param name="dInput">[rows, channels, spatial], written.</param>
    /// <param name="dOutput">[rows, channels, spatial].</param>
    /// <param name="input">[rows, channels, spatial].</param>
    /// <param name="gamma">[channels].</param>
    /// <param name="mean">[channels].</param>
    /// <param name="inverseStd">[channels].</param>
    /// <param name="sumDy">[channels], over the whole batch.</param>
    /// <param name="sumDyXhat">[channels], over the whole batch.</param>
    /// <param name="count">Values per channel in the whole batch.</param>
    /// <param name="rows">The shard's samples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Values per channel per sample.</param>
    /// <param name="reluBeta">[channels], β, when the ReLU after the layer is fused in; otherwise empty.</param>
    public static void BatchNormShardInputGradient(
        Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> inverseStd, ReadOnlySpan<float> sumDy, ReadOnlySpan<float> sumDyXhat, long count, int rows, int channels, int spatial,
        ReadOnlySpan<float> reluBeta = default)
    {
        bool relu = !reluBeta.IsEmpty;
        if (relu)
        {
            CheckSame(reluBeta.Length, channels, nameof(reluBeta));
        }

        ShardInputGradient(dInput, dOutput, default, input, gamma, mean, inverseStd, sumDy, sumDyXhat, count, rows, channels, spatial, reluBeta);
    }

    // BatchNormShardInputGradient with the output gradient from dOutput or, where that is empty, from pooled.
    internal static void ShardInputGradient(
        Span<float> dInput, ReadOnlySpan<float> dOutput, PooledGradient pooled, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> inverseStd, ReadOnlySpan<float> sumDy, ReadOnlySpan<float> sumDyXhat, long count, int rows, int channels, int spatial, ReadOnlySpan<float> reluBeta)
    {
        bool relu = !reluBeta.IsEmpty;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> channelGradient = pooled.IsEmpty ? default : pooled.Channel(c, rows);
            float inv = inverseStd[c], a = (float)(sumDy[c] / (double)count), b = (float)(sumDyXhat[c] / (double)count);
            float scale = gamma[c] * inv;
            // dx = scale·dy − scale·a + k·(x − μ), with k = −scale·b/σ.
            float k = -scale * b * inv, k0 = -scale * a;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                PrefetchNextSlice(input, o, channels * spatial, spatial);
                PrefetchNextSlice<float>(dInput, o, channels * spatial, spatial);
                PrefetchNextSlice(dOutput, o, channels * spatial, spatial);
                ReadOnlySpan<float> dy = pooled.IsEmpty ? dOutput.Slice(o, spatial) : channelGradient.Slice(r * spatial, spatial);
                ScaledSum(dInput.Slice(o, spatial), dy, input.Slice(o, spatial), mean[c], scale, k, k0, relu, relu ? reluBeta[c] : 0f);
            }
        }
    }
}
