using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The per-slice loops of batch normalisation over [rows, channels, spatial] (one sample's one channel,
// spatial values at a time), each one pass over its operands: the sum of squared deviations from the
// mean without writing the deviations, the affine map (x − mean)·scale + shift in one multiply-add,
// the two sums of the backward pass without writing x̂, and the input gradient as
// scale·dy + k·(x − mean) + c. Written as TensorPrimitives calls they were two to four passes each,
// every one a call per slice (784 values in the sample CNN's first layer).
public static partial class Kernels
{
    // Σ (x − mean)² over one slice.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumOfSquaredDeviations(ReadOnlySpan<float> x, float mean)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0f;
        if (MatMul.UseVectors && MatMul.Use512 && n >= 16)
        {
            Vector512<float> m = Vector512.Create(mean), s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                Vector512<float> d0 = Vector512.LoadUnsafe(ref rx, (nuint)i) - m, d1 = Vector512.LoadUnsafe(ref rx, (nuint)(i + 16)) - m;
                s0 = Simd.Fma(d0, d0, s0);
                s1 = Simd.Fma(d1, d1, s1);
            }

            for (; i <= n - 16; i += 16)
            {
                Vector512<float> d = Vector512.LoadUnsafe(ref rx, (nuint)i) - m;
                s0 = Simd.Fma(d, d, s0);
            }

            sum = Vector512.Sum(s0 + s1);
        }
        else if (MatMul.UseVectors && n >= 8)
        {
            Vector256<float> m = Vector256.Create(mean), s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                Vector256<float> d0 = Vector256.LoadUnsafe(ref rx, (nuint)i) - m, d1 = Vector256.LoadUnsafe(ref rx, (nuint)(i + 8)) - m;
                s0 = Simd.Fma(d0, d0, s0);
                s1 = Simd.Fma(d1, d1, s1);
            }

            for (; i <= n - 8; i += 8)
            {
                Vector256<float> d = Vector256.LoadUnsafe(ref rx, (nuint)i) - m;
                s0 = Simd.Fma(d, d, s0);
            }

            sum = Vector256.Sum(s0 + s1);
        }

        for (; i < n; i++)
        {
            float d = Unsafe.Add(ref rx, i) - mean;
            sum += d * d;
        }

        return sum;
    }

    // Σ dy·(x − mean) over one slice.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotWithDeviations(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, float mean)
    {
        ref float rg = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0f;
        if (MatMul.UseVectors && MatMul.Use512 && n >= 16)
        {
            Vector512<float> m = Vector512.Create(mean), s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                s0 = Simd.Fma(Vector512.LoadUnsafe(ref rg, (nuint)i), Vector512.LoadUnsafe(ref rx, (nuint)i) - m, s0);
                s1 = Simd.Fma(Vector512.LoadUnsafe(ref rg, (nuint)(i + 16)), Vector512.LoadUnsafe(ref rx, (nuint)(i + 16)) - m, s1);
            }

            for (; i <= n - 16; i += 16)
            {
                s0 = Simd.Fma(Vector512.LoadUnsafe(ref rg, (nuint)i), Vector512.LoadUnsafe(ref rx, (nuint)i) - m, s0);
            }

            sum = Vector512.Sum(s0 + s1);
        }
        else if (MatMul.UseVectors && n >= 8)
        {
            Vector256<float> m = Vector256.Create(mean), s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                s0 = Simd.Fma(Vector256.LoadUnsafe(ref rg, (nuint)i), Vector256.LoadUnsafe(ref rx, (nuint)i) - m, s0);
                s1 = Simd.Fma(Vector256.LoadUnsafe(ref rg, (nuint)(i + 8)), Vector256.LoadUnsafe(ref rx, (nuint)(i + 8)) - m, s1);
            }

            for (; i <= n - 8; i += 8)
            {
                s0 = Simd.Fma(Vector256.LoadUnsafe(ref rg, (nuint)i), Vector256.LoadUnsafe(ref rx, (nuint)i) - m, s0);
            }

            sum = Vector256.Sum(s0 + s1);
        }

        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref rg, i) * (Unsafe.Add(ref rx, i) - mean);
        }

        return sum;
    }

    // y = (x − mean)·scale + shift over one slice (the deviation first, so that a mean large against
    // the deviations costs no precision, as it would in x·scale + (shift − mean·scale)).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleShift(Span<float> y, ReadOnlySpan<float> x, float mean, float scale, float shift)
    {
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            Vector512<float> m = Vector512.Create(mean), a = Vector512.Create(scale), b = Vector512.Create(shift);
            for (; i <= n - 16; i += 16)
            {
                Simd.Fma(Vector512.LoadUnsafe(ref rx, (nuint)i) - m, a, b).StoreUnsafe(ref ry, (nuint)i);
            }
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> m = Vector256.Create(mean), a = Vector256.Create(scale), b = Vector256.Create(shift);
            for (; i <= n - 8; i += 8)
            {
                Simd.Fma(Vector256.LoadUnsafe(ref rx, (nuint)i) - m, a, b).StoreUnsafe(ref ry, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref ry, i) = MathF.FusedMultiplyAdd(Unsafe.Add(ref rx, i) - mean, scale, shift);
        }
    }

    // dx = scale·dy + k·(x − mean) + c over one slice (the input gradient with the sums folded into k and c).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaledSum(Span<float> dx, ReadOnlySpan<float> dy, float scale, ReadOnlySpan<float> x, float mean, float k, float c)
    {
        ref float rd = ref MemoryMarshal.GetReference(dx);
        ref float rg = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            Vector512<float> vs = Vector512.Create(scale), vm = Vector512.Create(mean), vk = Vector512.Create(k), vc = Vector512.Create(c);
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> t = Simd.Fma(Vector512.LoadUnsafe(ref rx, (nuint)i) - vm, vk, vc);
                Simd.Fma(Vector512.LoadUnsafe(ref rg, (nuint)i), vs, t).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> vs = Vector256.Create(scale), vm = Vector256.Create(mean), vk = Vector256.Create(k), vc = Vector256.Create(c);
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> t = Simd.Fma(Vector256.LoadUnsafe(ref rx, (nuint)i) - vm, vk, vc);
                Simd.Fma(Vector256.LoadUnsafe(ref rg, (nuint)i), vs, t).StoreUnsafe(ref rd, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref rd, i) = MathF.FusedMultiplyAdd(Unsafe.Add(ref rg, i), scale, MathF.FusedMultiplyAdd(Unsafe.Add(ref rx, i) - mean, k, c));
        }
    }
}
