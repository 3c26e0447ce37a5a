using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetGen;

// A·Bᵀ through packed panels: B's rows transposed into contiguous strips that the outer-product
// tiles read as they read a row-major B.
public static partial class MatMul
{
    // C[:, 0..packed) of A·Bᵀ: for each block of KCP steps of k and up to PackedStrips strips of 32 (or 16)
    // columns, B's rows are packed transposed into panels in a per-thread buffer (256 KB or 128 KB: L2), and
    // every row tile of C runs the outer-product kernel over them: 16 FMAs per 2 loads and 8 broadcasts,
    // where the dot-product form needs a horizontal sum per output. Many strips per packing rather than
    // one: each tile of A's rows is then read from L2 once per group of strips (the GPT's output layer
    // re-read its 393 KB input 211 times with one), and C is written in rows of up to 512 columns.
    // Strips of width 32 (512-bit vectors) or 16; with 512-bit vectors a last strip of 16 columns goes through
    // here too (width 16, 8-row tiles of one Vector512 a row) rather than the dot products.
    // descending: with width 32, A's 8-row tiles from the last to the first (see MultiplyTransposedColumns).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MultiplyTransposedPacked(ref float rc, int ldc, ref float ra, ref float rb, int m, int n, int k, bool accumulate, int width, bool descending = false)
    {
        const int KCP = 128;
        int strips0 = PackedStrips;
        int packed = n / width * width;
        int depth = Math.Min(KCP, k);
        // A lone strip of 16 (the last columns, with 512-bit vectors) packs on the stack (8 KB): a thread whose parts
        // of a split product are all that narrow makes no panels, and none that a later, wider product outgrows.
        Span<float> panels = Use512 && width == 16
            ? stackalloc float[KCP * 16]
            : (t_panels is { } tp && tp.Length >= depth * width * strips0 ? tp : t_panels = new float[depth * width * strips0]).AsSpan(0, depth * width * strips0);
        ref float rp = ref MemoryMarshal.GetReference(panels);
        for (int p0 = 0; p0 < k; p0 += KCP)
        {
            int kc = Math.Min(KCP, k - p0);
            int panel = kc * width;
            bool acc = accumulate || p0 > 0;
            for (int j0 = 0; j0 < packed; j0 += width * strips0)
            {
                int strips = Math.Min(strips0, (packed - j0) / width);
                for (int s = 0; s < strips; s++)
                {
                    PackTransposed(ref Unsafe.Add(ref rp, s * panel), width, ref Unsafe.Add(ref rb, ((j0 + (s * width)) * k) + p0), k, kc);
                }

                int i = 0;
                if (width == 32)
                {
                    bool down = descending && m % 8 == 0; // the same tiles from the other end: each is its own, the same bits
                    for (; i + 8 <= m; i += 8)
                    {
                        int r = down ? m - 8 - i : i; // the tile's first row
                        ref float ai = ref Unsafe.Add(ref ra, (r * k) + p0);
                        for (int s = 0; s < strips; s++)
                        {
                            Outer8x32(ref Unsafe.Add(ref rc, (r * ldc) + j0 + (s * width)), ldc, ref ai, k, 1, ref Unsafe.Add(ref rp, s * panel), 32, kc, acc);
                        }
                    }
                }
                else if (Use512)
                {
                    for (; i + 8 <= m; i += 8)
                    {
                        ref float ai = ref Unsafe.Add(ref ra, (i * k) + p0);
                        for (int s = 0; s < strips; s++)
                        {
                            Outer8x16(ref Unsafe.Add(ref rc, (i * ldc) + j0 + (s * width)), ldc, ref ai, k, 1, ref Unsafe.Add(ref rp, s * panel), 16, kc, acc);
                        }
                    }
                }
                else
                {
                    for (; i + 6 <= m; i += 6)
                    {
                        ref float ai = ref Unsafe.Add(ref ra, (i * k) + p0);
                        for (int s = 0; s < strips; s++)
                        {
                            Outer6x16(ref Unsafe.Add(ref rc, (i * ldc) + j0 + (s * width)), ldc, ref ai, k, 1, ref Unsafe.Add(ref rp, s * panel), 16, kc, acc);
                        }
                    }
                }

                for (; i + 4 <= m; i += 4)
                {
                    ref float ai = ref Unsafe.Add(ref ra, (i * k) + p0);
                    for (int s = 0; s < strips; s++)
                    {
                        ref float ci = ref Unsafe.Add(ref rc, (i * ldc) + j0 + (s * width));
                        if (width == 32)
                        {
                            Outer4x32(ref ci, ldc, ref ai, k, 1, ref Unsafe.Add(ref rp, s * panel), 32, kc, acc);
                        }
                        else
                        {
                            Outer4x16(ref ci, ldc, ref ai, k, 1, ref Unsafe.Add(ref rp, s * panel), 16, kc, acc);
                        }
                    }
                }

                for (; i < m; i++)
                {
                    ref float ai = ref Unsafe.Add(ref ra, (i * k) + p0);
                    for (int s = 0; s < strips; s++)
                    {
                        ref float ci = ref Unsafe.Add(ref rc, (i * ldc) + j0 + (s * width));
                        if (width == 32)
                        {
                            Outer1x32(ref ci, ref ai, 1, ref Unsafe.Add(ref rp, s * panel), 32, kc, acc);
                        }
                        else
                        {
                            Outer1x16(ref ci, ref ai, 1, ref Unsafe.Add(ref rp, s * panel), 16, kc, acc);
                        }
                    }
                }
            }
        }

        return packed; // k > 0 here: the caller takes this path only with vectors, k ≥ 8
    }

