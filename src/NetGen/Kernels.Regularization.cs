using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>Regularisation: dropout, batch normalisation and L1/L2 weight penalties.</summary>
public static partial class Kernels
{
    // ---------------------------------------------------------------- Dropout

    /// <summary>
    /// Inverted dropout in training: <c>mask[i]</c> is 0 with probability <paramref name="rate"/>, else
    /// <c>1 / (1 − rate)</c>, drawn in order from <paramref name="random"/>; <c>output = input ⊙ mask</c>.
    /// </summary>
    public static void DropoutForward(Span<float> output, Span<float> mask, ReadOnlySpan<float> input, float rate, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckSame(output.Length, input.Length, nameof(output));
        CheckSame(mask.Length, input.Length, nameof(mask));
        DropoutMask(mask, rate, random);
        TensorPrimitives.Multiply(input, mask, output);
    }

    /// <summary>
    /// Draws a dropout mask as <see cref="DropoutForward"/> does (0 with probability <paramref name="rate"/>, else
    /// <c>1 / (1 − rate)</c>, in order): a batch split across threads draws its masks first, in sample order, so
    /// that the masks are those of one thread.
    /// </summary>
    /// <param name="mask">Written.</param>
    /// <param name="rate">The probability of a zero.</param>
    /// <param name="random">The network's random source.</param>
    public static void DropoutMask(Span<float> mask, float rate, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        random.FillMask(mask, rate, 1f / (1f - rate));
    }

    /// <summary>Applies a drawn mask: <c>output = input ⊙ mask</c>.</summary>
    /// <param name="output">Written.</param>
    /// <param name="input">The layer's input.</param>
    /// <param name="mask">From <see cref="DropoutMask"/>.</param>
    public static void DropoutApply(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> mask)
    {
        CheckSame(output.Length, input.Length, nameof(output));
        CheckSame(mask.Length, input.Length, nameof(mask));
        TensorPrimitives.Multiply(input, mask, output);
    }

