using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>Activations: forward and backward of ReLU, LeakyReLU, sigmoid, tanh, GELU (both forms) and softmax.</summary>
public static partial class Kernels
{
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
            case Activation.GeluExact:
                GeluExactForward(output, input);
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
        bool vectors = Vector256.IsHardwareAccelerated, wide = MatMul.UseVectors && MatMul.Use512;
        switch (activation)
        {
            case Activation.None:
                dOutput.CopyTo(dInput);
                return;
            case Activation.ReLU:
            case Activation.LeakyReLU:
            {
                float slope = activation == Activation.ReLU ? 0f : alpha;
                if (wide)
                {
                    var ws = Vector512.Create(slope);
                    for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
                    {
                        var vdy = Vector512.LoadUnsafe(ref dy, (nuint)i);
                        var positive = Vector512.GreaterThan(Vector512.LoadUnsafe(ref x, (nuint)i), Vector512<float>.Zero);
                        Vector512.ConditionalSelect(positive, vdy, vdy * ws).StoreUnsafe(ref dx, (nuint)i);
                    }
                }

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
                if (wide)
                {
                    for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
                    {
                        var vy = Vector512.LoadUnsafe(ref y, (nuint)i);
                        (Vector512.LoadUnsafe(ref dy, (nuint)i) * vy * (Vector512<float>.One - vy)).StoreUnsafe(ref dx, (nuint)i);
                    }
                }

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
                if (wide)
                {
                    for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
                    {
                        var vy = Vector512.LoadUnsafe(ref y, (nuint)i);
                        (Vector512.LoadUnsafe(ref dy, (nuint)i) * (Vector512<float>.One - (vy * vy))).StoreUnsafe(ref dx, (nuint)i);
                    }
                }

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
            case Activation.GeluExact:
                GeluExactBackward(dInput, dOutput, input);
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
        if (MatMul.UseVectors && MatMul.Use512)
        {
            var wa = Vector512.Create(alpha);
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var vx = Vector512.LoadUnsafe(ref x, (nuint)i);
                Vector512.ConditionalSelect(Vector512.GreaterThan(vx, Vector512<float>.Zero), vx, vx * wa).StoreUnsafe(ref y, (nuint)i);
            }
        }

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
        if (MatMul.UseVectors && MatMul.Use512)
        {
            var whalf = Vector512.Create(0.5f);
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var vx = Vector512.LoadUnsafe(ref x, (nuint)i);
                var t = Tanh(Vector512.Create(GeluC) * (vx + (Vector512.Create(GeluK) * vx * vx * vx)));
                (whalf * vx * (Vector512<float>.One + t)).StoreUnsafe(ref y, (nuint)i);
            }
        }

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
        if (MatMul.UseVectors && MatMul.Use512)
        {
            var whalf = Vector512.Create(0.5f);
            var wc = Vector512.Create(GeluC);
            var wk = Vector512.Create(GeluK);
            var wk3 = Vector512.Create(3f * GeluK);
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var vx = Vector512.LoadUnsafe(ref x, (nuint)i);
                var x2 = vx * vx;
                var t = Tanh(wc * (vx + (wk * x2 * vx)));
                var du = wc * (Vector512<float>.One + (wk3 * x2));
                var grad = (whalf * (Vector512<float>.One + t)) + (whalf * vx * (Vector512<float>.One - (t * t)) * du);
                (grad * Vector512.LoadUnsafe(ref dy, (nuint)i)).StoreUnsafe(ref dx, (nuint)i);
            }
        }

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tanh(Vector256<float> u)
    {
        var clamped = Vector256.Min(Vector256.Max(u, Vector256.Create(-20f)), Vector256.Create(20f));
        var e = Simd.Exp(clamped + clamped);
        return Vector256<float>.One - (Vector256.Create(2f) / (e + Vector256<float>.One));
    }

    // The same in 512-bit vectors.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Tanh(Vector512<float> u)
    {
        var clamped = Vector512.Min(Vector512.Max(u, Vector512.Create(-20f)), Vector512.Create(20f));
        var e = Simd.Exp(clamped + clamped);
        return Vector512<float>.One - (Vector512.Create(2f) / (e + Vector512<float>.One));
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
}
