using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// Batch normalisation (with the ReLU after it, if any) and the 2x2 max pooling after that in one pass each
// way: forward, the normalised values are compared as they are computed and never written; backward, the
// normalisation's output gradient is made a channel at a time from the pooled gradient and never written.
// Each gives the results of the layers one after the other, bit for bit.
public static partial class ConvKernels
{
    // y = (x − mean)·scale + shift in one multiply-add, then max(y, 0) with a ReLU: what batch normalisation
    // (Kernels.ScaleShift) writes for x, value for value, on every path (both round once).
    private readonly struct NormalizedTap : IPoolTap
    {
        private readonly float _mean, _scale, _shift;
        private readonly bool _relu;

        public NormalizedTap(float mean, float scale, float shift, bool relu) => (_mean, _scale, _shift, _relu) = (mean, scale, shift, relu);

        public Vector512<float> Apply(Vector512<float> v)
        {
            Vector512<float> y = Simd.Fma(v - Vector512.Create(_mean), Vector512.Create(_scale), Vector512.Create(_shift));
            return _relu ? Vector512.Max(y, Vector512<float>.Zero) : y;
        }

        public Vector256<float> Apply(Vector256<float> v)
        {
            Vector256<float> y = Simd.Fma(v - Vector256.Create(_mean), Vector256.Create(_scale), Vector256.Create(_shift));
            return _relu ? Vector256.Max(y, Vector256<float>.Zero) : y;
        }

        public float Apply(float v)
        {
            float y = MathF.FusedMultiplyAdd(v - _mean, _scale, _shift);
            return _relu && !(y > 0f) ? 0f : y;
        }
    }

