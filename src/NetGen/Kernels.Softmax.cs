using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>The softmax of one row, which the softmax activation, the cross-entropy loss and attention share.</summary>
public static partial class Kernels
{
    // Softmax of one row, the row maximum subtracted first; returns that maximum and the sum of
    // e^(x − max), from which the cross-entropy takes its log without a log of a tiny probability.
    // Two passes after the maximum (e^(x − max) written and summed in one, then scaled by 1/sum)
    // where TensorPrimitives took five; its exponential in single precision (Simd.Exp).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxRow(Span<float> y, ReadOnlySpan<float> x, out float max, out float sum)
    {
        max = TensorPrimitives.Max(x);
        sum = ExpShifted(y, x, max, 1f);
        TensorPrimitives.Multiply(y, 1f / sum, y);
    }

    /// <summary>
    /// <c>y[i] = e^((x[i] − shift)·scale)</c> for every i, returning <c>Σ y[i]</c> (scale > 0; shift the
    /// maximum of x, so that every power is at most 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ExpShifted(Span<float> y, ReadOnlySpan<float> x, float shift, float scale)
    {
        int n = x.Length, i = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        float sum = 0f;
        if (MatMul.UseVectors && MatMul.Use512 && n >= Vector512<float>.Count)
        {
            var s = Vector512.Create(shift);
            var k = Vector512.Create(scale);
            var acc = Vector512<float>.Zero;
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var e = Simd.Exp((Vector512.LoadUnsafe(ref rx, (nuint)i) - s) * k);
                e.StoreUnsafe(ref ry, (nuint)i);
                acc += e;
            }

            sum = Vector512.Sum(acc);
        }
        else if (MatMul.UseVectors && n >= Vector256<float>.Count)
        {
            var s = Vector256.Create(shift);
            var k = Vector256.Create(scale);
            var acc = Vector256<float>.Zero;
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var e = Simd.Exp((Vector256.LoadUnsafe(ref rx, (nuint)i) - s) * k);
                e.StoreUnsafe(ref ry, (nuint)i);
                acc += e;
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < n; i++)
        {
            float e = MathF.Exp((Unsafe.Add(ref rx, i) - shift) * scale);
            Unsafe.Add(ref ry, i) = e;
            sum += e;
        }

        return sum;
    }
}
