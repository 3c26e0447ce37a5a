using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The 8-row tiles for the columns a 32-wide tiling leaves over: 16 (one Vector512 a row), 8 (Vector256)
// and 4 (Vector128). Arguments as in MatMul.Tiles.cs: c is C(i, j) with row stride ldc; a is A(i, 0),
// read as a[r·rs + p·cs]; b is B(0, j) with row stride ldb.
public static partial class MatMul
{
    // Eight rows by 16 columns, one Vector512 a row (the 16 columns a 32-wide tiling leaves, 784 = 24·32 + 16):
    // 8 accumulators, 1 load of B and 8 broadcasts of A per 8 products, twice the width of two Outer4x16.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer8x16(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ldc);
        ref float c2 = ref Unsafe.Add(ref c1, ldc);
        ref float c3 = ref Unsafe.Add(ref c2, ldc);
        ref float c4 = ref Unsafe.Add(ref c3, ldc);
        ref float c5 = ref Unsafe.Add(ref c4, ldc);
        ref float c6 = ref Unsafe.Add(ref c5, ldc);
        ref float c7 = ref Unsafe.Add(ref c6, ldc);
        Vector512<float> x0, x1, x2, x3, x4, x5, x6, x7;
        if (accumulate)
        {
            x0 = Vector512.LoadUnsafe(ref c0); x1 = Vector512.LoadUnsafe(ref c1); x2 = Vector512.LoadUnsafe(ref c2); x3 = Vector512.LoadUnsafe(ref c3);
            x4 = Vector512.LoadUnsafe(ref c4); x5 = Vector512.LoadUnsafe(ref c5); x6 = Vector512.LoadUnsafe(ref c6); x7 = Vector512.LoadUnsafe(ref c7);
        }
        else
        {
            x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = Vector512<float>.Zero;
        }

