using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// op(A)·B through panels of B: KCP rows of four 32-column strips of B copied into contiguous panels
// (64 KB), which every 8-row tile of C then reads in order, instead of each tile reading the whole
// KC x NC block of B in place (rows n values apart) from L2.
// And the copies of A's tiles where A is read transposed with rows far apart (PackARows).
public static partial class MatMul
{
    /// <summary>
    /// Whether <see cref="Multiply(Span{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, int, bool)"/>
    /// may copy B into panels (see <see cref="CopiesPanels"/>); tests and benchmarks switch it off to
    /// compare the two forms.
    /// </summary>
    internal static bool MultiplyPanels { get; set; } = true;

    // Copying pays where every 8-row tile would otherwise re-read a block of B of 256 KB or more (KC rows
    // by up to NC columns: the MLP's weight gradient, [128 x 256]ᵀ·[256 x 784], 1.10-1.16x in one process
    // against the form in place) and there are 8 tiles or more to share one copy. With fewer rows, or
    // smaller blocks, it measured 0.67-1.0x (a second layer's weight gradient of 10 rows; the sample
    // CNN's products, whose blocks are 64-288 KB). 512-bit tiles only (the 256-bit path was not measured).
    internal static bool CopiesPanels(int m, int n, int k) =>
        MultiplyPanels && UseVectors && Use512 && m >= 64 && (long)Math.Min(k, KC) * Math.Min(n, NC) >= 1 << 16;

    // C[:, 0..packed) of op(A)·B, A(i, p) = ra[i·rs + p·cs], B and C row-major with n columns: for each
    // block of KCP steps of k and two strips of 32 columns, the strips' rows are copied into panels on the
    // stack and every row tile of C runs over the two (8, then 4, then single rows). Each value is the
    // same chain of fused multiply-adds over k, in order, as in place: the same bits. Returns the columns
    // it wrote (whole strips).
    // Two strips, not four: two panels (2 x 16 KB) and an 8-row tile of A stay in a 48 KB L1 from one row
    // tile to the next, where four (64 KB) were read from L2 by every tile. In one process, alternating
    // blocks, four runs: the MLP's weight gradient ([128 x 256]ᵀ·[256 x 784]) 1.03-1.08x, the GPT's c_proj
    // weight gradient 1.05-1.13x and input gradient 1.03-1.16x; the MLP's step at batch 256 1.02-1.03x (the GPT's
    // step 0.97x and 1.07x: noise around a small share).
    // A depth of 64 gained a few % more on the weight gradients and lost on the input gradient, whose C
    // (1.5 MB) is read and written once per block of k. Not measured on a 32 KB L1 (Zen 4).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MultiplyPanelsCore(ref float rc, ref float ra, int rs, int cs, ref float rb, int m, int n, int k, bool accumulate)
    {
        const int KCP = 128, Strips = 2, Width = 32;
        int packed = n / Width * Width;
        int depth = Math.Min(KCP, k);
        Span<float> panels = stackalloc float[depth * Width * Strips]; // zeroed by the runtime: no larger than needed
        ref float rp = ref MemoryMarshal.GetReference(panels);
        for (int p0 = 0; p0 < k; p0 += KCP)
        {
            int kc = Math.Min(KCP, k - p0);
            int panel = kc * Width;
            bool acc = accumulate || p0 > 0;
            ref float ak = ref Unsafe.Add(ref ra, p0 * cs);
            for (int j0 = 0; j0 < packed; j0 += Width * Strips)
            {
                int strips = Math.Min(Strips, (packed - j0) / Width);
                for (int s = 0; s < strips; s++)
                {
                    ref float dst = ref Unsafe.Add(ref rp, s * panel);
                    ref float src = ref Unsafe.Add(ref rb, (p0 * n) + j0 + (s * Width));
                    for (int p = 0; p < kc; p++)
                    {
                        Vector512.LoadUnsafe(ref src).StoreUnsafe(ref dst);
                        Vector512.LoadUnsafe(ref src, 16).StoreUnsafe(ref dst, 16);
                        src = ref Unsafe.Add(ref src, n);
                        dst = ref Unsafe.Add(ref dst, Width);
                    }
                }

                int i = 0;
                for (; i + 8 <= m; i += 8)
                {
                    ref float ai = ref Unsafe.Add(ref ak, i * rs);
                    for (int s = 0; s < strips; s++)
                    {
                        Outer8x32(ref Unsafe.Add(ref rc, (i * n) + j0 + (s * Width)), n, ref ai, rs, cs, ref Unsafe.Add(ref rp, s * panel), Width, kc, acc);
                    }
                }

                for (; i + 4 <= m; i += 4)
                {
                    ref float ai = ref Unsafe.Add(ref ak, i * rs);
                    for (int s = 0; s < strips; s++)
                    {
                        Outer4x32(ref Unsafe.Add(ref rc, (i * n) + j0 + (s * Width)), n, ref ai, rs, cs, ref Unsafe.Add(ref rp, s * panel), Width, kc, acc);
                    }
                }

                for (; i < m; i++)
                {
                    ref float ai = ref Unsafe.Add(ref ak, i * rs);
                    for (int s = 0; s < strips; s++)
                    {
                        Outer1x32(ref Unsafe.Add(ref rc, (i * n) + j0 + (s * Width)), ref ai, cs, ref Unsafe.Add(ref rp, s * panel), Width, kc, acc);
                    }
                }
            }
        }

        return packed;
    }