    /// <summary>
    /// Batch normalisation with given statistics (<see cref="Kernels.BatchNormNormalize"/>) followed by 2x2 max
    /// pooling with stride 2 (<see cref="MaxPoolForward"/>), in one pass: each window's values are normalised
    /// (and with <paramref name="relu"/> passed through a ReLU) as they are compared, so the normalised tensor
    /// is neither written nor read back. The outputs and winners are those of the two kernels in turn.
    /// </summary>
    /// <param name="output">[batch, C, H/2, W/2], the pooled values.</param>
    /// <param name="argmax">[batch, C, H/2, W/2], each output's winning input index within its sample.</param>
    /// <param name="input">[batch, C, H, W], the batch normalisation's input.</param>
    /// <param name="mean">[C], the batch mean.</param>
    /// <param name="inverseStd">[C], 1/√(σ² + ε).</param>
    /// <param name="gamma">[C].</param>
    /// <param name="beta">[C].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="relu">Whether a ReLU comes between the normalisation and the pooling.</param>
    /// <param name="g">The pooling window: 2x2, stride 2, no padding.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormMaxPool(
        Span<float> output, Span<int> argmax, ReadOnlySpan<float> input, ReadOnlySpan<float> mean, ReadOnlySpan<float> inverseStd,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int batch, bool relu, in Window2D g)
    {
        CheckNormalizedPool(output, argmax, input, batch, g);
        Kernels.CheckSame(mean.Length, g.Channels, nameof(mean));
        Kernels.CheckSame(inverseStd.Length, g.Channels, nameof(inverseStd));
        Kernels.CheckSame(gamma.Length, g.Channels, nameof(gamma));
        Kernels.CheckSame(beta.Length, g.Channels, nameof(beta));
        var pool = new Pool512(g);
        for (int c = 0; c < g.Channels; c++)
        {
            PoolChannel(output, argmax, input, batch, c, g, pool, new NormalizedTap(mean[c], gamma[c] * inverseStd[c], beta[c], relu));
        }
    }

    /// <summary>
    /// Training-mode batch normalisation (<see cref="Kernels.BatchNormTrainingForward"/>: the batch statistics,
    /// the running statistics updated) followed by 2x2 max pooling with stride 2, channel by channel: each
    /// channel's statistics, then its planes normalised as they are pooled while its values are still in
    /// cache. The normalised tensor is not written; the pooled values, winners and statistics are those of
    /// the two kernels in turn.
    /// </summary>
    /// <param name="output">[batch, C, H/2, W/2], the pooled values.</param>
    /// <param name="argmax">[batch, C, H/2, W/2], each output's winning input index within its sample.</param>
    /// <param name="batchMean">[C], written.</param>
    /// <param name="batchInverseStd">[C], written.</param>
    /// <param name="runningMean">[C], updated.</param>
    /// <param name="runningVariance">[C], updated.</param>
    /// <param name="input">[batch, C, H, W], the batch normalisation's input.</param>
    /// <param name="gamma">[C].</param>
    /// <param name="beta">[C].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="momentum">PyTorch's momentum for the running statistics.</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="relu">Whether a ReLU comes between the normalisation and the pooling.</param>
    /// <param name="g">The pooling window: 2x2, stride 2, no padding.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormMaxPoolTrainingForward(
        Span<float> output, Span<int> argmax, Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance,
        ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int batch, float momentum, float epsilon, bool relu, in Window2D g)
    {
        CheckNormalizedPool(output, argmax, input, batch, g);
        Kernels.CheckSame(batchMean.Length, g.Channels, nameof(batchMean));
        Kernels.CheckSame(batchInverseStd.Length, g.Channels, nameof(batchInverseStd));
        Kernels.CheckSame(runningMean.Length, g.Channels, nameof(runningMean));
        Kernels.CheckSame(runningVariance.Length, g.Channels, nameof(runningVariance));
        Kernels.CheckSame(gamma.Length, g.Channels, nameof(gamma));
        Kernels.CheckSame(beta.Length, g.Channels, nameof(beta));
        int spatial = g.Height * g.Width;
        Kernels.CheckStatisticsCount((long)batch * spatial, nameof(batch));
        var pool = new Pool512(g);
        for (int c = 0; c < g.Channels; c++)
        {
            (float mean, float inv) = Kernels.ChannelStatistics(batchMean, batchInverseStd, runningMean, runningVariance, input, batch, g.Channels, spatial, c, momentum, epsilon);
            PoolChannel(output, argmax, input, batch, c, g, pool, new NormalizedTap(mean, gamma[c] * inv, beta[c], relu));
        }
    }

    private static void PoolChannel(Span<float> output, Span<int> argmax, ReadOnlySpan<float> input, int batch, int c, in Window2D g, in Pool512 pool, NormalizedTap tap)
    {
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        ref int a = ref MemoryMarshal.GetReference(argmax);
        for (int n = 0; n < batch; n++)
        {
            MaxPoolPlane(ref x, ref y, ref a, (n * g.Channels) + c, g, pool, tap);
        }
    }

    private static void CheckNormalizedPool(Span<float> output, Span<int> argmax, ReadOnlySpan<float> input, int batch, in Window2D g)
    {
        CheckPoolWindow(g);
        int outSize = g.Channels * g.Positions;
        MatMul.CheckLength(input.Length, (long)batch * g.InputSize, nameof(input));
        MatMul.CheckLength(output.Length, (long)batch * outSize, nameof(output));
        MatMul.CheckLength(argmax.Length, (long)batch * outSize, nameof(argmax));
    }

    /// <summary>
    /// Backward of <see cref="BatchNormMaxPoolTrainingForward"/>: <see cref="Kernels.BatchNormBackward"/> with the
    /// output gradient the one <see cref="MaxPoolBackward"/> would write from the pooled gradient, made a channel at
    /// a time in a per-thread buffer instead of a tensor: the same results, bit for bit.
    /// </summary>
    /// <param name="dInput">[batch, C, H, W], overwritten; empty when not needed.</param>
    /// <param name="dGamma">[C], accumulated.</param>
    /// <param name="dBeta">[C], accumulated.</param>
    /// <param name="dPooled">[batch, C, H/2, W/2], the pooling's output gradient.</param>
    /// <param name="argmax">[batch, C, H/2, W/2], the winners from the forward pass.</param>
    /// <param name="input">[batch, C, H, W], the batch normalisation's input.</param>
    /// <param name="gamma">[C].</param>
    /// <param name="batchMean">[C], from the forward pass.</param>
    /// <param name="batchInverseStd">[C], from the forward pass.</param>
    /// <param name="batch">Samples.</param>
    /// <param name="g">The pooling window: 2x2, stride 2, no padding.</param>
    /// <param name="reluBeta">[C], β, when a ReLU came between the normalisation and the pooling; otherwise empty.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormMaxPoolBackward(
        Span<float> dInput, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchInverseStd, int batch, in Window2D g, ReadOnlySpan<float> reluBeta = default)
    {
        CheckPooledGradient(dInput, dPooled, argmax, input, batch, g, reluBeta);
        var pooled = new Kernels.PooledGradient(dPooled, argmax, g);
        Kernels.BatchNormBackwardPlanes(dInput, dGamma, dBeta, default, pooled, input, gamma, batchMean, batchInverseStd, batch, g.Channels, g.Height * g.Width, reluBeta);
    }

    /// <summary>
    /// <see cref="Kernels.BatchNormShardGradientSums"/> with the output gradient made from the pooled gradient, as in
    /// <see cref="BatchNormMaxPoolBackward"/> (a split batch's shard, after <see cref="BatchNormMaxPool"/>).
    /// </summary>
    /// <param name="sumDy">[C], written.</param>
    /// <param name="sumDyXhat">[C], written.</param>
    /// <param name="dPooled">[batch, C, H/2, W/2], the pooling's output gradient.</param>
    /// <param name="argmax">[batch, C, H/2, W/2], the winners from the forward pass.</param>
    /// <param name="input">[batch, C, H, W], the batch normalisation's input.</param>
    /// <param name="mean">[C], the whole batch's.</param>
    /// <param name="inverseStd">[C], the whole batch's.</param>
    /// <param name="batch">The shard's samples.</param>
    /// <param name="g">The pooling window: 2x2, stride 2, no padding.</param>
    /// <param name="reluGamma">[C], γ, with a ReLU between; otherwise empty.</param>
    /// <param name="reluBeta">[C], β, likewise.</param>
    public static void BatchNormMaxPoolShardGradientSums(
        Span<float> sumDy, Span<float> sumDyXhat, ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> input, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> inverseStd, int batch, in Window2D g, ReadOnlySpan<float> reluGamma = default, ReadOnlySpan<float> reluBeta = default)
    {
        CheckPooledGradient(default, dPooled, argmax, input, batch, g, reluBeta);
        if (!reluBeta.IsEmpty)
        {
            Kernels.CheckSame(reluGamma.Length, g.Channels, nameof(reluGamma));
        }

        var pooled = new Kernels.PooledGradient(dPooled, argmax, g);
        Kernels.ShardGradientSums(sumDy, sumDyXhat, default, pooled, input, mean, inverseStd, batch, g.Channels, g.Height * g.Width, reluGamma, reluBeta);
    }

    /// <summary>
    /// <see cref="Kernels.BatchNormShardInputGradient"/> with the output gradient made from the pooled gradient, as in
    /// <see cref="BatchNormMaxPoolBackward"/>.
    /// </summary>
    /// <param name="dInput">[batch, C, H, W], written.</param>
    /// <param name="dPooled">[batch, C, H/2, W/2], the pooling's output gradient.</param>
    /// <param name="argmax">[batch, C, H/2, W/2], the winners from the forward pass.</param>
    /// <param name="input">[batch, C, H, W], the batch normalisation's input.</param>
    /// <param name="gamma">[C].</param>
    /// <param name="mean">[C].</param>
    /// <param name="inverseStd">[C].</param>
    /// <param name="sumDy">[C], over the whole batch.</param>
    /// <param name="sumDyXhat">[C], over the whole batch.</param>
    /// <param name="count">Values per channel in the whole batch.</param>
    /// <param name="batch">The shard's samples.</param>
    /// <param name="g">The pooling window: 2x2, stride 2, no padding.</param>
    /// <param name="reluBeta">[C], β, with a ReLU between; otherwise empty.</param>
    public static void BatchNormMaxPoolShardInputGradient(
        Span<float> dInput, ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> inverseStd, ReadOnlySpan<float> sumDy, ReadOnlySpan<float> sumDyXhat, long count, int batch, in Window2D g, ReadOnlySpan<float> reluBeta = default)
    {
        CheckPooledGradient(dInput, dPooled, argmax, input, batch, g, reluBeta);
        var pooled = new Kernels.PooledGradient(dPooled, argmax, g);
        Kernels.ShardInputGradient(dInput, default, pooled, input, gamma, mean, inverseStd, sumDy, sumDyXhat, count, batch, g.Channels, g.Height * g.Width, reluBeta);
    }

    private static void CheckPooledGradient(Span<float> dInput, ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, ReadOnlySpan<float> input, int batch, in Window2D g, ReadOnlySpan<float> reluBeta)
    {
        CheckPoolWindow(g);
        long outSize = (long)batch * g.Channels * g.Positions;
        MatMul.CheckLength(input.Length, (long)batch * g.InputSize, nameof(input));
        MatMul.CheckLength(dPooled.Length, outSize, nameof(dPooled));
        MatMul.CheckLength(argmax.Length, outSize, nameof(argmax));
        if (!dInput.IsEmpty)
        {
            MatMul.CheckLength(dInput.Length, (long)batch * g.InputSize, nameof(dInput));
        }

        if (!reluBeta.IsEmpty)
        {
            Kernels.CheckSame(reluBeta.Length, g.Channels, nameof(reluBeta));
        }
    }

    private static void CheckPoolWindow(in Window2D g, string paramName = "g")
    {
        if (g.KernelHeight != 2 || g.KernelWidth != 2 || g.Stride != 2 || g.Dilation != 1 || g.PadTop != 0 || g.PadLeft != 0)
        {
            throw new ArgumentException("Pooling fused with batch normalisation takes 2x2 windows with stride 2 and no padding.", paramName);
        }
    }
}
