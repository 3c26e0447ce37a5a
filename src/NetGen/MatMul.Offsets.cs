using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// The 8 x 32 register tile of Vector512 with B's rows where a table says: step p of k reads B's row at
// b[offsets[p]], not at b[p·ldb]. A stride-1 convolution reads its input through it without unfolding
// it (ConvKernels.Implicit.cs): the patch matrix's row for tap (c, ki, kj) is the zero-padded input
// itself from one offset on.
public static partial class MatMul
{
    // C(i, j) = Σ_p A(i, p)·B(p, j) over the 8 rows and 32 columns, written (not added to): a is A(0, 0)
    // with rows rs apart and contiguous steps; the same chain of fused multiply-adds over k, in order
    // from zero, as Outer8x32, so the same bits as a product of the unfolded matrix.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Outer8x32Offsets(ref float c, int ldc, ref float a, int rs, ref float b, ref int offsets, int k)
    {
        int w = Vector512<float>.Count;
        Vector512<float> x00, x01, x10, x11, x20, x21, x30, x31, x40, x41, x50, x51, x60, x61, x70, x71;
        x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector512<float>.Zero;
        x40 = x41 = x50 = x51 = x60 = x61 = x70 = x71 = Vector512<float>.Zero;
        nint r1 = rs, r3 = 3 * (nint)rs;
        ref float a0 = ref a;
        ref float a4 = ref Unsafe.Add(ref a, 4 * r1);
        for (int p = 0; p < k; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, Unsafe.Add(ref offsets, p));
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
            a0 = ref Unsafe.Add(ref a0, 1);
            a4 = ref Unsafe.Add(ref a4, 1);
        }

        ref float c0 = ref c;
        x00.StoreUnsafe(ref c0); x01.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x10.StoreUnsafe(ref c0); x11.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x20.StoreUnsafe(ref c0); x21.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x30.StoreUnsafe(ref c0); x31.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x40.StoreUnsafe(ref c0); x41.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x50.StoreUnsafe(ref c0); x51.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x60.StoreUnsafe(ref c0); x61.StoreUnsafe(ref c0, (nuint)w);
        c0 = ref Unsafe.Add(ref c0, ldc);
        x70.StoreUnsafe(ref c0); x71.StoreUnsafe(ref c0, (nuint)w);
    }
}
