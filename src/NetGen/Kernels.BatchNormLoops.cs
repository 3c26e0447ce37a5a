using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The per-slice loops of batch normalisation over [rows, channels, spatial] (one sample's one channel,
// spatial values at a time), each one pass over its operands: the sum of squared deviations from the
// mean without writing the deviations, the affine map (x − mean)·scale + shift in one multiply-add,
// the two sums of the backward pass in one pass without writing x̂, and the input gradient as
// scale·dy + k·(x − mean) + c; each with the ReLU that may follow the layer fused in (the forward
// pass writes max(y, 0); backward masks dy where y was not positive, y recomputed from x). Written as TensorPrimitives calls they were two to four passes each,
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

    // Σ g and Σ g·(x − mean) over one slice, in one pass: g = dy, or with a ReLU after the layer g = dy
    // where its output (x − mean)·scale + shift, recomputed with the forward pass's multiply-add and so
    // bit for bit the forward's, is positive, and 0 elsewhere.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (float Sum, float Dot) GradientSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, float mean, bool relu, float scale, float shift)
    {
        ref float rg = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0f, dot = 0f;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            // Two pairs of accumulators, 32 values a step: with one pair, its multiply-add chain (4 cycles a step)
            // set the pace. BatchNorm's backward over the sample CNN's layers (--bn-parts, alternating):
            // 1.09-1.11x with the input warm, 1.10-1.16x cold.
            Vector512<float> m = Vector512.Create(mean), a = Vector512.Create(scale), b = Vector512.Create(shift);
            Vector512<float> s = Vector512<float>.Zero, d = Vector512<float>.Zero, s1 = Vector512<float>.Zero, d1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                Vector512<float> g = Vector512.LoadUnsafe(ref rg, (nuint)i), dev = Vector512.LoadUnsafe(ref rx, (nuint)i) - m;
                Vector512<float> g1 = Vector512.LoadUnsafe(ref rg, (nuint)(i + 16)), dev1 = Vector512.LoadUnsafe(ref rx, (nuint)(i + 16)) - m;
                if (relu)
                {
                    g &= Vector512.GreaterThan(Simd.Fma(dev, a, b), Vector512<float>.Zero);
                    g1 &= Vector512.GreaterThan(Simd.Fma(dev1, a, b), Vector512<float>.Zero);
                }

                s += g;
                d = Simd.Fma(g, dev, d);
                s1 += g1;
                d1 = Simd.Fma(g1, dev1, d1);
            }

            for (; i <= n - 16; i += 16)
            {
                Vector512<float> g = Vector512.LoadUnsafe(ref rg, (nuint)i), dev = Vector512.LoadUnsafe(ref rx, (nuint)i) - m;
                if (relu)
                {
                    g &= Vector512.GreaterThan(Simd.Fma(dev, a, b), Vector512<float>.Zero);
                }

                s += g;
                d = Simd.Fma(g, dev, d);
            }

            sum = Vector512.Sum(s + s1);
            dot = Vector512.Sum(d + d1);
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> m = Vector256.Create(mean), a = Vector256.Create(scale), b = Vector256.Create(shift);
            Vector256<float> s = Vector256<float>.Zero, d = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> g = Vector256.LoadUnsafe(ref rg, (nuint)i), dev = Vector256.LoadUnsafe(ref rx, (nuint)i) - m;
                if (relu)
                {
                    g &= Vector256.GreaterThan(Simd.Fma(dev, a, b), Vector256<float>.Zero);
                }

                s += g;
                d = Simd.Fma(g, dev, d);
            }

            sum = Vector256.Sum(s);
            dot = Vector256.Sum(d);
        }

        for (; i < n; i++)
        {
            float g = Unsafe.Add(ref rg, i), dev = Unsafe.Add(ref rx, i) - mean;
            if (relu && !(MathF.FusedMultiplyAdd(dev, scale, shift) > 0f))
            {
                g = 0f;
            }

            sum += g;
            dot += g * dev;
        }

        return (sum, dot);
    }

    // y = (x − mean)·scale + shift over one slice (the deviation first, so that a mean large against
    // the deviations costs no precision, as it would in x·scale + (shift − mean·scale)); then max(y, 0)
    // with a ReLU after the layer. The vector and scalar paths are chosen as in GradientSums and
    // ScaledSum, so that each value goes through the same multiply-add in the backward pass's mask.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleShift(Span<float> y, ReadOnlySpan<float> x, float mean, float scale, float shift, bool relu)
    {
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            Vector512<float> m = Vector512.Create(mean), a = Vector512.Create(scale), b = Vector512.Create(shift);
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> v = Simd.Fma(Vector512.LoadUnsafe(ref rx, (nuint)i) - m, a, b);
                (relu ? Vector512.Max(v, Vector512<float>.Zero) : v).StoreUnsafe(ref ry, (nuint)i);
            }
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> m = Vector256.Create(mean), a = Vector256.Create(scale), b = Vector256.Create(shift);
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> v = Simd.Fma(Vector256.LoadUnsafe(ref rx, (nuint)i) - m, a, b);
                (relu ? Vector256.Max(v, Vector256<float>.Zero) : v).StoreUnsafe(ref ry, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float v = MathF.FusedMultiplyAdd(Unsafe.Add(ref rx, i) - mean, scale, shift);
            Unsafe.Add(ref ry, i) = relu && !(v > 0f) ? 0f : v;
        }
    }

    // dx = scale·g + k·(x − mean) + c over one slice (the input gradient with the sums folded into k and
    // c), g as in GradientSums: dy, or with a ReLU after the layer dy where its output was positive.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaledSum(Span<float> dx, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, float mean, float scale, float k, float c, bool relu, float shift)
    {
        ref float rd = ref MemoryMarshal.GetReference(dx);
        ref float rg = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            Vector512<float> vs = Vector512.Create(scale), vm = Vector512.Create(mean), vk = Vector512.Create(k), vc = Vector512.Create(c), vb = Vector512.Create(shift);
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> dev = Vector512.LoadUnsafe(ref rx, (nuint)i) - vm, g = Vector512.LoadUnsafe(ref rg, (nuint)i);
                if (relu)
                {
                    g &= Vector512.GreaterThan(Simd.Fma(dev, vs, vb), Vector512<float>.Zero);
                }

                Simd.Fma(g, vs, Simd.Fma(dev, vk, vc)).StoreUnsafe(ref rd, (nuint)i);
            }
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> vs = Vector256.Create(scale), vm = Vector256.Create(mean), vk = Vector256.Create(k), vc = Vector256.Create(c), vb = Vector256.Create(shift);
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> dev = Vector256.LoadUnsafe(ref rx, (nuint)i) - vm, g = Vector256.LoadUnsafe(ref rg, (nuint)i);
                if (relu)
                {
                    g &= Vector256.GreaterThan(Simd.Fma(dev, vs, vb), Vector256<float>.Zero);
                }

                Simd.Fma(g, vs, Simd.Fma(dev, vk, vc)).StoreUnsafe(ref rd, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float g = Unsafe.Add(ref rg, i), dev = Unsafe.Add(ref rx, i) - mean;
            if (relu && !(MathF.FusedMultiplyAdd(dev, scale, shift) > 0f))
            {
                g = 0f;
            }

            Unsafe.Add(ref rd, i) = MathF.FusedMultiplyAdd(g, scale, MathF.FusedMultiplyAdd(dev, k, c));
        }
    }
}
