using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The dot-product tiles of MatMul: A·Bᵀ for the rows and columns the packed outer-product kernel
// leaves (fewer than 4 rows, or the last columns of a block), and op(A)·B's last 1 to 3 columns.
public static partial class MatMul
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotStore(ref float c, int index, float value, bool accumulate)
    {
        ref float target = ref Unsafe.Add(ref c, index);
        target = accumulate ? target + value : value;
    }

    private static float DotScalar(ref float a, ref float b, int k)
    {
        float sum = 0f;
        for (int p = 0; p < k; p++)
        {
            sum += Unsafe.Add(ref a, p) * Unsafe.Add(ref b, p);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotVector(ref float a, ref float b, int k)
    {
        int w = Vector256<float>.Count;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int p = 0;
        for (; p + 2 * w <= k; p += 2 * w)
        {
            acc0 = Simd.Fma(Vector256.LoadUnsafe(ref a, (nuint)p), Vector256.LoadUnsafe(ref b, (nuint)p), acc0);
            acc1 = Simd.Fma(Vector256.LoadUnsafe(ref a, (nuint)(p + w)), Vector256.LoadUnsafe(ref b, (nuint)(p + w)), acc1);
        }

        for (; p + w <= k; p += w)
        {
            acc0 = Simd.Fma(Vector256.LoadUnsafe(ref a, (nuint)p), Vector256.LoadUnsafe(ref b, (nuint)p), acc0);
        }

        float sum = Vector256.Sum(acc0 + acc1);
        for (; p < k; p++)
        {
            sum += Unsafe.Add(ref a, p) * Unsafe.Add(ref b, p);
        }

        return sum;
    }

    // Four rows of A against two rows of B: 8 accumulators, 6 loads per 8 products.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x2(ref float c, ref float a, ref float b, int i, int j, int ldc, int k, bool accumulate)
    {
        int w = Vector256<float>.Count;
        ref float a0 = ref Unsafe.Add(ref a, i * k);
        ref float a1 = ref Unsafe.Add(ref a0, k);
        ref float a2 = ref Unsafe.Add(ref a1, k);
        ref float a3 = ref Unsafe.Add(ref a2, k);
        ref float b0 = ref Unsafe.Add(ref b, j * k);
        ref float b1 = ref Unsafe.Add(ref b0, k);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            var vb0 = Vector256.LoadUnsafe(ref b0, (nuint)p);
            var vb1 = Vector256.LoadUnsafe(ref b1, (nuint)p);
            var va = Vector256.LoadUnsafe(ref a0, (nuint)p);
            c00 = Simd.Fma(va, vb0, c00);
            c01 = Simd.Fma(va, vb1, c01);
            va = Vector256.LoadUnsafe(ref a1, (nuint)p);
            c10 = Simd.Fma(va, vb0, c10);
            c11 = Simd.Fma(va, vb1, c11);
            va = Vector256.LoadUnsafe(ref a2, (nuint)p);
            c20 = Simd.Fma(va, vb0, c20);
            c21 = Simd.Fma(va, vb1, c21);
            va = Vector256.LoadUnsafe(ref a3, (nuint)p);
            c30 = Simd.Fma(va, vb0, c30);
            c31 = Simd.Fma(va, vb1, c31);
        }

        float s00 = Vector256.Sum(c00), s01 = Vector256.Sum(c01), s10 = Vector256.Sum(c10), s11 = Vector256.Sum(c11);
        float s20 = Vector256.Sum(c20), s21 = Vector256.Sum(c21), s30 = Vector256.Sum(c30), s31 = Vector256.Sum(c31);
        for (; p < k; p++)
        {
            float x0 = Unsafe.Add(ref b0, p), x1 = Unsafe.Add(ref b1, p);
            s00 += Unsafe.Add(ref a0, p) * x0; s01 += Unsafe.Add(ref a0, p) * x1;
            s10 += Unsafe.Add(ref a1, p) * x0; s11 += Unsafe.Add(ref a1, p) * x1;
            s20 += Unsafe.Add(ref a2, p) * x0; s21 += Unsafe.Add(ref a2, p) * x1;
            s30 += Unsafe.Add(ref a3, p) * x0; s31 += Unsafe.Add(ref a3, p) * x1;
        }

        int o = i * ldc + j;
        DotStore(ref c, o, s00, accumulate); DotStore(ref c, o + 1, s01, accumulate);
        DotStore(ref c, o + ldc, s10, accumulate); DotStore(ref c, o + ldc + 1, s11, accumulate);
        DotStore(ref c, o + 2 * ldc, s20, accumulate); DotStore(ref c, o + 2 * ldc + 1, s21, accumulate);
        DotStore(ref c, o + 3 * ldc, s30, accumulate); DotStore(ref c, o + 3 * ldc + 1, s31, accumulate);
    }

    // C = A·Bᵀ's rows by dot products, its columns from `first` on (those before, the packed kernel's): four rows
    // at a time, then two, then one. Dot4x2, Dot2x4 and Dot1x4 sum a value alike (one 256-bit accumulator, its
    // sum, the scalar rest), and the columns a pair or a single row leaves (n mod 4) go through DotVector alike:
    // below four rows, a row's values are those it has alone.
    private static void DotRows(ref float rc, int ldc, ref float ra, ref float rb, int m, int first, int n, int k, bool accumulate, bool vectors)
    {
        int i = 0;
        if (vectors)
        {
            for (; i + 4 <= m; i += 4)
            {
                int j = first;
                for (; j + 2 <= n; j += 2)
                {
                    Dot4x2(ref rc, ref ra, ref rb, i, j, ldc, k, accumulate);
                }

                DotColumns(ref rc, ldc, ref ra, ref rb, i, 4, j, n, k, accumulate);
            }

            // Two rows against four of B: B's rows read once for both (a batch of 2 or 3 reads the weight once
            // rather than a time a row).
            for (; i + 2 <= m; i += 2)
            {
                int j = first;
                for (; j + 4 <= n; j += 4)
                {
                    Dot2x4(ref rc, ref ra, ref rb, i, j, ldc, k, accumulate);
                }

                DotColumns(ref rc, ldc, ref ra, ref rb, i, 2, j, n, k, accumulate);
            }
        }

        for (; i < m; i++)
        {
            int j = first;
            if (vectors)
            {
                for (; j + 4 <= n; j += 4)
                {
                    Dot1x4(ref rc, ref ra, ref rb, i, j, ldc, k, accumulate);
                }
            }

            for (; j < n; j++)
            {
                float dot = vectors
                    ? DotVector(ref Unsafe.Add(ref ra, i * k), ref Unsafe.Add(ref rb, j * k), k)
                    : DotScalar(ref Unsafe.Add(ref ra, i * k), ref Unsafe.Add(ref rb, j * k), k);
                DotStore(ref rc, i * ldc + j, dot, accumulate);
            }
        }
    }

    // Columns [j, n) of rows [i, i + rows) by single dot products: the columns a tile of several rows leaves.
    private static void DotColumns(ref float rc, int ldc, ref float ra, ref float rb, int i, int rows, int j, int n, int k, bool accumulate)
    {
        for (; j < n; j++)
        {
            for (int r = i; r < i + rows; r++)
            {
                DotStore(ref rc, r * ldc + j, DotVector(ref Unsafe.Add(ref ra, r * k), ref Unsafe.Add(ref rb, j * k), k), accumulate);
            }
        }
    }

    // Two rows of A against four rows of B: 8 accumulators, 6 loads per 8 products; each value as Dot1x4 sums it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2x4(ref float c, ref float a, ref float b, int i, int j, int ldc, int k, bool accumulate)
    {
        int w = Vector256<float>.Count;
        ref float a0 = ref Unsafe.Add(ref a, i * k);
        ref float a1 = ref Unsafe.Add(ref a0, k);
        ref float b0 = ref Unsafe.Add(ref b, j * k);
        ref float b1 = ref Unsafe.Add(ref b0, k);
        ref float b2 = ref Unsafe.Add(ref b1, k);
        ref float b3 = ref Unsafe.Add(ref b2, k);
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            var vb0 = Vector256.LoadUnsafe(ref b0, (nuint)p);
            var vb1 = Vector256.LoadUnsafe(ref b1, (nuint)p);
            var vb2 = Vector256.LoadUnsafe(ref b2, (nuint)p);
            var vb3 = Vector256.LoadUnsafe(ref b3, (nuint)p);
            var va = Vector256.LoadUnsafe(ref a0, (nuint)p);
            c00 = Simd.Fma(va, vb0, c00);
            c01 = Simd.Fma(va, vb1, c01);
            c02 = Simd.Fma(va, vb2, c02);
            c03 = Simd.Fma(va, vb3, c03);
            va = Vector256.LoadUnsafe(ref a1, (nuint)p);
            c10 = Simd.Fma(va, vb0, c10);
            c11 = Simd.Fma(va, vb1, c11);
            c12 = Simd.Fma(va, vb2, c12);
            c13 = Simd.Fma(va, vb3, c13);
        }

        float s00 = Vector256.Sum(c00), s01 = Vector256.Sum(c01), s02 = Vector256.Sum(c02), s03 = Vector256.Sum(c03);
        float s10 = Vector256.Sum(c10), s11 = Vector256.Sum(c11), s12 = Vector256.Sum(c12), s13 = Vector256.Sum(c13);
        for (; p < k; p++)
        {
            float x0 = Unsafe.Add(ref a0, p), x1 = Unsafe.Add(ref a1, p);
            s00 += x0 * Unsafe.Add(ref b0, p); s01 += x0 * Unsafe.Add(ref b1, p);
            s02 += x0 * Unsafe.Add(ref b2, p); s03 += x0 * Unsafe.Add(ref b3, p);
            s10 += x1 * Unsafe.Add(ref b0, p); s11 += x1 * Unsafe.Add(ref b1, p);
            s12 += x1 * Unsafe.Add(ref b2, p); s13 += x1 * Unsafe.Add(ref b3, p);
        }

        int o = i * ldc + j;
        DotStore(ref c, o, s00, accumulate); DotStore(ref c, o + 1, s01, accumulate);
        DotStore(ref c, o + 2, s02, accumulate); DotStore(ref c, o + 3, s03, accumulate);
        DotStore(ref c, o + ldc, s10, accumulate); DotStore(ref c, o + ldc + 1, s11, accumulate);
        DotStore(ref c, o + ldc + 2, s12, accumulate); DotStore(ref c, o + ldc + 3, s13, accumulate);
    }

    // One row of A against four rows of B (batch-1 inference): 4 accumulators, 5 loads per 4 products.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x4(ref float c, ref float a, ref float b, int i, int j, int ldc, int k, bool accumulate)
    {
        int w = Vector256<float>.Count;
        ref float a0 = ref Unsafe.Add(ref a, i * k);
        ref float b0 = ref Unsafe.Add(ref b, j * k);
        ref float b1 = ref Unsafe.Add(ref b0, k);
        ref float b2 = ref Unsafe.Add(ref b1, k);
        ref float b3 = ref Unsafe.Add(ref b2, k);
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            var va = Vector256.LoadUnsafe(ref a0, (nuint)p);
            c0 = Simd.Fma(va, Vector256.LoadUnsafe(ref b0, (nuint)p), c0);
            c1 = Simd.Fma(va, Vector256.LoadUnsafe(ref b1, (nuint)p), c1);
            c2 = Simd.Fma(va, Vector256.LoadUnsafe(ref b2, (nuint)p), c2);
            c3 = Simd.Fma(va, Vector256.LoadUnsafe(ref b3, (nuint)p), c3);
        }

        float s0 = Vector256.Sum(c0), s1 = Vector256.Sum(c1), s2 = Vector256.Sum(c2), s3 = Vector256.Sum(c3);
        for (; p < k; p++)
        {
            float x = Unsafe.Add(ref a0, p);
            s0 += x * Unsafe.Add(ref b0, p);
            s1 += x * Unsafe.Add(ref b1, p);
            s2 += x * Unsafe.Add(ref b2, p);
            s3 += x * Unsafe.Add(ref b3, p);
        }

        int o = i * ldc + j;
        DotStore(ref c, o, s0, accumulate);
        DotStore(ref c, o + 1, s1, accumulate);
        DotStore(ref c, o + 2, s2, accumulate);
        DotStore(ref c, o + 3, s3, accumulate);
    }

    // C(r, 0) (+)= Σ_p A(r, p)·B(p, 0) for eight rows r, one column: eight scalar sums, each added to in the
    // order of p as a single row's would be.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalarColumn8(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
        for (int p = 0; p < k; p++)
        {
            float bp = Unsafe.Add(ref b, p * ldb);
            ref float ap = ref Unsafe.Add(ref a, p * cs);
            s0 += ap * bp;
            s1 += Unsafe.Add(ref ap, rs) * bp;
            s2 += Unsafe.Add(ref ap, 2 * rs) * bp;
            s3 += Unsafe.Add(ref ap, 3 * rs) * bp;
            s4 += Unsafe.Add(ref ap, 4 * rs) * bp;
            s5 += Unsafe.Add(ref ap, 5 * rs) * bp;
            s6 += Unsafe.Add(ref ap, 6 * rs) * bp;
            s7 += Unsafe.Add(ref ap, 7 * rs) * bp;
        }

        DotStore(ref c, 0, s0, accumulate);
        DotStore(ref c, ldc, s1, accumulate);
        DotStore(ref c, 2 * ldc, s2, accumulate);
        DotStore(ref c, 3 * ldc, s3, accumulate);
        DotStore(ref c, 4 * ldc, s4, accumulate);
        DotStore(ref c, 5 * ldc, s5, accumulate);
        DotStore(ref c, 6 * ldc, s6, accumulate);
        DotStore(ref c, 7 * ldc, s7, accumulate);
    }
}