    /// <summary>
    /// The strips of B that A·Bᵀ packs at a time (MultiplyTransposedPacked): 16, 256 KB of panels. The GPT's
    /// output layer forward ([768 x 128]·[6768 x 128]ᵀ) 1.45x against 4 (64 KB, the stack's), its training
    /// step 1.08x; products of 128 columns or fewer are the same. Benchmarks set 4 to compare.
    /// </summary>
    internal static int PackedStrips { get; set; } = 16;

    // The panels, made once per thread (too large for the stack of a pool thread).
    [ThreadStatic]
    private static float[]? t_panels;

    /// <summary>
    /// Whether A·Bᵀ with fewer rows in A than in B is computed as Cᵀ = B·Aᵀ (see
    /// <see cref="MultiplyTransposedSwapped"/>); tests switch it off to compare the two forms.
    /// </summary>
    internal static bool SwapOperands { get; set; } = true;

    // The largest C computed through its transpose: 32K values, a 128 KB buffer per thread.
    private const int MaxSwappedValues = 1 << 15;

    [ThreadStatic]
    private static float[]? t_swapped;

    // C = A·Bᵀ when A has fewer rows than B (a dense layer's forward pass at a small batch: 32 x 784 against
    // 128 x 784): the packing transposes the operand whose rows are the columns of the product, so packing
    // A instead of B, as Cᵀ = B·Aᵀ, packs a quarter of the values there (100 KB against 400 KB a step). Rows
    // and columns are whole tiles both ways (multiples of 32, or 16 without 512-bit vectors), so every value
    // is the same chain of fused multiply-adds over k in the same order as without the swap: the same bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTransposedSwapped(ref float rc, int ldc, ref float ra, ref float rb, int m, int n, int k, bool accumulate, bool descending = false)
    {
        float[] buffer = t_swapped ??= new float[MaxSwappedValues];
        ref float rt = ref MemoryMarshal.GetArrayDataReference(buffer);
        if (accumulate)
        {
            for (int i = 0; i < m; i += 8)
            {
                for (int j = 0; j < n; j += 8)
                {
                    Transpose8x8(ref Unsafe.Add(ref rc, (i * ldc) + j), ldc, ref Unsafe.Add(ref rt, (j * m) + i), m);
                }
            }
        }

        MultiplyTransposedPacked(ref rt, m, ref rb, ref ra, n, m, k, accumulate, Use512 ? 32 : 16, descending);
        for (int j = 0; j < n; j += 8)
        {
            for (int i = 0; i < m; i += 8)
            {
                Transpose8x8(ref Unsafe.Add(ref rt, (j * m) + i), m, ref Unsafe.Add(ref rc, (i * ldc) + j), ldc);
            }
        }
    }

    // panel[p·width + q] = b[q·k + p] for q < width, p < kc: a [width, kc] block of B's rows written
    // transposed. 8x8 blocks by AVX shuffles where available (a scalar copy per value cost about 1 ns,
    // as much as the products it fed when A has few rows: 784-wide weights, batch 32).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(ref float panel, int width, ref float b, int k, int kc)
    {
        int p = 0;
        if (Avx.IsSupported && UseVectors)
        {
            for (; p + 8 <= kc; p += 8)
            {
                for (int q = 0; q < width; q += 8)
                {
                    Transpose8x8(ref Unsafe.Add(ref b, (q * k) + p), k, ref Unsafe.Add(ref panel, (p * width) + q), width);
                }
            }
        }

        for (int q = 0; q < width; q++)
        {
            ref float row = ref Unsafe.Add(ref b, q * k);
            for (int t = p; t < kc; t++)
            {
                Unsafe.Add(ref panel, (t * width) + q) = Unsafe.Add(ref row, t);
            }
        }
    }

    // dst[i·dstStride + r] = src[r·srcStride + i] for an 8x8 block: unpack pairs of rows, shuffle pairs
    // of pairs, then swap 128-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref float src, nint srcStride, ref float dst, nint dstStride)
    {
        var r0 = Vector256.LoadUnsafe(ref src);
        var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, srcStride));
        var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 2 * srcStride));
        var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 3 * srcStride));
        var r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 4 * srcStride));
        var r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 5 * srcStride));
        var r6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 6 * srcStride));
        var r7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 7 * srcStride));
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(s0, s4, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(s1, s5, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, dstStride));
        Avx.Permute2x128(s2, s6, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 2 * dstStride));
        Avx.Permute2x128(s3, s7, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 3 * dstStride));
        Avx.Permute2x128(s0, s4, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 4 * dstStride));
        Avx.Permute2x128(s1, s5, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 5 * dstStride));
        Avx.Permute2x128(s2, s6, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 6 * dstStride));
        Avx.Permute2x128(s3, s7, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 7 * dstStride));
    }
}