    /// <summary>Backward of <see cref="DropoutForward"/>: <c>dInput = dOutput ⊙ mask</c>, the same mask.</summary>
    public static void DropoutBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> mask) =>
        TensorPrimitives.Multiply(dOutput, mask, dInput);

    // ---------------------------------------------------------------- Batch normalisation

    /// <summary>
    /// Training-mode batch normalisation of <paramref name="rows"/> samples laid out
    /// [rows, channels, spatial] (spatial = 1 for vectors, H·W for images): per channel, the mean μ
    /// and biased variance σ² over rows × spatial, <c>y = γ·(x − μ)/√(σ² + ε) + β</c>; saves μ and
    /// 1/√(σ² + ε) for the backward pass and updates the running statistics with the unbiased
    /// variance, <c>running = (1 − momentum)·running + momentum·batch</c> (PyTorch's BatchNorm1d/2d).
    /// With <paramref name="relu"/>, the ReLU that follows the layer is applied in the same pass:
    /// <c>max(y, 0)</c> is written (backward then takes <paramref name="beta"/> as its reluBeta).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormTrainingForward(
        Span<float> output, Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance,
        ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int rows, int channels, int spatial, float momentum, float epsilon, bool relu = false)
    {
        CheckStatisticsCount((long)rows * spatial, nameof(rows));
        if (spatial == 1)
        {
            VectorBatchNormTrainingForward(output, batchMean, batchInverseStd, runningMean, runningVariance, input, gamma, beta, rows, channels, momentum, epsilon);
            if (relu)
            {
                TensorPrimitives.Max(output.Slice(0, rows * channels), 0f, output.Slice(0, rows * channels));
            }

            return;
        }

        for (int c = 0; c < channels; c++)
        {
            (float mean, float inv) = ChannelStatistics(batchMean, batchInverseStd, runningMean, runningVariance, input, rows, channels, spatial, c, momentum, epsilon);
            float scale = gamma[c] * inv;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                ScaleShift(output.Slice(o, spatial), input.Slice(o, spatial), mean, scale, beta[c], relu);
            }
        }
    }

    // One channel's batch mean and 1/√(σ² + ε) over [rows, channels, spatial], written to batchMean[c] and
    // batchInverseStd[c] and returned, with the running statistics updated (the unbiased variance). Shared by the
    // training forward passes with and without pooling (ConvKernels.BatchNormMaxPoolTrainingForward), so both
    // normalise alike.
    internal static (float Mean, float InverseStd) ChannelStatistics(
        Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance,
        ReadOnlySpan<float> input, int rows, int channels, int spatial, int c, float momentum, float epsilon)
    {
        long count = (long)rows * spatial;
        (float mean, double squares) = ChannelMoments(input, rows, channels, spatial, c);
        float variance = (float)(squares / count);
        batchMean[c] = mean;
        float inv = batchInverseStd[c] = 1f / MathF.Sqrt(variance + epsilon);
        runningMean[c] = ((1f - momentum) * runningMean[c]) + (momentum * mean);
        runningVariance[c] = ((1f - momentum) * runningVariance[c]) + (momentum * (float)(squares / (count - 1)));
        return (mean, inv);
    }

    // One channel's mean and Σ (x − mean)² over [rows, channels, spatial], in two passes: the variance from the
    // deviations, not E[x²] − E[x]², which cancels badly. Also a split batch's shard's (BatchNormShardMoments).
    internal static (float Mean, double Squares) ChannelMoments(ReadOnlySpan<float> input, int rows, int channels, int spatial, int c)
    {
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            sum += TensorPrimitives.Sum(input.Slice(((r * channels) + c) * spatial, spatial));
        }

        float mean = (float)(sum / ((double)rows * spatial));
        double squares = 0;
        for (int r = 0; r < rows; r++)
        {
            squares += SumOfSquaredDeviations(input.Slice(((r * channels) + c) * spatial, spatial), mean);
        }

        return (mean, squares);
    }

    // Training statistics need two values per channel at least (the unbiased variance divides by count − 1).
    internal static void CheckStatisticsCount(long count, string paramName)
    {
        if (count < 2)
        {
            throw new ArgumentException($"Batch normalisation in training needs at least 2 values per channel, but the batch has {count}.", paramName);
        }
    }

    /// <summary>
    /// Inference-mode batch normalisation with the running statistics: <c>y = γ·(x − μ̂)/√(σ̂² + ε) + β</c>,
    /// then <c>max(y, 0)</c> with <paramref name="relu"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormInferenceForward(
        Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVariance, int rows, int channels, int spatial, float epsilon, bool relu = false)
    {
        for (int c = 0; c < channels; c++)
        {
            float scale = gamma[c] / MathF.Sqrt(runningVariance[c] + epsilon);
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                ScaleShift(output.Slice(o, spatial), input.Slice(o, spatial), runningMean[c], scale, beta[c], relu);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="BatchNormTrainingForward"/>, with x̂ = (x − μ)/σ and M = rows·spatial:
    /// <c>dγ += Σ dy·x̂</c>, <c>dβ += Σ dy</c>, <c>dx = γ/σ·(dy − (Σdy + x̂·Σ(dy·x̂))/M)</c>.
    /// With <paramref name="reluBeta"/> (β, given when the forward pass fused the ReLU after the layer),
    /// <paramref name="dOutput"/> is the ReLU's output gradient, and dy is taken as 0 where the layer's
    /// output γ·x̂ + β, recomputed from the input as the forward pass computed it, was not positive.
    /// </summary>
    /// <param name="dInput">[rows, channels, spatial], overwritten; empty when not needed.</param>
    /// <param name="dGamma">[channels], accumulated.</param>
    /// <param name="dBeta">[channels], accumulated.</param>
    /// <param name="dOutput">[rows, channels, spatial].</param>
    /// <param name="input">[rows, channels, spatial], the forward input.</param>
    /// <param name="gamma">[channels], the scale.</param>
    /// <param name="batchMean">[channels], saved by the forward pass.</param>
    /// <param name="batchInverseStd">[channels], saved by the forward pass.</param>
    /// <param name="rows">Samples (times any leading axes).</param>
    /// <param name="channels">Channels (features).</param>
    /// <param name="spatial">Values per channel per sample (1 for vectors).</param>
    /// <param name="reluBeta">[channels], β, when a ReLU was fused into the forward pass; otherwise empty.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormBackward(
        Span<float> dInput, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchInverseStd, int rows, int channels, int spatial,
        ReadOnlySpan<float> reluBeta = default)
    {
        bool relu = !reluBeta.IsEmpty;
        if (relu)
        {
            CheckSame(reluBeta.Length, channels, nameof(reluBeta));
        }

        if (spatial == 1)
        {
            VectorBatchNormBackward(dInput, dGamma, dBeta, dOutput, input, gamma, batchMean, batchInverseStd, rows, channels, reluBeta);
            return;
        }

        BatchNormBackwardPlanes(dInput, dGamma, dBeta, dOutput, default, input, gamma, batchMean, batchInverseStd, rows, channels, spatial, reluBeta);
    }

    // BatchNormBackward over [rows, channels, spatial], spatial > 1, channel by channel: the output gradient
    // from dOutput, or, where that is empty, a channel at a time from the pooling after the layer (pooled).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BatchNormBackwardPlanes(
        Span<float> dInput, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> dOutput, PooledGradient pooled, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchInverseStd, int rows, int channels, int spatial, ReadOnlySpan<float> reluBeta)
    {
        bool relu = !reluBeta.IsEmpty;
        float inverseCount = 1f / ((float)rows * spatial);
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> channelGradient = pooled.IsEmpty ? default : pooled.Channel(c, rows);
            float mean = batchMean[c], inv = batchInverseStd[c], scale = gamma[c] * inv, shift = relu ? reluBeta[c] : 0f;
            double sumDy = 0, sumDyDeviation = 0;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                PrefetchNextSlice(input, o, channels * spatial, spatial);
                PrefetchNextSlice(dOutput, o, channels * spatial, spatial);
                ReadOnlySpan<float> dy = pooled.IsEmpty ? dOutput.Slice(o, spatial) : channelGradient.Slice(r * spatial, spatial);
                (float sum, float dot) = GradientSums(dy, input.Slice(o, spatial), mean, relu, scale, shift);
                sumDy += sum;
                sumDyDeviation += dot;
            }

            float sumDyXhat = (float)(sumDyDeviation * inv);
            dGamma[c] += sumDyXhat;
            dBeta[c] += (float)sumDy;
            if (dInput.IsEmpty)
            {
                continue;
            }

            // dx = γ/σ·(dy − a − x̂·b), with a = Σdy/M and b = Σ(dy·x̂)/M: scale·dy + k·(x − μ) + k0.
            float a = (float)sumDy * inverseCount, b = sumDyXhat * inverseCount;
            float k = -scale * b * inv, k0 = -scale * a;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                PrefetchNextSlice<float>(dInput, o, channels * spatial, spatial);
                PrefetchNextSlice(dOutput, o, channels * spatial, spatial);
                ReadOnlySpan<float> dy = pooled.IsEmpty ? dOutput.Slice(o, spatial) : channelGradient.Slice(r * spatial, spatial);
                ScaledSum(dInput.Slice(o, spatial), dy, input.Slice(o, spatial), mean, scale, k, k0, relu, shift);
            }
        }
    }

    // Vectors ([rows, features], spatial 1): the features of a row are contiguous, so the passes go
    // row by row, vectorised across features, instead of feature by feature with a stride.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void VectorBatchNormTrainingForward(
        Span<float> output, Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance,
        ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int rows, int features, float momentum, float epsilon)
    {
        Span<float> mean = batchMean.Slice(0, features);
        Span<float> inv = batchInverseStd.Slice(0, features);
        mean.Clear();
        inv.Clear();
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(mean, input.Slice(r * features, features), mean);
        }

        TensorPrimitives.Multiply(mean, 1f / rows, mean);
        for (int r = 0; r < rows; r++)
        {
            Span<float> deviation = output.Slice(r * features, features);
            TensorPrimitives.Subtract(input.Slice(r * features, features), mean, deviation);
            TensorPrimitives.MultiplyAdd(deviation, deviation, inv, inv); // Σ (x − μ)², for now
        }

        for (int f = 0; f < features; f++)
        {
            float squares = inv[f];
            runningMean[f] = ((1f - momentum) * runningMean[f]) + (momentum * mean[f]);
            runningVariance[f] = ((1f - momentum) * runningVariance[f]) + (momentum * squares / (rows - 1));
            inv[f] = 1f / MathF.Sqrt((squares / rows) + epsilon);
        }

        for (int r = 0; r < rows; r++)
        {
            Span<float> y = output.Slice(r * features, features);
            TensorPrimitives.Subtract(input.Slice(r * features, features), mean, y);
            TensorPrimitives.Multiply(y, inv, y);
            TensorPrimitives.Multiply(y, gamma.Slice(0, features), y);
            TensorPrimitives.Add(y, beta.Slice(0, features), y);
        }
    }

    // With a fused ReLU (reluBeta not empty), dy is masked where γ·x̂ + β, recomputed with the forward
    // pass's operations in its order, was not positive.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void VectorBatchNormBackward(
        Span<float> dInput, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchInverseStd, int rows, int features, ReadOnlySpan<float> reluBeta)
    {
        // Features in chunks, with the per-chunk sums on the stack: nothing is allocated.
        const int Chunk = 64;
        Span<float> sumDy = stackalloc float[Chunk];
        Span<float> sumDyXhat = stackalloc float[Chunk];
        Span<float> xhat = stackalloc float[Chunk];
        Span<float> scale = stackalloc float[Chunk];
        Span<float> masked = stackalloc float[Chunk];
        float inverseRows = 1f / rows;
        for (int f0 = 0; f0 < features; f0 += Chunk)
        {
            int length = Math.Min(Chunk, features - f0);
            Span<float> sDy = sumDy.Slice(0, length), sDyXhat = sumDyXhat.Slice(0, length), h = xhat.Slice(0, length), k = scale.Slice(0, length);
            ReadOnlySpan<float> mean = batchMean.Slice(f0, length), inv = batchInverseStd.Slice(f0, length);
            sDy.Clear();
            sDyXhat.Clear();
            for (int r = 0; r < rows; r++)
            {
                int o = (r * features) + f0;
                TensorPrimitives.Subtract(input.Slice(o, length), mean, h);
                TensorPrimitives.Multiply(h, inv, h);
                ReadOnlySpan<float> dy = Masked(masked.Slice(0, length), dOutput.Slice(o, length), h, gamma.Slice(f0, length), reluBeta, f0);
                TensorPrimitives.Add(sDy, dy, sDy);
                TensorPrimitives.MultiplyAdd(dy, h, sDyXhat, sDyXhat);
            }

            TensorPrimitives.Add(dGamma.Slice(f0, length), sDyXhat, dGamma.Slice(f0, length));
            TensorPrimitives.Add(dBeta.Slice(f0, length), sDy, dBeta.Slice(f0, length));
            if (dInput.IsEmpty)
            {
                continue;
            }

            // dx = γ/σ·(dy − a − x̂·b), with a = Σdy/N and b = Σ(dy·x̂)/N per feature.
            TensorPrimitives.Multiply(sDy, inverseRows, sDy);
            TensorPrimitives.Multiply(sDyXhat, inverseRows, sDyXhat);
            TensorPrimitives.Multiply(gamma.Slice(f0, length), inv, k);
            for (int r = 0; r < rows; r++)
            {
                int o = (r * features) + f0;
                Span<float> dx = dInput.Slice(o, length);
                TensorPrimitives.Subtract(input.Slice(o, length), mean, dx);
                TensorPrimitives.Multiply(dx, inv, dx);
                ReadOnlySpan<float> dy = Masked(masked.Slice(0, length), dOutput.Slice(o, length), dx, gamma.Slice(f0, length), reluBeta, f0);
                TensorPrimitives.Multiply(dx, sDyXhat, dx);
                TensorPrimitives.Subtract(dy, dx, dx);
                TensorPrimitives.Subtract(dx, sDy, dx);
                TensorPrimitives.Multiply(dx, k, dx);
            }
        }
    }

    // dy, or without a fused ReLU's blocked values: dy where γ·x̂ + β (as VectorBatchNormTrainingForward
    // computes it, a product then a sum) is positive, 0 elsewhere, written into the scratch.
    private static ReadOnlySpan<float> Masked(Span<float> scratch, ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, ReadOnlySpan<float> gamma, ReadOnlySpan<float> reluBeta, int f0)
    {
        if (reluBeta.IsEmpty)
        {
            return dy;
        }

        for (int i = 0; i < scratch.Length; i++)
        {
            float y = (xhat[i] * gamma[i]) + reluBeta[f0 + i];
            scratch[i] = y > 0f ? dy[i] : 0f;
        }

        return scratch;
    }

    // ---------------------------------------------------------------- Weight penalties

    /// <summary>
    /// L1/L2 penalty on <paramref name="weights"/>: returns <c>l1·Σ|w| + l2·Σw²</c> and, unless
    /// <paramref name="gradient"/> is empty, adds <c>l1·sign(w) + 2·l2·w</c> to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float WeightPenalty(Span<float> gradient, ReadOnlySpan<float> weights, float l1, float l2)
    {
        float penalty = (l1 * TensorPrimitives.SumOfMagnitudes(weights)) + (l2 * TensorPrimitives.SumOfSquares(weights));
        if (!gradient.IsEmpty)
        {
            CheckSame(gradient.Length, weights.Length, nameof(gradient));
            for (int i = 0; i < weights.Length; i++)
            {
                float w = weights[i];
                gradient[i] += (l1 * MathF.Sign(w)) + (2f * l2 * w);
            }
        }

        return penalty;
    }
}
