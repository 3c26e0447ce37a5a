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
    public static void DenseForward(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, int inFeatures, int outFeatures)
    {
        Span<float> y = output.Slice(0, rows * outFeatures);
        if (bias.IsEmpty)
        {
            MatMul.MultiplyTransposed(y, input, weight, rows, outFeatures, inFeatures, accumulate: false);
            return;
        }

        bias = bias.Slice(0, outFeatures);
        for (int r = 0; r < rows; r++)
        {
            bias.CopyTo(y.Slice(r * outFeatures, outFeatures));
        }

        MatMul.MultiplyTransposed(y, input, weight, rows, outFeatures, inFeatures, accumulate: true);
    }

    /// <summary>
    /// Backward of <see cref="DenseForward"/>: <c>dWeight += dOutputᵀ·input</c>, <c>dBias += Σ_r dOutput[r]</c>,
    /// <c>dInput = dOutput·weight</c>.
    /// </summary>
    /// <param name="dInput">[rows, inFeatures], overwritten; empty when the input needs no gradient.</param>
    /// <param name="dWeight">[outFeatures, inFeatures], accumulated.</param>
    /// <param name="dBias">[outFeatures], accumulated; empty for a layer without bias.</param>
    /// <param name="dOutput">[rows, outFeatures].</param>
    /// <param name="input">[rows, inFeatures], the forward input.</param>
    /// <param name="weight">[outFeatures, inFeatures].</param>
    /// <param name="rows">Rows.</param>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    public static void DenseBackward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int rows, int inFeatures, int outFeatures)
    {
        ReadOnlySpan<float> dy = dOutput.Slice(0, rows * outFeatures);
        if (!dBias.IsEmpty)
        {
            Span<float> db = dBias.Slice(0, outFeatures);
            for (int r = 0; r < rows; r++)
            {
                TensorPrimitives.Add(db, dy.Slice(r * outFeatures, outFeatures), db);
            }
        }

        // dW[o, i] += Σ_r dy[r, o] · x[r, i]: A = dyᵀ through strides (1, outFeatures).
        MatMul.Multiply(dWeight, dy, 1, outFeatures, input, outFeatures, inFeatures, rows, accumulate: true);
        if (!dInput.IsEmpty)
        {
            // dx[r, i] = Σ_o dy[r, o] · W[o, i].
            MatMul.Multiply(dInput, dy, outFeatures, 1, weight, rows, inFeatures, outFeatures, accumulate: false);
        }
    }

    // ---------------------------------------------------------------- Activations

    /// <summary>Applies <paramref name="activation"/> elementwise (softmax: along rows of <paramref name="cols"/>).</summary>
    /// <param name="output">Same length as <paramref name="input"/>.</param>
    /// <param name="input">The pre-activation values.</param>
    /// <param name="activation">Which function.</param>
    /// <param name="alpha">Negative slope for <see cref="Activation.LeakyReLU"/>.</param>
    /// <param name="cols">Row length for <see cref="Activation.Softmax"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ActivationForward(Span<float> output, ReadOnlySpan<float> input, Activation activation, float alpha, int cols)
    {
        CheckSame(output.Length, input.Length, nameof(output));
        switch (activation)
        {
            case Activation.None:
                input.CopyTo(output);
                break;
            case Activation.ReLU:
                TensorPrimitives.Max(input, 0f, output);
                break;
            case Activation.LeakyReLU:
                LeakyReluForward(output, input, alpha);
                break;
            case Activation.Sigmoid:
                TensorPrimitives.Sigmoid(input, output);
                break;
            case Activation.Tanh:
                TensorPrimitives.Tanh(input, output);
                break;
            case Activation.Gelu:
                GeluForward(output, input);
                break;
            case Activation.Softmax:
                SoftmaxRows(output, input, cols);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    /// <summary>
    /// Backward of <see cref="ActivationForward"/>: <c>dInput = f'(input) ⊙ dOutput</c>
    /// (softmax: the Jacobian-vector product per row). Needs the forward input and output.
    /// </summary>
    /// <param name="dInput">Overwritten; may be the same memory as <paramref name="dOutput"/>.</param>
    /// <param name="dOutput">Gradient of the loss with respect to the output.</param>
    /// <param name="input">The forward input.</param>
    /// <param name="output">The forward output.</param>
    /// <param name="activation">Which function.</param>
    /// <param name="alpha">Negative slope for <see cref="Activation.LeakyReLU"/>.</param>
    /// <param name="cols">Row length for <see cref="Activation.Softmax"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ActivationBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> output, Activation activation, float alpha, int cols)
    {
        int n = dInput.Length;
        CheckSame(dOutput.Length, n, nameof(dOutput));
        CheckSame(input.Length, n, nameof(input));
        CheckSame(output.Length, n, nameof(output));
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        int w = Vector256<float>.Count;
        int i = 0;
        bool vectors = Vector256.IsHardwareAccelerated;
        switch (activation)
        {
            case Activation.None:
                dOutput.CopyTo(dInput);
                return;
            case Activation.ReLU:
            case Activation.LeakyReLU:
            {
                float slope = activation == Activation.ReLU ? 0f : alpha;
                if (vectors)
                {
                    var vs = Vector256.Create(slope);
                    for (; i + w <= n; i += w)
                    {
                        var vdy = Vector256.LoadUnsafe(ref dy, (nuint)i);
                        var positive = Vector256.GreaterThan(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256<float>.Zero);
                        Vector256.ConditionalSelect(positive, vdy, vdy * vs).StoreUnsafe(ref dx, (nuint)i);
                    }
                }

                for (; i < n; i++)
                {
                    float g = Unsafe.Add(ref dy, i);
                    Unsafe.Add(ref dx, i) = Unsafe.Add(ref x, i) > 0f ? g : g * slope;
                }

                return;
            }

            case Activation.Sigmoid:
                if (vectors)
                {
                    for (; i + w <= n; i += w)
                    {
                        var vy = Vector256.LoadUnsafe(ref y, (nuint)i);
                        (Vector256.LoadUnsafe(ref dy, (nuint)i) * vy * (Vector256<float>.One - vy)).StoreUnsafe(ref dx, (nuint)i);
                    }
                }

                for (; i < n; i++)
                {
                    float s = Unsafe.Add(ref y, i);
                    Unsafe.Add(ref dx, i) = Unsafe.Add(ref dy, i) * s * (1f - s);
                }

                return;
            case Activation.Tanh:
                if (vectors)
                {
                    for (; i + w <= n; i += w)
                    {
                        var vy = Vector256.LoadUnsafe(ref y, (nuint)i);
                        (Vector256.LoadUnsafe(ref dy, (nuint)i) * (Vector256<float>.One - (vy * vy))).StoreUnsafe(ref dx, (nuint)i);
                    }
                }

                for (; i < n; i++)
                {
                    float t = Unsafe.Add(ref y, i);
                    Unsafe.Add(ref dx, i) = Unsafe.Add(ref dy, i) * (1f - (t * t));
                }

                return;
            case Activation.Gelu:
                GeluBackward(dInput, dOutput, input);
                return;
            case Activation.Softmax:
                for (int r = 0; r + cols <= n; r += cols)
                {
                    ReadOnlySpan<float> yr = output.Slice(r, cols);
                    float dot = TensorPrimitives.Dot(dOutput.Slice(r, cols), yr);
                    for (int c = 0; c < cols; c++)
                    {
                        Unsafe.Add(ref dx, r + c) = yr[c] * (Unsafe.Add(ref dy, r + c) - dot);
                    }
                }

                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LeakyReluForward(Span<float> output, ReadOnlySpan<float> input, float alpha)
    {
        int n = input.Length;
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var vx = Vector256.LoadUnsafe(ref x, (nuint)i);
                Vector256.ConditionalSelect(Vector256.GreaterThan(vx, Vector256<float>.Zero), vx, vx * va).StoreUnsafe(ref y, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            Unsafe.Add(ref y, i) = v > 0f ? v : v * alpha;
        }
    }

    private const float GeluC = 0.7978845608028654f; // √(2/π)
    private const float GeluK = 0.044715f;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluForward(Span<float> output, ReadOnlySpan<float> input)
    {
        int n = input.Length;
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0.5f);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var vx = Vector256.LoadUnsafe(ref x, (nuint)i);
                var t = Tanh(Vector256.Create(GeluC) * (vx + (Vector256.Create(GeluK) * vx * vx * vx)));
                (half * vx * (Vector256<float>.One + t)).StoreUnsafe(ref y, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            float t = MathF.Tanh(GeluC * (v + (GeluK * v * v * v)));
            Unsafe.Add(ref y, i) = 0.5f * v * (1f + t);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input)
    {
        int n = input.Length;
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0.5f);
            var c = Vector256.Create(GeluC);
            var k = Vector256.Create(GeluK);
            var k3 = Vector256.Create(3f * GeluK);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var vx = Vector256.LoadUnsafe(ref x, (nuint)i);
                var x2 = vx * vx;
                var t = Tanh(c * (vx + (k * x2 * vx)));
                var du = c * (Vector256<float>.One + (k3 * x2));
                var grad = (half * (Vector256<float>.One + t)) + (half * vx * (Vector256<float>.One - (t * t)) * du);
                (grad * Vector256.LoadUnsafe(ref dy, (nuint)i)).StoreUnsafe(ref dx, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            float t = MathF.Tanh(GeluC * (v + (GeluK * v * v * v)));
            float du = GeluC * (1f + (3f * GeluK * v * v));
            float grad = (0.5f * (1f + t)) + (0.5f * v * (1f - (t * t)) * du);
            Unsafe.Add(ref dx, i) = grad * Unsafe.Add(ref dy, i);
        }
    }

    // tanh(u) = 1 - 2 / (e^(2u) + 1), with u clamped so that e^(2u) stays finite.
    private static Vector256<float> Tanh(Vector256<float> u)
    {
        var clamped = Vector256.Min(Vector256.Max(u, Vector256.Create(-20f)), Vector256.Create(20f));
        var e = Simd.Exp(clamped + clamped);
        return Vector256<float>.One - (Vector256.Create(2f) / (e + Vector256<float>.One));
    }

    /// <summary>Softmax of each row of <paramref name="cols"/> values, stable (the row maximum is subtracted first).</summary>
    public static void SoftmaxRows(Span<float> output, ReadOnlySpan<float> input, int cols)
    {
        CheckSame(output.Length, input.Length, nameof(output));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        for (int r = 0; r + cols <= input.Length; r += cols)
        {
            SoftmaxRow(output.Slice(r, cols), input.Slice(r, cols), out _, out _);
        }
    }

    // Softmax of one row, the row maximum subtracted first; returns that maximum and the sum of
    // e^(x − max), from which the cross-entropy takes its log without a log of a tiny probability.
    private static void SoftmaxRow(Span<float> y, ReadOnlySpan<float> x, out float max, out float sum)
    {
        max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        sum = TensorPrimitives.Sum(y);
        TensorPrimitives.Divide(y, sum, y);
    }

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
        float scale = 1f / (1f - rate);
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = random.NextSingle() < rate ? 0f : scale;
        }

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
    /// <paramref name="output"/> must not overlap <paramref name="input"/> (it holds the deviations meanwhile).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormTrainingForward(
        Span<float> output, Span<float> batchMean, Span<float> batchInverseStd, Span<float> runningMean, Span<float> runningVariance,
        ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int rows, int channels, int spatial, float momentum, float epsilon)
    {
        long count = (long)rows * spatial;
        if (count < 2)
        {
            throw new ArgumentException($"Batch normalisation in training needs at least 2 values per channel, but the batch has {count}.", nameof(rows));
        }

        if (spatial == 1)
        {
            VectorBatchNormTrainingForward(output, batchMean, batchInverseStd, runningMean, runningVariance, input, gamma, beta, rows, channels, momentum, epsilon);
            return;
        }

        for (int c = 0; c < channels; c++)
        {
            // Two passes: the variance from the deviations, not E[x²] − E[x]², which cancels badly.
            double sum = 0;
            for (int r = 0; r < rows; r++)
            {
                sum += TensorPrimitives.Sum(input.Slice(((r * channels) + c) * spatial, spatial));
            }

            float mean = (float)(sum / count);
            double squares = 0;
            for (int r = 0; r < rows; r++)
            {
                // The deviations go through the output slice (overwritten below), so that both
                // passes are vector operations without a temporary buffer.
                int o = ((r * channels) + c) * spatial;
                Span<float> deviation = output.Slice(o, spatial);
                TensorPrimitives.Subtract(input.Slice(o, spatial), mean, deviation);
                squares += TensorPrimitives.SumOfSquares(deviation);
            }

            float variance = (float)(squares / count);
            batchMean[c] = mean;
            float inv = batchInverseStd[c] = 1f / MathF.Sqrt(variance + epsilon);
            runningMean[c] = ((1f - momentum) * runningMean[c]) + (momentum * mean);
            runningVariance[c] = ((1f - momentum) * runningVariance[c]) + (momentum * (float)(squares / (count - 1)));
            float scale = gamma[c] * inv, shift = beta[c] - (mean * scale);
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                TensorPrimitives.Multiply(input.Slice(o, spatial), scale, output.Slice(o, spatial));
                TensorPrimitives.Add(output.Slice(o, spatial), shift, output.Slice(o, spatial));
            }
        }
    }

    /// <summary>Inference-mode batch normalisation with the running statistics: <c>y = γ·(x − μ̂)/√(σ̂² + ε) + β</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormInferenceForward(
        Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVariance, int rows, int channels, int spatial, float epsilon)
    {
        for (int c = 0; c < channels; c++)
        {
            float scale = gamma[c] / MathF.Sqrt(runningVariance[c] + epsilon);
            float shift = beta[c] - (runningMean[c] * scale);
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                TensorPrimitives.Multiply(input.Slice(o, spatial), scale, output.Slice(o, spatial));
                TensorPrimitives.Add(output.Slice(o, spatial), shift, output.Slice(o, spatial));
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="BatchNormTrainingForward"/>, with x̂ = (x − μ)/σ and M = rows·spatial:
    /// <c>dγ += Σ dy·x̂</c>, <c>dβ += Σ dy</c>, <c>dx = γ/σ·(dy − (Σdy + x̂·Σ(dy·x̂))/M)</c>.
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormBackward(
        Span<float> dInput, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchInverseStd, int rows, int channels, int spatial)
    {
        if (spatial == 1)
        {
            VectorBatchNormBackward(dInput, dGamma, dBeta, dOutput, input, gamma, batchMean, batchInverseStd, rows, channels);
            return;
        }

        float inverseCount = 1f / ((float)rows * spatial);
        for (int c = 0; c < channels; c++)
        {
            float mean = batchMean[c], inv = batchInverseStd[c];
            double sumDy = 0, sumDyXhat = 0;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                ReadOnlySpan<float> x = input.Slice(o, spatial);
                ReadOnlySpan<float> dy = dOutput.Slice(o, spatial);
                sumDy += TensorPrimitives.Sum(dy);
                if (dInput.IsEmpty)
                {
                    for (int s = 0; s < spatial; s++)
                    {
                        sumDyXhat += dy[s] * (x[s] - mean) * inv;
                    }
                }
                else
                {
                    // x̂ is kept in dInput's slice, which the second pass turns into the gradient.
                    Span<float> xhat = dInput.Slice(o, spatial);
                    TensorPrimitives.Subtract(x, mean, xhat);
                    TensorPrimitives.Multiply(xhat, inv, xhat);
                    sumDyXhat += TensorPrimitives.Dot(dy, xhat);
                }
            }

            dGamma[c] += (float)sumDyXhat;
            dBeta[c] += (float)sumDy;
            if (dInput.IsEmpty)
            {
                continue;
            }

            // dx = γ/σ·(dy − a − x̂·b), with a = Σdy/M and b = Σ(dy·x̂)/M.
            float a = (float)sumDy * inverseCount, b = (float)sumDyXhat * inverseCount, scale = gamma[c] * inv;
            for (int r = 0; r < rows; r++)
            {
                int o = ((r * channels) + c) * spatial;
                Span<float> dx = dInput.Slice(o, spatial);
                TensorPrimitives.Multiply(dx, -b, dx);
                TensorPrimitives.Add(dx, dOutput.Slice(o, spatial), dx);
                TensorPrimitives.Add(dx, -a, dx);
                TensorPrimitives.Multiply(dx, scale, dx);
            }
        }
    }

    // Vectors ([rows, features], spatial 1): the features of a row are contiguous, so the passes go
    // row by row, vectorised across features, instead of feature by feature with a stride.
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

    private static void VectorBatchNormBackward(
        Span<float> dInput, Span<float> dGamma, Span<float> dBeta, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> batchMean, ReadOnlySpan<float> batchInverseStd, int rows, int features)
    {
        // Features in chunks, with the per-chunk sums on the stack: nothing is allocated.
        const int Chunk = 64;
        Span<float> sumDy = stackalloc float[Chunk];
        Span<float> sumDyXhat = stackalloc float[Chunk];
        Span<float> xhat = stackalloc float[Chunk];
        Span<float> scale = stackalloc float[Chunk];
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
                ReadOnlySpan<float> dy = dOutput.Slice(o, length);
                TensorPrimitives.Subtract(input.Slice(o, length), mean, h);
                TensorPrimitives.Multiply(h, inv, h);
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
                TensorPrimitives.Multiply(dx, sDyXhat, dx);
                TensorPrimitives.Subtract(dOutput.Slice(o, length), dx, dx);
                TensorPrimitives.Subtract(dx, sDy, dx);
                TensorPrimitives.Multiply(dx, k, dx);
            }
        }
    }

    // ---------------------------------------------------------------- Weight penalties

    /// <summary>
    /// L1/L2 penalty on <paramref name="weights"/>: returns <c>l1·Σ|w| + l2·Σw²</c> and, unless
    /// <paramref name="gradient"/> is empty, adds <c>l1·sign(w) + 2·l2·w</c> to it.
    /// </summary>
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

    // ---------------------------------------------------------------- Losses

    /// <summary>
    /// Fused softmax and cross-entropy over <paramref name="rows"/> rows of logits: writes the
    /// probabilities and the gradient of the mean loss with respect to the logits,
    /// <c>(p - onehot(label)) / rows</c>, and returns the mean loss. Labels must already be checked.
    /// </summary>
    public static float SoftmaxCrossEntropy(Span<float> probabilities, Span<float> dLogits, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes)
    {
        double total = 0;
        float scale = 1f / rows;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            SoftmaxRow(p, x, out float max, out float sum);
            int label = labels[r];

            // -log softmax(x)[label] = log Σ e^(x - max) - (x[label] - max): no log of a tiny probability.
            total += Math.Log(sum) - (x[label] - max);
            Span<float> g = dLogits.Slice(r * classes, classes);
            TensorPrimitives.Multiply(p, scale, g);
            g[label] -= scale;
        }

        return (float)(total / rows);
    }

    /// <summary>
    /// Mean squared error over all <paramref name="count"/> values: writes the gradient
    /// <c>2·(y - t) / count</c> and returns <c>Σ (y - t)² / count</c>.
    /// </summary>
    public static float MeanSquaredError(Span<float> dPredictions, ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, int count)
    {
        Span<float> g = dPredictions.Slice(0, count);
        TensorPrimitives.Subtract(predictions.Slice(0, count), targets.Slice(0, count), g);
        double loss = TensorPrimitives.SumOfSquares(g) / (double)count;
        TensorPrimitives.Multiply(g, 2f / count, g);
        return (float)loss;
    }

    /// <summary>
    /// Binary cross-entropy on logits, fused with the sigmoid, over <paramref name="count"/> values:
    /// writes the probabilities and the gradient <c>(σ(x) - t) / count</c>, and returns the mean of
    /// <c>max(x, 0) - x·t + log(1 + e^-|x|)</c> (stable for any x).
    /// </summary>
    public static float BinaryCrossEntropyWithLogits(Span<float> probabilities, Span<float> dLogits, ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int count)
    {
        double total = 0;
        float scale = 1f / count;
        Span<float> p = probabilities.Slice(0, count);
        TensorPrimitives.Sigmoid(logits.Slice(0, count), p);
        for (int i = 0; i < count; i++)
        {
            float x = logits[i];
            float t = targets[i];
            total += Math.Max(x, 0f) - (x * t) + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            dLogits[i] = (p[i] - t) * scale;
        }

        return (float)(total / count);
    }

    private static void CheckSame(int actual, int expected, string paramName)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"'{paramName}' has {actual} values; {expected} were expected.", paramName);
        }
    }
}