        nint r1 = rs, r3 = 3 * (nint)rs, aStep = cs, bStep = ldb; // see Outer8x32
        ref float a0 = ref a;
        ref float a4 = ref Unsafe.Add(ref a, 4 * r1);
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref bp);
            x0 = Simd.Fma(Vector512.Create(a0), b0, x0);
            x1 = Simd.Fma(Vector512.Create(Unsafe.Add(ref a0, r1)), b0, x1);
            x2 = Simd.Fma(Vector512.Create(Unsafe.Add(ref a0, 2 * r1)), b0, x2);
            x3 = Simd.Fma(Vector512.Create(Unsafe.Add(ref a0, r3)), b0, x3);
            x4 = Simd.Fma(Vector512.Create(a4), b0, x4);
            x5 = Simd.Fma(Vector512.Create(Unsafe.Add(ref a4, r1)), b0, x5);
            x6 = Simd.Fma(Vector512.Create(Unsafe.Add(ref a4, 2 * r1)), b0, x6);
            x7 = Simd.Fma(Vector512.Create(Unsafe.Add(ref a4, r3)), b0, x7);
            a0 = ref Unsafe.Add(ref a0, aStep);
            a4 = ref Unsafe.Add(ref a4, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
        }

        x0.StoreUnsafe(ref c0); x1.StoreUnsafe(ref c1); x2.StoreUnsafe(ref c2); x3.StoreUnsafe(ref c3);
        x4.StoreUnsafe(ref c4); x5.StoreUnsafe(ref c5); x6.StoreUnsafe(ref c6); x7.StoreUnsafe(ref c7);
    }

    // Eight rows by 8 columns of Vector256, and by 4 of Vector128: the last columns of a row that is not a
    // whole number of 16-column tiles (the sample CNN's 14 x 14 = 196-wide planes end in 4), eight chains
    // of multiply-adds at a time where one row at a time is bound by the FMA latency (and the last 4
    // columns, as scalars, by that of a separate multiply and add).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer8x8(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        Vector256<float> x0, x1, x2, x3, x4, x5, x6, x7;
        if (accumulate)
        {
            x0 = Vector256.LoadUnsafe(ref c); x1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, ldc)); x2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, 2 * ldc)); x3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, 3 * ldc));
            x4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, 4 * ldc)); x5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, 5 * ldc)); x6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, 6 * ldc)); x7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref c, 7 * ldc));
        }
        else
        {
            x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = Vector256<float>.Zero;
        }

        nint r1 = rs, r3 = 3 * (nint)rs, aStep = cs, bStep = ldb; // see Outer8x32
        ref float a0 = ref a;
        ref float a4 = ref Unsafe.Add(ref a, 4 * r1);
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref bp);
            x0 = Simd.Fma(Vector256.Create(a0), b0, x0);
            x1 = Simd.Fma(Vector256.Create(Unsafe.Add(ref a0, r1)), b0, x1);
            x2 = Simd.Fma(Vector256.Create(Unsafe.Add(ref a0, 2 * r1)), b0, x2);
            x3 = Simd.Fma(Vector256.Create(Unsafe.Add(ref a0, r3)), b0, x3);
            x4 = Simd.Fma(Vector256.Create(a4), b0, x4);
            x5 = Simd.Fma(Vector256.Create(Unsafe.Add(ref a4, r1)), b0, x5);
            x6 = Simd.Fma(Vector256.Create(Unsafe.Add(ref a4, 2 * r1)), b0, x6);
            x7 = Simd.Fma(Vector256.Create(Unsafe.Add(ref a4, r3)), b0, x7);
            a0 = ref Unsafe.Add(ref a0, aStep);
            a4 = ref Unsafe.Add(ref a4, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
        }

        x0.StoreUnsafe(ref c); x1.StoreUnsafe(ref Unsafe.Add(ref c, ldc)); x2.StoreUnsafe(ref Unsafe.Add(ref c, 2 * ldc)); x3.StoreUnsafe(ref Unsafe.Add(ref c, 3 * ldc));
        x4.StoreUnsafe(ref Unsafe.Add(ref c, 4 * ldc)); x5.StoreUnsafe(ref Unsafe.Add(ref c, 5 * ldc)); x6.StoreUnsafe(ref Unsafe.Add(ref c, 6 * ldc)); x7.StoreUnsafe(ref Unsafe.Add(ref c, 7 * ldc));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer8x4(ref float c, int ldc, ref float a, int rs, int cs, ref float b, int ldb, int k, bool accumulate)
    {
        Vector128<float> x0, x1, x2, x3, x4, x5, x6, x7;
        if (accumulate)
        {
            x0 = Vector128.LoadUnsafe(ref c); x1 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, ldc)); x2 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, 2 * ldc)); x3 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, 3 * ldc));
            x4 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, 4 * ldc)); x5 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, 5 * ldc)); x6 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, 6 * ldc)); x7 = Vector128.LoadUnsafe(ref Unsafe.Add(ref c, 7 * ldc));
        }
        else
        {
            x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = Vector128<float>.Zero;
        }

        nint r1 = rs, r3 = 3 * (nint)rs, aStep = cs, bStep = ldb; // see Outer8x32
        ref float a0 = ref a;
        ref float a4 = ref Unsafe.Add(ref a, 4 * r1);
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector128.LoadUnsafe(ref bp);
            x0 = Simd.Fma(Vector128.Create(a0), b0, x0);
            x1 = Simd.Fma(Vector128.Create(Unsafe.Add(ref a0, r1)), b0, x1);
            x2 = Simd.Fma(Vector128.Create(Unsafe.Add(ref a0, 2 * r1)), b0, x2);
            x3 = Simd.Fma(Vector128.Create(Unsafe.Add(ref a0, r3)), b0, x3);
            x4 = Simd.Fma(Vector128.Create(a4), b0, x4);
            x5 = Simd.Fma(Vector128.Create(Unsafe.Add(ref a4, r1)), b0, x5);
            x6 = Simd.Fma(Vector128.Create(Unsafe.Add(ref a4, 2 * r1)), b0, x6);
            x7 = Simd.Fma(Vector128.Create(Unsafe.Add(ref a4, r3)), b0, x7);
            a0 = ref Unsafe.Add(ref a0, aStep);
            a4 = ref Unsafe.Add(ref a4, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
        }

        x0.StoreUnsafe(ref c); x1.StoreUnsafe(ref Unsafe.Add(ref c, ldc)); x2.StoreUnsafe(ref Unsafe.Add(ref c, 2 * ldc)); x3.StoreUnsafe(ref Unsafe.Add(ref c, 3 * ldc));
        x4.StoreUnsafe(ref Unsafe.Add(ref c, 4 * ldc)); x5.StoreUnsafe(ref Unsafe.Add(ref c, 5 * ldc)); x6.StoreUnsafe(ref Unsafe.Add(ref c, 6 * ldc)); x7.StoreUnsafe(ref Unsafe.Add(ref c, 7 * ldc));
    }
}
