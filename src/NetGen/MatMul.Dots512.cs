using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// A·Bᵀ by 512-bit dot products for a product with few rows and long rows: the weight gradient of a first
// convolution (A the patch matrix, 9 rows for a 3x3 kernel on one channel; B the output gradient, 16 filters'
// rows of 784 positions a sample). There the packed path spends most of its time transposing B into panels (its
// n·k values, against m·n·k/32 cycles of products: 3.5 times the products at m = 9); the dot products read both
// operands where they lie. Three rows of A against four of B: 12 accumulators, 7 loads for 12 multiply-adds.
// Every value is one accumulator's sum over k in steps of 16, its 16 lanes added by Vector512.Sum, then the last
// k mod 16 products added one by one: the same arithmetic in the 3x4 blocks and alone (Dot1x1Wide), so a value's
// bits do not depend on where it falls.
public static partial class MatMul
{
    /// <summary>Whether A·Bᵀ with few rows and long rows takes the 512-bit dot products (a switch for benchmarks).</summary>
    internal static bool DotFewRows { get; set; } = true;

    // Products with 3 to 15 rows of A, at most 64 rows of B, and k at least 64 times the rows of A: where the
    // dot products' horizontal sums (m·n of them) cost little against transposing B (n·k values).
    private static bool TakesWideDots(int m, int n, int k) => DotFewRows && Use512 && m >= 3 && m < 16 && n <= 64 && k >= 64 * m;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTransposedWideDots(ref float c, int ldc, ref float a, ref float b, int m, int n, int k, bool accumulate)
    {
        int m3 = m - (m % 3), n4 = n - (n % 4);
        for (int i = 0; i < m3; i += 3)
        {
            for (int j = 0; j < n4; j += 4)
            {
                Dot3x4Wide(ref c, ldc, ref a, ref b, i, j, k, accumulate);
            }
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = i < m3 ? n4 : 0; j < n; j++)
            {
                DotStore(ref c, (i * ldc) + j, Dot1x1Wide(ref Unsafe.Add(ref a, i * k), ref Unsafe.Add(ref b, j * k), k), accumulate);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot3x4Wide(ref float c, int ldc, ref float a, ref float b, int i, int j, int k, bool accumulate)
    {
        ref float a0 = ref Unsafe.Add(ref a, i * k);
        ref float a1 = ref Unsafe.Add(ref a0, k);
        ref float a2 = ref Unsafe.Add(ref a1, k);
        ref float b0 = ref Unsafe.Add(ref b, j * k);
        ref float b1 = ref Unsafe.Add(ref b0, k);
        ref float b2 = ref Unsafe.Add(ref b1, k);
        ref float b3 = ref Unsafe.Add(ref b2, k);
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            Vector512<float> vb0 = Vector512.LoadUnsafe(ref b0, (nuint)p), vb1 = Vector512.LoadUnsafe(ref b1, (nuint)p);
            Vector512<float> vb2 = Vector512.LoadUnsafe(ref b2, (nuint)p), vb3 = Vector512.LoadUnsafe(ref b3, (nuint)p);
            Vector512<float> va = Vector512.LoadUnsafe(ref a0, (nuint)p);
            c00 = Simd.Fma(va, vb0, c00);
            c01 = Simd.Fma(va, vb1, c01);
            c02 = Simd.Fma(va, vb2, c02);
            c03 = Simd.Fma(va, vb3, c03);
            va = Vector512.LoadUnsafe(ref a1, (nuint)p);
            c10 = Simd.Fma(va, vb0, c10);
            c11 = Simd.Fma(va, vb1, c11);
            c12 = Simd.Fma(va, vb2, c12);
            c13 = Simd.Fma(va, vb3, c13);
            va = Vector512.LoadUnsafe(ref a2, (nuint)p);
            c20 = Simd.Fma(va, vb0, c20);
            c21 = Simd.Fma(va, vb1, c21);
            c22 = Simd.Fma(va, vb2, c22);
            c23 = Simd.Fma(va, vb3, c23);
        }

        int o = (i * ldc) + j;
        StoreWide(ref c, o, c00, ref a0, ref b0, p, k, accumulate);
        StoreWide(ref c, o + 1, c01, ref a0, ref b1, p, k, accumulate);
        StoreWide(ref c, o + 2, c02, ref a0, ref b2, p, k, accumulate);
        StoreWide(ref c, o + 3, c03, ref a0, ref b3, p, k, accumulate);
        StoreWide(ref c, o + ldc, c10, ref a1, ref b0, p, k, accumulate);
        StoreWide(ref c, o + ldc + 1, c11, ref a1, ref b1, p, k, accumulate);
        StoreWide(ref c, o + ldc + 2, c12, ref a1, ref b2, p, k, accumulate);
        StoreWide(ref c, o + ldc + 3, c13, ref a1, ref b3, p, k, accumulate);
        StoreWide(ref c, o + (2 * ldc), c20, ref a2, ref b0, p, k, accumulate);
        StoreWide(ref c, o + (2 * ldc) + 1, c21, ref a2, ref b1, p, k, accumulate);
        StoreWide(ref c, o + (2 * ldc) + 2, c22, ref a2, ref b2, p, k, accumulate);
        StoreWide(ref c, o + (2 * ldc) + 3, c23, ref a2, ref b3, p, k, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1x1Wide(ref float a, ref float b, int k)
    {
        Vector512<float> sum = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            sum = Simd.Fma(Vector512.LoadUnsafe(ref a, (nuint)p), Vector512.LoadUnsafe(ref b, (nuint)p), sum);
        }

        return Finish(sum, ref a, ref b, p, k);
    }

    // One value's accumulator summed, then its last products (from p on) added one by one.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(Vector512<float> lanes, ref float a, ref float b, int p, int k)
    {
        float sum = Vector512.Sum(lanes);
        for (; p < k; p++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref a, p), Unsafe.Add(ref b, p), sum);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreWide(ref float c, int index, Vector512<float> lanes, ref float a, ref float b, int p, int k, bool accumulate) =>
        DotStore(ref c, index, Finish(lanes, ref a, ref b, p, k), accumulate);
}