    /// <summary>
    /// Whether Multiply copies 8-row tiles of an A read transposed with rows 1,024 values apart or more (see
    /// PackARows): the GPT's output layer weight gradient ([6768 x 768]ᵀ·[768 x 128]) 1.10-1.22x in three runs
    /// of <c>--atiles-ab</c>, its step 1.00-1.02x. Tests and benchmarks switch it off to compare.
    /// </summary>
    internal static bool PackATiles { get; set; } = true;

    [ThreadStatic]
    private static float[]? t_aTile;

    // 8 or 32 rows of A read transposed (A(r, p) = a[r + p·cs]) for kc steps, copied into a per-thread buffer of
    // 8-row tiles, tile t at t·8·kc, 8 values a step, that the tiles then read with strides (1, 8): the same
    // values in the same order, the same bits. 32 rows read two whole cache lines a step where 8 read half of
    // one: the GPT's output layer weight gradient 1.04-1.05x, its step 1.01-1.05x (alternating blocks, two runs).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ref float PackARows(ref float a, int cs, int kc, int rows)
    {
        float[] tile = t_aTile ??= new float[32 * KC];
        ref float dst = ref MemoryMarshal.GetArrayDataReference(tile);
        if (rows == 32)
        {
            nint t1 = 8 * kc, t2 = 16 * kc, t3 = 24 * kc;
            for (int p = 0; p < kc; p++)
            {
                ref float src = ref Unsafe.Add(ref a, (nint)p * cs);
                ref float d = ref Unsafe.Add(ref dst, 8 * p);
                Vector256.LoadUnsafe(ref src).StoreUnsafe(ref d);
                Vector256.LoadUnsafe(ref src, 8).StoreUnsafe(ref Unsafe.Add(ref d, t1));
                Vector256.LoadUnsafe(ref src, 16).StoreUnsafe(ref Unsafe.Add(ref d, t2));
                Vector256.LoadUnsafe(ref src, 24).StoreUnsafe(ref Unsafe.Add(ref d, t3));
            }

            return ref dst;
        }

        for (int p = 0; p < kc; p++)
        {
            Vector256.LoadUnsafe(ref Unsafe.Add(ref a, (nint)p * cs)).StoreUnsafe(ref Unsafe.Add(ref dst, 8 * p));
        }

        return ref dst;
    }
}
