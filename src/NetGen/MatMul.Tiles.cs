using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The outer-product register tiles of MatMul that the blocked loops call: 6 and 4 rows by 16
// columns of Vector256, 8 and 4 rows by 32 columns of Vector512, and single rows. In each, c is
// C(i, j) with row stride ldc; a is A(i, 0), read as a[r·rs + p·cs]; b is B(0, j) with row stride ldb.
public static partial class MatMul
{
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

        nint r1 = rs, aStep = cs, bStep = ldb; // see Outer8x32
        ref float a0 = ref a;
        ref float a3 = ref Unsafe.Add(ref a, 3 * r1);
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref bp);
            var b1 = Vector256.LoadUnsafe(ref bp, (nuint)w);
            var v = Vector256.Create(a0);
            x00 = Simd.Fma(v, b0, x00);
            x01 = Simd.Fma(v, b1, x01);
            v = Vector256.Create(Unsafe.Add(ref a0, r1));
            x10 = Simd.Fma(v, b0, x10);
            x11 = Simd.Fma(v, b1, x11);
            v = Vector256.Create(Unsafe.Add(ref a0, 2 * r1));
            x20 = Simd.Fma(v, b0, x20);
            x21 = Simd.Fma(v, b1, x21);
            v = Vector256.Create(a3);
            x30 = Simd.Fma(v, b0, x30);
            x31 = Simd.Fma(v, b1, x31);
            v = Vector256.Create(Unsafe.Add(ref a3, r1));
            x40 = Simd.Fma(v, b0, x40);
            x41 = Simd.Fma(v, b1, x41);
            v = Vector256.Create(Unsafe.Add(ref a3, 2 * r1));
            x50 = Simd.Fma(v, b0, x50);
            x51 = Simd.Fma(v, b1, x51);
            a0 = ref Unsafe.Add(ref a0, aStep);
            a3 = ref Unsafe.Add(ref a3, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
        }

        x00.StoreUnsafe(ref c0); x01.StoreUnsafe(ref c0, (nuint)w);
        x10.StoreUnsafe(ref c1); x11.StoreUnsafe(ref c1, (nuint)w);
        x20.StoreUnsafe(ref c2); x21.StoreUnsafe(ref c2, (nuint)w);
        x30.StoreUnsafe(ref c3); x31.StoreUnsafe(ref c3, (nuint)w);
        x40.StoreUnsafe(ref c4); x41.StoreUnsafe(ref c4, (nuint)w);
        x50.StoreUnsafe(ref c5); x51.StoreUnsafe(ref c5, (nuint)w);
    }

    // Four rows of C, sixteen columns: 8 accumulators; per step 2 loads of B, 4 broadcasts of A, 8 FMAs.
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

        nint r1 = rs, r3 = 3 * (nint)rs, aStep = cs, bStep = ldb; // see Outer8x32
        ref float ap = ref a;
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref bp);
            var b1 = Vector256.LoadUnsafe(ref bp, (nuint)w);
            var a0 = Vector256.Create(ap);
            x00 = Simd.Fma(a0, b0, x00);
            x01 = Simd.Fma(a0, b1, x01);
            var a1 = Vector256.Create(Unsafe.Add(ref ap, r1));
            x10 = Simd.Fma(a1, b0, x10);
            x11 = Simd.Fma(a1, b1, x11);
            var a2 = Vector256.Create(Unsafe.Add(ref ap, 2 * r1));
            x20 = Simd.Fma(a2, b0, x20);
            x21 = Simd.Fma(a2, b1, x21);
            var a3 = Vector256.Create(Unsafe.Add(ref ap, r3));
            x30 = Simd.Fma(a3, b0, x30);
            x31 = Simd.Fma(a3, b1, x31);
            ap = ref Unsafe.Add(ref ap, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
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
        nint aStep = cs, bStep = ldb;
        ref float ap = ref a;
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var a0 = Vector256.Create(ap);
            x0 = Simd.Fma(a0, Vector256.LoadUnsafe(ref bp), x0);
            x1 = Simd.Fma(a0, Vector256.LoadUnsafe(ref bp, (nuint)w), x1);
            ap = ref Unsafe.Add(ref ap, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
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

        nint r1 = rs, r3 = 3 * (nint)rs, aStep = cs, bStep = ldb; // see Outer8x32
        ref float ap = ref a;
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref bp);
            var b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
            var a0 = Vector512.Create(ap);
            x00 = Simd.Fma(a0, b0, x00);
            x01 = Simd.Fma(a0, b1, x01);
            var a1 = Vector512.Create(Unsafe.Add(ref ap, r1));
            x10 = Simd.Fma(a1, b0, x10);
            x11 = Simd.Fma(a1, b1, x11);
            var a2 = Vector512.Create(Unsafe.Add(ref ap, 2 * r1));
            x20 = Simd.Fma(a2, b0, x20);
            x21 = Simd.Fma(a2, b1, x21);
            var a3 = Vector512.Create(Unsafe.Add(ref ap, r3));
            x30 = Simd.Fma(a3, b0, x30);
            x31 = Simd.Fma(a3, b1, x31);
            ap = ref Unsafe.Add(ref ap, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
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

        // The addresses advance by a step each iteration and the rows' offsets are native-sized
        // loop invariants, so that the loop body is the 16 FMAs and their 10 loads: indexing with
        // p·ldb and r·rs recomputed (and sign-extended) per step put about 20 integer instructions
        // beside them, and the loop was bound by instruction issue rather than by the FMA units.
        nint r1 = rs, r3 = 3 * (nint)rs, aStep = cs, bStep = ldb;
        ref float a0 = ref a;
        ref float a4 = ref Unsafe.Add(ref a, 4 * r1);
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref bp);
            var b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
            var v = Vector512.Create(a0);
            x00 = Simd.Fma(v, b0, x00);
            x01 = Simd.Fma(v, b1, x01);
            v = Vector512.Create(Unsafe.Add(ref a0, r1));
            x10 = Simd.Fma(v, b0, x10);
            x11 = Simd.Fma(v, b1, x11);
            v = Vector512.Create(Unsafe.Add(ref a0, 2 * r1));
            x20 = Simd.Fma(v, b0, x20);
            x21 = Simd.Fma(v, b1, x21);
            v = Vector512.Create(Unsafe.Add(ref a0, r3));
            x30 = Simd.Fma(v, b0, x30);
            x31 = Simd.Fma(v, b1, x31);
            v = Vector512.Create(a4);
            x40 = Simd.Fma(v, b0, x40);
            x41 = Simd.Fma(v, b1, x41);
            v = Vector512.Create(Unsafe.Add(ref a4, r1));
            x50 = Simd.Fma(v, b0, x50);
            x51 = Simd.Fma(v, b1, x51);
            v = Vector512.Create(Unsafe.Add(ref a4, 2 * r1));
            x60 = Simd.Fma(v, b0, x60);
            x61 = Simd.Fma(v, b1, x61);
            v = Vector512.Create(Unsafe.Add(ref a4, r3));
            x70 = Simd.Fma(v, b0, x70);
            x71 = Simd.Fma(v, b1, x71);
            a0 = ref Unsafe.Add(ref a0, aStep);
            a4 = ref Unsafe.Add(ref a4, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
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
        nint aStep = cs, bStep = ldb;
        ref float ap = ref a;
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var a0 = Vector512.Create(ap);
            x0 = Simd.Fma(a0, Vector512.LoadUnsafe(ref bp), x0);
            x1 = Simd.Fma(a0, Vector512.LoadUnsafe(ref bp, (nuint)w), x1);
            ap = ref Unsafe.Add(ref ap, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
        }

        x0.StoreUnsafe(ref c);
        x1.StoreUnsafe(ref c, (nuint)w);
    }
}
