using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The stem's loops over one sample's rows (ConvKernels.Stem.cs): a row's sum (its own, so that MatMul's path
// switches reach it as they reach the rest; a row less its mean is Kernels.ScaleShift), and every dot product of
// a few rows with a few others (the patches' co-moments, K x K, and Σ dy·(patch − mean), F x K). The
// shapes are small (9 rows of 784 for the sample CNN) and many (one per sample): MatMul's general products spent
// more in dispatch than in arithmetic here (--stem-parts: the 16 x 9 products of 64 samples 0.193 ms). 512-bit
// vectors where accelerated, else 256-bit, else scalar (MatMul's switches).
public static partial class ConvKernels
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowSum(ReadOnlySpan<float> row)
    {
        ref float x = ref MemoryMarshal.GetReference(row);
        int n = row.Length, i = 0;
        float sum = 0;
        if (MatMul.Use512 && MatMul.UseVectors)
        {
            Vector512<float> a = Vector512<float>.Zero, b = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                a += Vector512.LoadUnsafe(ref x, (nuint)i);
                b += Vector512.LoadUnsafe(ref x, (nuint)(i + 16));
            }

            sum = Vector512.Sum(a + b);
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> a = Vector256<float>.Zero, b = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                a += Vector256.LoadUnsafe(ref x, (nuint)i);
                b += Vector256.LoadUnsafe(ref x, (nuint)(i + 8));
            }

            sum = Vector256.Sum(a + b);
        }

        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref x, i);
        }

        return sum;
    }

    /// <summary>
    /// c[i·n + j] (+)= aᵢ·bⱼ for the m rows of <paramref name="a"/> and the n rows of <paramref name="b"/>, each
    /// <paramref name="length"/> long: four rows of a against two of b at a time, eight independent chains of
    /// fused multiply-adds (the latency of one chain is four), six loads for eight multiply-adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowDots(Span<float> c, ReadOnlySpan<float> a, int m, ReadOnlySpan<float> b, int n, int length, bool accumulate)
    {
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        Span<float> dots = stackalloc float[8];
        for (int i = 0; i < m; i += 4)
        {
            int rows = Math.Min(4, m - i);
            for (int j = 0; j < n; j += 2)
            {
                int cols = Math.Min(2, n - j);
                Dots4x2(dots, ref Unsafe.Add(ref ra, i * length), rows, ref Unsafe.Add(ref rb, j * length), cols, length);
                for (int r = 0; r < rows; r++)
                {
                    for (int q = 0; q < cols; q++)
                    {
                        ref float target = ref c[((i + r) * n) + j + q];
                        target = accumulate ? target + dots[(r * 2) + q] : dots[(r * 2) + q];
                    }
                }
            }
        }
    }

    /// <summary>
    /// gram[i·k + j] = rowᵢ·rowⱼ for the k rows of <paramref name="rows"/>: the blocks of <see cref="RowDots"/> that
    /// reach the lower triangle (11 of 15 for k = 9), the rest mirrored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gram(Span<float> gram, ReadOnlySpan<float> rows, int k, int length)
    {
        ref float r0 = ref MemoryMarshal.GetReference(rows);
        Span<float> dots = stackalloc float[8];
        for (int i = 0; i < k; i += 4)
        {
            int block = Math.Min(4, k - i);
            for (int j = 0; j < i + block; j += 2)
            {
                int cols = Math.Min(2, k - j);
                Dots4x2(dots, ref Unsafe.Add(ref r0, i * length), block, ref Unsafe.Add(ref r0, j * length), cols, length);
                for (int r = 0; r < block; r++)
                {
                    for (int q = 0; q < cols; q++)
                    {
                        gram[((i + r) * k) + j + q] = dots[(r * 2) + q];
                    }
                }
            }
        }

        for (int i = 0; i < k; i++)
        {
            for (int j = i + 1; j < k; j++)
            {
                gram[(i * k) + j] = gram[(j * k) + i];
            }
        }
    }

    // dots[2r + q] = a_r·b_q for 1 to 4 rows of a and 1 or 2 of b, `length`-strided (a missing row reads row 0 and
    // is dropped).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dots4x2(Span<float> dots, ref float a, int rows, ref float b, int cols, int length)
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, rows > 1 ? length : 0);
        ref float a2 = ref Unsafe.Add(ref a, rows > 2 ? 2 * length : 0);
        ref float a3 = ref Unsafe.Add(ref a, rows > 3 ? 3 * length : 0);
        ref float b0 = ref b;
        ref float b1 = ref Unsafe.Add(ref b, cols > 1 ? length : 0);
        int i = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        if (MatMul.Use512 && MatMul.UseVectors)
        {
            Vector512<float> c0 = Vector512<float>.Zero, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
            for (; i <= length - 16; i += 16)
            {
                Vector512<float> u = Vector512.LoadUnsafe(ref b0, (nuint)i), v = Vector512.LoadUnsafe(ref b1, (nuint)i);
                Vector512<float> x = Vector512.LoadUnsafe(ref a0, (nuint)i);
                c0 = Simd.Fma(x, u, c0);
                c1 = Simd.Fma(x, v, c1);
                x = Vector512.LoadUnsafe(ref a1, (nuint)i);
                c2 = Simd.Fma(x, u, c2);
                c3 = Simd.Fma(x, v, c3);
                x = Vector512.LoadUnsafe(ref a2, (nuint)i);
                c4 = Simd.Fma(x, u, c4);
                c5 = Simd.Fma(x, v, c5);
                x = Vector512.LoadUnsafe(ref a3, (nuint)i);
                c6 = Simd.Fma(x, u, c6);
                c7 = Simd.Fma(x, v, c7);
            }

            (s0, s1, s2, s3) = (Vector512.Sum(c0), Vector512.Sum(c1), Vector512.Sum(c2), Vector512.Sum(c3));
            (s4, s5, s6, s7) = (Vector512.Sum(c4), Vector512.Sum(c5), Vector512.Sum(c6), Vector512.Sum(c7));
        }
        else if (MatMul.UseVectors)
        {
            Vector256<float> c0 = Vector256<float>.Zero, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
            for (; i <= length - 8; i += 8)
            {
                Vector256<float> u = Vector256.LoadUnsafe(ref b0, (nuint)i), v = Vector256.LoadUnsafe(ref b1, (nuint)i);
                Vector256<float> x = Vector256.LoadUnsafe(ref a0, (nuint)i);
                c0 = Simd.Fma(x, u, c0);
                c1 = Simd.Fma(x, v, c1);
                x = Vector256.LoadUnsafe(ref a1, (nuint)i);
                c2 = Simd.Fma(x, u, c2);
                c3 = Simd.Fma(x, v, c3);
                x = Vector256.LoadUnsafe(ref a2, (nuint)i);
                c4 = Simd.Fma(x, u, c4);
                c5 = Simd.Fma(x, v, c5);
                x = Vector256.LoadUnsafe(ref a3, (nuint)i);
                c6 = Simd.Fma(x, u, c6);
                c7 = Simd.Fma(x, v, c7);
            }

            (s0, s1, s2, s3) = (Vector256.Sum(c0), Vector256.Sum(c1), Vector256.Sum(c2), Vector256.Sum(c3));
            (s4, s5, s6, s7) = (Vector256.Sum(c4), Vector256.Sum(c5), Vector256.Sum(c6), Vector256.Sum(c7));
        }

        for (; i < length; i++)
        {
            float u = Unsafe.Add(ref b0, i), v = Unsafe.Add(ref b1, i);
            float x0 = Unsafe.Add(ref a0, i), x1 = Unsafe.Add(ref a1, i), x2 = Unsafe.Add(ref a2, i), x3 = Unsafe.Add(ref a3, i);
            s0 = MathF.FusedMultiplyAdd(x0, u, s0);
            s1 = MathF.FusedMultiplyAdd(x0, v, s1);
            s2 = MathF.FusedMultiplyAdd(x1, u, s2);
            s3 = MathF.FusedMultiplyAdd(x1, v, s3);
            s4 = MathF.FusedMultiplyAdd(x2, u, s4);
            s5 = MathF.FusedMultiplyAdd(x2, v, s5);
            s6 = MathF.FusedMultiplyAdd(x3, u, s6);
            s7 = MathF.FusedMultiplyAdd(x3, v, s7);
        }

        dots[0] = s0;
        dots[1] = s1;
        dots[2] = s2;
        dots[3] = s3;
        dots[4] = s4;
        dots[5] = s5;
        dots[6] = s6;
        dots[7] = s7;
    }
}
