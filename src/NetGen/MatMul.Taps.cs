using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// A·Bᵀ where A's row i is the zero-padded input of a stride-1 convolution from tap i's offset on: the weight
// gradient dWᵀ = patches·dYᵀ without writing the patch matrix (im2col). Position (y, x) of the output, taken
// in rows of `cols`, reads A(i, ·) at a[offsets[i] + y·rowStride + x] and B(j, ·) at b[j·rows·cols + y·cols + x].
public static partial class MatMul
{
    [ThreadStatic]
    private static float[]? t_tapPanel;

    /// <summary>
    /// C(i, j) (+)= Σ over the rows·cols positions of a[offsets[i] + y·rowStride + x]·B(j, y·cols + x), C m x n
    /// with rows ldc apart, m a multiple of 8 and n of 32, 512-bit vectors: B's 32-row strips packed into
    /// panels of 32 values a position (as <see cref="MultiplyTransposedPacked"/> packs them), then 8 x 32 tiles.
    /// Each value gets one fused multiply-add chain over the positions in order, from zero or from C's value:
    /// the bits of the packed product of the unfolded matrix (whose k blocks continue the same chain).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MultiplyTransposedTaps(ref float c, int ldc, ref float a, ReadOnlySpan<int> offsets, int rowStride, int rows, int cols, ref float b, int m, int n, bool accumulate)
    {
        int k = rows * cols;
        float[] panel = t_tapPanel is { } p && p.Length >= k * 32 ? p : t_tapPanel = new float[k * 32];
        ref float rp = ref MemoryMarshal.GetArrayDataReference(panel);
        ref int ro = ref MemoryMarshal.GetReference(offsets);
        for (int j = 0; j < n; j += 32)
        {
            PackTransposed(ref rp, 32, ref Unsafe.Add(ref b, j * k), k, k);
            for (int i = 0; i < m; i += 8)
            {
                Outer8x32Taps(ref Unsafe.Add(ref c, (i * ldc) + j), ldc, ref a, ref Unsafe.Add(ref ro, i), rowStride, rows, cols, ref rp, accumulate);
            }
        }
    }

    // The 8 x 32 tile of the product above: rows i of A at a + offsets[i], the positions row by row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outer8x32Taps(ref float c, int ldc, ref float a, ref int offsets, int rowStride, int rows, int cols, ref float b, bool accumulate)
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

        // Row 0's offset folded into the base; the other seven native-sized loop invariants, so that a step is
        // the 16 multiply-adds, their 10 loads and two pointer increments (as in Outer8x32).
        int first = offsets;
        nint o1 = Unsafe.Add(ref offsets, 1) - first, o2 = Unsafe.Add(ref offsets, 2) - first, o3 = Unsafe.Add(ref offsets, 3) - first;
        nint o4 = Unsafe.Add(ref offsets, 4) - first, o5 = Unsafe.Add(ref offsets, 5) - first, o6 = Unsafe.Add(ref offsets, 6) - first;
        nint o7 = Unsafe.Add(ref offsets, 7) - first;
        ref float bp = ref b;
        for (int y = 0; y < rows; y++)
        {
            ref float ap = ref Unsafe.Add(ref a, first + ((nint)y * rowStride));
            for (int x = 0; x < cols; x++)
            {
                var b0 = Vector512.LoadUnsafe(ref bp);
                var b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
                var v = Vector512.Create(ap);
                x00 = Simd.Fma(v, b0, x00);
                x01 = Simd.Fma(v, b1, x01);
                v = Vector512.Create(Unsafe.Add(ref ap, o1));
                x10 = Simd.Fma(v, b0, x10);
                x11 = Simd.Fma(v, b1, x11);
                v = Vector512.Create(Unsafe.Add(ref ap, o2));
                x20 = Simd.Fma(v, b0, x20);
                x21 = Simd.Fma(v, b1, x21);
                v = Vector512.Create(Unsafe.Add(ref ap, o3));
                x30 = Simd.Fma(v, b0, x30);
                x31 = Simd.Fma(v, b1, x31);
                v = Vector512.Create(Unsafe.Add(ref ap, o4));
                x40 = Simd.Fma(v, b0, x40);
                x41 = Simd.Fma(v, b1, x41);
                v = Vector512.Create(Unsafe.Add(ref ap, o5));
                x50 = Simd.Fma(v, b0, x50);
                x51 = Simd.Fma(v, b1, x51);
                v = Vector512.Create(Unsafe.Add(ref ap, o6));
                x60 = Simd.Fma(v, b0, x60);
                x61 = Simd.Fma(v, b1, x61);
                v = Vector512.Create(Unsafe.Add(ref ap, o7));
                x70 = Simd.Fma(v, b0, x70);
                x71 = Simd.Fma(v, b1, x71);
                ap = ref Unsafe.Add(ref ap, 1);
                bp = ref Unsafe.Add(ref bp, 32);
            }
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
}
