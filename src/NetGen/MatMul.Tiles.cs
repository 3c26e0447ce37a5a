using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The register tiles of MatMul: dot products for A·Bᵀ with few rows, and the outer-product tiles
// (4 rows by 16 columns of Vector256, 4 by 32 of Vector512) that the blocked loops call.
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
    private static void Dot4x2(ref float c, ref float a, ref float b, int i, int j, int n, int k, bool accumulate)
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

        int o = i * n + j;
        DotStore(ref c, o, s00, accumulate); DotStore(ref c, o + 1, s01, accumulate);
        DotStore(ref c, o + n, s10, accumulate); DotStore(ref c, o + n + 1, s11, accumulate);
        DotStore(ref c, o + 2 * n, s20, accumulate); DotStore(ref c, o + 2 * n + 1, s21, accumulate);
        DotStore(ref c, o + 3 * n, s30, accumulate); DotStore(ref c, o + 3 * n + 1, s31, accumulate);
    }

    // One row of A against four rows of B (batch-1 inference): 4 accumulators, 5 loads per 4 products.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x4(ref float c, ref float a, ref float b, int i, int j, int n, int k, bool accumulate)
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

        int o = i * n + j;
        DotStore(ref c, o, s0, accumulate);
        DotStore(ref c, o + 1, s1, accumulate);
        DotStore(ref c, o + 2, s2, accumulate);
        DotStore(ref c, o + 3, s3, accumulate);
    }

    // Four rows of C, sixteen columns: 8 accumulators; per step 2 loads of B, 4 broadcasts of A, 8 FMAs.
    // c is C(i, j) with row stride ldc; a is A(i, 0), read as a[r·rs + p·cs]; b is B(0, j) with row stride ldb.
    // Six rows by 16 columns of Vector256: 12 accumulators, the most that leave room for B's two vectors
    // and a broadcast in the 16 registers of AVX2 (the 4-row tile's 8 cannot cover the FMA latency).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer6x16(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        int w = Vector256<float>.Count;
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ldc);
        ref float c2 = ref Unsafe.Add(ref c1, ldc);
        ref float c3 = ref Unsafe.Add(ref c2, ldc);
        ref float c4 = ref Unsafe.Add(ref c3, ldc);
        ref float c5 = ref Unsafe.Add(ref c4, ldc);
        Vector256<float> x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51;
        if (accumulate)
        {
            x00 = Vector256.LoadUnsafe(ref c0); x01 = Vector256.LoadUnsafe(ref c0, (nuint)w);
            x10 = Vector256.LoadUnsafe(ref c1); x11 = Vector256.LoadUnsafe(ref c1, (nuint)w);
            x20 = Vector256.LoadUnsafe(ref c2); x21 = Vector256.LoadUnsafe(ref c2, (nuint)w);
            x30 = Vector256.LoadUnsafe(ref c3); x31 = Vector256.LoadUnsafe(ref c3, (nuint)w);
            x40 = Vector256.LoadUnsafe(ref c4); x41 = Vector256.LoadUnsafe(ref c4, (nuint)w);
            x50 = Vector256.LoadUnsafe(ref c5); x51 = Vector256.LoadUnsafe(ref c5, (nuint)w);
        }
        else
        {
            x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = x40 = x41 = x50 = x51 = Vector256<float>.Zero;
        }

        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            var b0 = Vector256.LoadUnsafe(ref bp);
            var b1 = Vector256.LoadUnsafe(ref bp, (nuint)w);
            ref float ap = ref Unsafe.Add(ref a, p * cs);
            var v = Vector256.Create(ap);
            x00 = Simd.Fma(v, b0, x00);
            x01 = Simd.Fma(v, b1, x01);
            v = Vector256.Create(Unsafe.Add(ref ap, rs));
            x10 = Simd.Fma(v, b0, x10);
            x11 = Simd.Fma(v, b1, x11);
            v = Vector256.Create(Unsafe.Add(ref ap, 2 * rs));
            x20 = Simd.Fma(v, b0, x20);
            x21 = Simd.Fma(v, b1, x21);
            v = Vector256.Create(Unsafe.Add(ref ap, 3 * rs));
            x30 = Simd.Fma(v, b0, x30);
            x31 = Simd.Fma(v, b1, x31);
            v = Vector256.Create(Unsafe.Add(ref ap, 4 * rs));
            x40 = Simd.Fma(v, b0, x40);
            x41 = Simd.Fma(v, b1, x41);
            v = Vector256.Create(Unsafe.Add(ref ap, 5 * rs));
            x50 = Simd.Fma(v, b0, x50);
            x51 = Simd.Fma(v, b1, x51);
        }

        x00.StoreUnsafe(ref c0); x01.StoreUnsafe(ref c0, (nuint)w);
        x10.StoreUnsafe(ref c1); x11.StoreUnsafe(ref c1, (nuint)w);
        x20.StoreUnsafe(ref c2); x21.StoreUnsafe(ref c2, (nuint)w);
        x30.StoreUnsafe(ref c3); x31.StoreUnsafe(ref c3, (nuint)w);
        x40.StoreUnsafe(ref c4); x41.StoreUnsafe(ref c4, (nuint)w);
        x50.StoreUnsafe(ref c5); x51.StoreUnsafe(ref c5, (nuint)w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer4x16(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        int w = Vector256<float>.Count;
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ldc);
        ref float c2 = ref Unsafe.Add(ref c1, ldc);
        ref float c3 = ref Unsafe.Add(ref c2, ldc);
        Vector256<float> x00, x01, x10, x11, x20, x21, x30, x31;
        if (accumulate)
        {
            x00 = Vector256.LoadUnsafe(ref c0); x01 = Vector256.LoadUnsafe(ref c0, (nuint)w);
            x10 = Vector256.LoadUnsafe(ref c1); x11 = Vector256.LoadUnsafe(ref c1, (nuint)w);
            x20 = Vector256.LoadUnsafe(ref c2); x21 = Vector256.LoadUnsafe(ref c2, (nuint)w);
            x30 = Vector256.LoadUnsafe(ref c3); x31 = Vector256.LoadUnsafe(ref c3, (nuint)w);
        }
        else
        {
            x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector256<float>.Zero;
        }

        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            var b0 = Vector256.LoadUnsafe(ref bp);
            var b1 = Vector256.LoadUnsafe(ref bp, (nuint)w);
            ref float ap = ref Unsafe.Add(ref a, p * cs);
            var a0 = Vector256.Create(ap);
            x00 = Simd.Fma(a0, b0, x00);
            x01 = Simd.Fma(a0, b1, x01);
            var a1 = Vector256.Create(Unsafe.Add(ref ap, rs));
            x10 = Simd.Fma(a1, b0, x10);
            x11 = Simd.Fma(a1, b1, x11);
            var a2 = Vector256.Create(Unsafe.Add(ref ap, 2 * rs));
            x20 = Simd.Fma(a2, b0, x20);
            x21 = Simd.Fma(a2, b1, x21);
            var a3 = Vector256.Create(Unsafe.Add(ref ap, 3 * rs));
            x30 = Simd.Fma(a3, b0, x30);
            x31 = Simd.Fma(a3, b1, x31);
        }

        x00.StoreUnsafe(ref c0); x01.StoreUnsafe(ref c0, (nuint)w);
        x10.StoreUnsafe(ref c1); x11.StoreUnsafe(ref c1, (nuint)w);
        x20.StoreUnsafe(ref c2); x21.StoreUnsafe(ref c2, (nuint)w);
        x30.StoreUnsafe(ref c3); x31.StoreUnsafe(ref c3, (nuint)w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer1x16(ref float c, ref float a, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        int w = Vector256<float>.Count;
        Vector256<float> x0 = accumulate ? Vector256.LoadUnsafe(ref c) : Vector256<float>.Zero;
        Vector256<float> x1 = accumulate ? Vector256.LoadUnsafe(ref c, (nuint)w) : Vector256<float>.Zero;
        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            var a0 = Vector256.Create(Unsafe.Add(ref a, p * cs));
            x0 = Simd.Fma(a0, Vector256.LoadUnsafe(ref bp), x0);
            x1 = Simd.Fma(a0, Vector256.LoadUnsafe(ref bp, (nuint)w), x1);
        }

        x0.StoreUnsafe(ref c);
        x1.StoreUnsafe(ref c, (nuint)w);
    }

    // The same tile, 32 columns wide, with 512-bit vectors where the hardware accelerates them:
    // 8 accumulators of 16 floats, twice the work of Outer4x16 per broadcast of A.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer4x32(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        int w = Vector512<float>.Count;
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ldc);
        ref float c2 = ref Unsafe.Add(ref c1, ldc);
        ref float c3 = ref Unsafe.Add(ref c2, ldc);
        Vector512<float> x00, x01, x10, x11, x20, x21, x30, x31;
        if (accumulate)
        {
            x00 = Vector512.LoadUnsafe(ref c0); x01 = Vector512.LoadUnsafe(ref c0, (nuint)w);
            x10 = Vector512.LoadUnsafe(ref c1); x11 = Vector512.LoadUnsafe(ref c1, (nuint)w);
            x20 = Vector512.LoadUnsafe(ref c2); x21 = Vector512.LoadUnsafe(ref c2, (nuint)w);
            x30 = Vector512.LoadUnsafe(ref c3); x31 = Vector512.LoadUnsafe(ref c3, (nuint)w);
        }
        else
        {
            x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector512<float>.Zero;
        }

        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            var b0 = Vector512.LoadUnsafe(ref bp);
            var b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
            ref float ap = ref Unsafe.Add(ref a, p * cs);
            var a0 = Vector512.Create(ap);
            x00 = Simd.Fma(a0, b0, x00);
            x01 = Simd.Fma(a0, b1, x01);
            var a1 = Vector512.Create(Unsafe.Add(ref ap, rs));
            x10 = Simd.Fma(a1, b0, x10);
            x11 = Simd.Fma(a1, b1, x11);
            var a2 = Vector512.Create(Unsafe.Add(ref ap, 2 * rs));
            x20 = Simd.Fma(a2, b0, x20);
            x21 = Simd.Fma(a2, b1, x21);
            var a3 = Vector512.Create(Unsafe.Add(ref ap, 3 * rs));
            x30 = Simd.Fma(a3, b0, x30);
            x31 = Simd.Fma(a3, b1, x31);
        }

        x00.StoreUnsafe(ref c0); x01.StoreUnsafe(ref c0, (nuint)w);
        x10.StoreUnsafe(ref c1); x11.StoreUnsafe(ref c1, (nuint)w);
        x20.StoreUnsafe(ref c2); x21.StoreUnsafe(ref c2, (nuint)w);
        x30.StoreUnsafe(ref c3); x31.StoreUnsafe(ref c3, (nuint)w);
    }

    // Eight rows by 32 columns of Vector512: 16 accumulators, 2 loads of B and 8 broadcasts of A per
    // 16 products.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer8x32(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        int w = Vector512<float>.Count;
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ldc);
        ref float c2 = ref Unsafe.Add(ref c1, ldc);
        ref float c3 = ref Unsafe.Add(ref c2, ldc);
        ref float c4 = ref Unsafe.Add(ref c3, ldc);
        ref float c5 = ref Unsafe.Add(ref c4, ldc);
        ref float c6 = ref Unsafe.Add(ref c5, ldc);
        ref float c7 = ref Unsafe.Add(ref c6, ldc);
        Vector512<float> x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60, x61, x70, x71;
        if (accumulate)
        {
            x00 = Vector512.LoadUnsafe(ref c0); x01 = Vector512.LoadUnsafe(ref c0, (nuint)w);
            x10 = Vector512.LoadUnsafe(ref c1); x11 = Vector512.LoadUnsafe(ref c1, (nuint)w);
            x20 = Vector512.LoadUnsafe(ref c2); x21 = Vector512.LoadUnsafe(ref c2, (nuint)w);
            x30 = Vector512.LoadUnsafe(ref c3); x31 = Vector512.LoadUnsafe(ref c3, (nuint)w);
            x40 = Vector512.LoadUnsafe(ref c4); x41 = Vector512.LoadUnsafe(ref c4, (nuint)w);
            x50 = Vector512.LoadUnsafe(ref c5); x51 = Vector512.LoadUnsafe(ref c5, (nuint)w);
            x60 = Vector512.LoadUnsafe(ref c6); x61 = Vector512.LoadUnsafe(ref c6, (nuint)w);
            x70 = Vector512.LoadUnsafe(ref c7); x71 = Vector512.LoadUnsafe(ref c7, (nuint)w);
        }
        else
        {
            x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector512<float>.Zero;
            x40 = x41 = x50 = x51 = x60 = x61 = x70 = x71 = Vector512<float>.Zero;
        }

        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            var b0 = Vector512.LoadUnsafe(ref bp);
            var b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
            ref float ap = ref Unsafe.Add(ref a, p * cs);
            var v = Vector512.Create(ap);
            x00 = Simd.Fma(v, b0, x00);
            x01 = Simd.Fma(v, b1, x01);
            v = Vector512.Create(Unsafe.Add(ref ap, rs));
            x10 = Simd.Fma(v, b0, x10);
            x11 = Simd.Fma(v, b1, x11);
            v = Vector512.Create(Unsafe.Add(ref ap, 2 * rs));
            x20 = Simd.Fma(v, b0, x20);
            x21 = Simd.Fma(v, b1, x21);
            v = Vector512.Create(Unsafe.Add(ref ap, 3 * rs));
            x30 = Simd.Fma(v, b0, x30);
            x31 = Simd.Fma(v, b1, x31);
            v = Vector512.Create(Unsafe.Add(ref ap, 4 * rs));
            x40 = Simd.Fma(v, b0, x40);
            x41 = Simd.Fma(v, b1, x41);
            v = Vector512.Create(Unsafe.Add(ref ap, 5 * rs));
            x50 = Simd.Fma(v, b0, x50);
            x51 = Simd.Fma(v, b1, x51);
            v = Vector512.Create(Unsafe.Add(ref ap, 6 * rs));
            x60 = Simd.Fma(v, b0, x60);
            x61 = Simd.Fma(v, b1, x61);
            v = Vector512.Create(Unsafe.Add(ref ap, 7 * rs));
            x70 = Simd.Fma(v, b0, x70);
            x71 = Simd.Fma(v, b1, x71);
        }

        x00.StoreUnsafe(ref c0); x01.StoreUnsafe(ref c0, (nuint)w);
        x10.StoreUnsafe(ref c1); x11.StoreUnsafe(ref c1, (nuint)w);
        x20.StoreUnsafe(ref c2); x21.StoreUnsafe(ref c2, (nuint)w);
        x30.StoreUnsafe(ref c3); x31.StoreUnsafe(ref c3, (nuint)w);
        x40.StoreUnsafe(ref c4); x41.StoreUnsafe(ref c4, (nuint)w);
        x50.StoreUnsafe(ref c5); x51.StoreUnsafe(ref c5, (nuint)w);
        x60.StoreUnsafe(ref c6); x61.StoreUnsafe(ref c6, (nuint)w);
        x70.StoreUnsafe(ref c7); x71.StoreUnsafe(ref c7, (nuint)w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer1x32(ref float c, ref float a, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        int w = Vector512<float>.Count;
        Vector512<float> x0 = accumulate ? Vector512.LoadUnsafe(ref c) : Vector512<float>.Zero;
        Vector512<float> x1 = accumulate ? Vector512.LoadUnsafe(ref c, (nuint)w) : Vector512<float>.Zero;
        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * ldb);
            var a0 = Vector512.Create(Unsafe.Add(ref a, p * cs));
            x0 = Simd.Fma(a0, Vector512.LoadUnsafe(ref bp), x0);
            x1 = Simd.Fma(a0, Vector512.LoadUnsafe(ref bp, (nuint)w), x1);
        }

        x0.StoreUnsafe(ref c);
        x1.StoreUnsafe(ref c, (nuint)w);
    }
}
