using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetGen;

/// <summary>
/// Register-blocked SIMD matrix products on row-major <see cref="float"/> matrices, with no
/// native dependency. Two shapes cover dense layers (and later im2col convolution):
/// <list type="bullet">
/// <item><see cref="MultiplyTransposed(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, bool)"/>: <c>C = A·Bᵀ</c>, both operands read along their rows
/// (a forward pass, <c>x·Wᵀ</c>): with four rows or more, B is packed transposed into small panels
/// and multiplied in outer-product form; single rows (generation) take dot products.</item>
/// <item><see cref="Multiply(Span{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, int, bool)"/>: <c>C = op(A)·B</c> where <c>op(A)</c> is A or Aᵀ given by strides
/// (outer-product form, vectorised along the rows of B and C, blocked for the cache; the backward pass).</item>
/// </list>
/// Each has an overload with a thread count that splits one product across the process's pool
/// (MatMul.Threads.cs), with the same bits as on one thread.
/// Both use 4x32 tiles of <see cref="Vector512{T}"/> where AVX-512 is accelerated, 4x16 tiles of
/// <see cref="Vector256{T}"/> otherwise, and scalar code without either (the tests force each path
/// in turn and check it against the same references).
/// The kernels are marked AggressiveOptimization: compiled fully optimised on first use rather
/// than starting as unoptimised tier-0 code, which runs vector code about ten times slower and,
/// for loops, stays in use until on-stack replacement (measured: 4.6 against 53 GFLOPS).
/// </summary>
public static partial class MatMul
{
    // Cache blocking (see Multiply): a block of B is KC rows by NC columns.
    private const int KC = 256;
    private const int NC = 512;

    /// <summary>
    /// Whether the vector paths may be used. True when 256-bit vectors are hardware accelerated;
    /// tests set it to false to check the scalar path against the same references. Internal: a
    /// process-wide switch is not something a library should offer its users.
    /// </summary>
    internal static bool UseVectors { get; set; } = Vector256.IsHardwareAccelerated;

    /// <summary>
    /// Whether the 32-column tiles with 512-bit vectors are used (with <see cref="UseVectors"/>):
    /// where <see cref="Vector512"/> is hardware accelerated (AVX-512). Tests switch it off to check
    /// the 256-bit tiles on the same machine.
    /// </summary>
    internal static bool Use512 { get; set; } = Vector512.IsHardwareAccelerated;

    /// <summary>
    /// <c>C[m, n] (+)= Σ_p A[m, p] · B[n, p]</c>: A is <c>[m, k]</c>, B is <c>[n, k]</c>, C is <c>[m, n]</c>.
    /// </summary>
    /// <param name="c">The result, <c>m·n</c> values.</param>
    /// <param name="a">Left operand, <c>m·k</c> values.</param>
    /// <param name="b">Right operand, read transposed, <c>n·k</c> values.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">Shared inner dimension.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyTransposed(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, bool accumulate)
    {
        CheckTransposed(c.Length, a.Length, b.Length, m, n, k);

        MultiplyTransposedCore(ref MemoryMarshal.GetReference(c), n, ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), m, n, k, accumulate);
    }

    // C = A·Bᵀ into rows ldc apart: the public method's work, and each part's when a product is split
    // across threads (ProductSplit: B's rows and C's columns offset, ldc the whole row; or A's and C's rows).
    // A part never takes the wide dot products, which depend on its shape: a product that takes them whole
    // is not split (TransposedSplit), so that every part computes its values as the whole product would.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MultiplyTransposedCore(ref float rc, int ldc, ref float ra, ref float rb, int m, int n, int k, bool accumulate, bool part = false, bool descending = false)
    {
        bool vectors = UseVectors && k >= Vector256<float>.Count;
        if (!part && TakesDots(m, n, k))
        {
            MultiplyTransposedWideDots(ref rc, ldc, ref ra, ref rb, m, n, k, accumulate);
            return;
        }

        if (vectors && Avx.IsSupported && SwapOperands && m < n && (long)m * n <= MaxSwappedValues && m % (Use512 ? 32 : 16) == 0 && n % (Use512 ? 32 : 16) == 0)
        {
            MultiplyTransposedSwapped(ref rc, ldc, ref ra, ref rb, m, n, k, accumulate, descending);
            return;
        }

        // Eight rows or more (four with k below 128): the columns in strips of 32 (16 without 512-bit vectors)
        // go through the outer-product kernel on a packed, transposed panel of B (no horizontal sums), then with
        // 512-bit vectors a last 16 the same way (a convolution of 16 filters' weight gradient, a 784-wide
        // layer); the rest by dot products below.
        int first = 0;
        if (vectors && m >= 4 && !(FewRowsByDots && m < 8 && k >= 128))
        {
            int width = Use512 ? 32 : 16;
            first = n >= width ? MultiplyTransposedPacked(ref rc, ldc, ref ra, ref rb, m, n, k, accumulate, width) : 0;
            if (Use512 && PackLast16 && n - first >= 16)
            {
                first += MultiplyTransposedPacked(ref Unsafe.Add(ref rc, first), ldc, ref ra, ref Unsafe.Add(ref rb, first * k), m, 16, k, accumulate, 16);
            }
        }

        DotRows(ref rc, ldc, ref ra, ref rb, m, first, n, k, accumulate, vectors);
    }

    /// <summary>
    /// <c>C[m, n] (+)= Σ_p A(i, p) · B[p, n]</c>, where <c>A(i, p) = a[i·aRowStride + p·aColStride]</c>:
    /// with strides <c>(k, 1)</c> A is a row-major <c>[m, k]</c> matrix; with <c>(1, m)</c> it is the
    /// transpose of a row-major <c>[k, m]</c> matrix. B is <c>[k, n]</c>, C is <c>[m, n]</c>.
    /// </summary>
    /// <param name="c">The result, <c>m·n</c> values.</param>
    /// <param name="a">Left operand, read through the strides.</param>
    /// <param name="aRowStride">Distance in <paramref name="a"/> between A(i, p) and A(i + 1, p).</param>
    /// <param name="aColStride">Distance in <paramref name="a"/> between A(i, p) and A(i, p + 1).</param>
    /// <param name="b">Right operand, <c>k·n</c> values.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Shared inner dimension.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(Span<float> c, ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int m, int n, int k, bool accumulate)
    {
        CheckStrided(c.Length, a.Length, aRowStride, aColStride, b.Length, m, n, k);

        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        if (k == 0)
        {
            if (!accumulate)
            {
                c.Slice(0, m * n).Clear();
            }

            return;
        }

        // Blocked over k (KC) and over the columns (NC), so that the block of B that every 4-row
        // tile of C reads (KC·NC values, 512 KB) stays in the L2 cache while A's rows stream past,
        // instead of B (or, read transposed, A) being fetched from memory again for every column
        // block. Measured on the backward pass of the GPT sample's output layer (768 rows, 128 ->
        // 6,768), runs of the old and new code interleaved on one machine: 165 -> 63 ms (2.6x).
        // The columns in whole 32-wide strips through panels where that pays (MatMul.Panels.cs), the rest here.
        int first = CopiesPanels(m, n, k) ? MultiplyPanelsCore(ref rc, ref ra, aRowStride, aColStride, ref rb, m, n, k, accumulate) : 0;
        for (int p0 = 0; p0 < k && first < n; p0 += KC)
        {
            int kc = Math.Min(KC, k - p0);
            bool acc = accumulate || p0 > 0;
            ref float ak = ref Unsafe.Add(ref ra, p0 * aColStride);
            ref float bk = ref Unsafe.Add(ref rb, p0 * n);
            for (int j0 = first; j0 < n; j0 += NC)
            {
                int end = Math.Min(n, j0 + NC);
                int j = j0;
                if (UseVectors)
                {
                    // 32-column tiles with 512-bit vectors where accelerated, then 16-column tiles.
                    int end32 = Use512 ? j0 + ((end - j0) / 32 * 32) : j0;
                    int end16 = end32 + ((end - end32) / 16 * 16);
                    int i = 0;
                    if (Use512)
                    {
                        // Eight rows at a time: 16 accumulators, enough products in flight to cover the FMA
                        // latency on two ports (the 4-row tile's 8 are not).
                        // A read transposed with rows far apart (a weight gradient dYᵀ·X with thousands of
                        // outputs: each step of k a page of its own) is copied 32 rows (four tiles) at a time,
                        // then a tile at a time, when two strips or more share the copy (PackARows).
                        bool packA = PackATiles && aRowStride == 1 && aColStride >= 1024 && end32 - j0 >= 64;
                        if (StripsOuter && !packA && m >= 16 && kc >= 64 && m * kc <= 6144)
                        {
                            // A's block fits in L1 beside a strip of B (a convolution's filters against one
                            // sample's patch matrix: 32 x 144 by 144 x 196): each strip of B is read from L2
                            // once and used by every row tile, rather than re-read by each. The same tiles,
                            // in another order: the same bits.
                            int m8 = m / 8 * 8;
                            for (int jj = j0; jj < end32; jj += 32)
                            {
                                for (int i8 = 0; i8 < m8; i8 += 8)
                                {
                                    Outer8x32(ref Unsafe.Add(ref rc, (i8 * n) + jj), n, ref Unsafe.Add(ref ak, i8 * aRowStride), aRowStride, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                                }
                            }

                            for (int jj = end32; jj < end16; jj += 16)
                            {
                                for (int i8 = 0; i8 < m8; i8 += 8)
                                {
                                    Outer8x16(ref Unsafe.Add(ref rc, (i8 * n) + jj), n, ref Unsafe.Add(ref ak, i8 * aRowStride), aRowStride, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                                }
                            }

                            i = m8;
                        }

                        ref float group = ref Unsafe.NullRef<float>();
                        int groupFrom = 0, groupRows = 0;
                        for (; i + 8 <= m; i += 8)
                        {
                            ref float ai = ref Unsafe.Add(ref ak, i * aRowStride);
                            int rs = aRowStride, cs = aColStride;
                            if (packA)
                            {
                                if (i >= groupFrom + groupRows)
                                {
                                    groupRows = m - i >= 32 ? 32 : 8;
                                    groupFrom = i;
                                    group = ref PackARows(ref ai, aColStride, kc, groupRows);
                                }

                                ai = ref Unsafe.Add(ref group, (i - groupFrom) * kc);
                                (rs, cs) = (1, 8);
                            }

                            for (int jj = j0; jj < end32; jj += 32)
                            {
                                Outer8x32(ref Unsafe.Add(ref rc, (i * n) + jj), n, ref ai, rs, cs, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                            }

                            for (int jj = end32; jj < end16; jj += 16)
                            {
                                Outer8x16(ref Unsafe.Add(ref rc, (i * n) + jj), n, ref ai, rs, cs, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                            }
                        }
                    }
                    else
                    {
                        // Without 512-bit vectors: six rows of 16 columns (12 accumulators).
                        for (; i + 6 <= m; i += 6)
                        {
                            ref float ai = ref Unsafe.Add(ref ak, i * aRowStride);
                            for (int jj = end32; jj < end16; jj += 16)
                            {
                                Outer6x16(ref Unsafe.Add(ref rc, (i * n) + jj), n, ref ai, aRowStride, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                            }
                        }
                    }

                    for (; i + 4 <= m; i += 4)
                    {
                        ref float ai = ref Unsafe.Add(ref ak, i * aRowStride);
                        for (int jj = j0; jj < end32; jj += 32)
                        {
                            Outer4x32(ref Unsafe.Add(ref rc, (i * n) + jj), n, ref ai, aRowStride, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                        }

                        for (int jj = end32; jj < end16; jj += 16)
                        {
                            Outer4x16(ref Unsafe.Add(ref rc, (i * n) + jj), n, ref ai, aRowStride, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                        }
                    }

                    for (; i < m; i++)
                    {
                        ref float ai = ref Unsafe.Add(ref ak, i * aRowStride);
                        for (int jj = j0; jj < end32; jj += 32)
                        {
                            Outer1x32(ref Unsafe.Add(ref rc, (i * n) + jj), ref ai, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                        }

                        for (int jj = end32; jj < end16; jj += 16)
                        {
                            Outer1x16(ref Unsafe.Add(ref rc, (i * n) + jj), ref ai, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                        }
                    }

                    j = end16;

                    // Then 8 columns and 4 columns, if that many remain: 8-row tiles, then a row at a time.
                    if (j + 8 <= end)
                    {
                        for (i = 0; i + 8 <= m; i += 8)
                        {
                            Outer8x8(ref Unsafe.Add(ref rc, (i * n) + j), n, ref Unsafe.Add(ref ak, i * aRowStride), aRowStride, aColStride, ref Unsafe.Add(ref bk, j), n, kc, acc);
                        }

                        for (; i < m; i++)
                        {
                            ref float c0 = ref Unsafe.Add(ref rc, (i * n) + j);
                            Vector256<float> x0 = acc ? Vector256.LoadUnsafe(ref c0) : Vector256<float>.Zero;
                            ref float ai = ref Unsafe.Add(ref ak, i * aRowStride);
                            ref float bj = ref Unsafe.Add(ref bk, j);
                            for (int p = 0; p < kc; p++)
                            {
                                x0 = Simd.Fma(Vector256.Create(Unsafe.Add(ref ai, p * aColStride)), Vector256.LoadUnsafe(ref Unsafe.Add(ref bj, p * n)), x0);
                            }

                            x0.StoreUnsafe(ref c0);
                        }

                        j += 8;
                    }

                    if (j + 4 <= end && Vector128.IsHardwareAccelerated)
                    {
                        for (i = 0; i + 8 <= m; i += 8)
                        {
                            Outer8x4(ref Unsafe.Add(ref rc, (i * n) + j), n, ref Unsafe.Add(ref ak, i * aRowStride), aRowStride, aColStride, ref Unsafe.Add(ref bk, j), n, kc, acc);
                        }

                        for (; i < m; i++)
                        {
                            ref float c0 = ref Unsafe.Add(ref rc, (i * n) + j);
                            Vector128<float> x0 = acc ? Vector128.LoadUnsafe(ref c0) : Vector128<float>.Zero;
                            ref float ai = ref Unsafe.Add(ref ak, i * aRowStride);
                            ref float bj = ref Unsafe.Add(ref bk, j);
                            for (int p = 0; p < kc; p++)
                            {
                                x0 = Simd.Fma(Vector128.Create(Unsafe.Add(ref ai, p * aColStride)), Vector128.LoadUnsafe(ref Unsafe.Add(ref bj, p * n)), x0);
                            }

                            x0.StoreUnsafe(ref c0);
                        }

                        j += 4;
                    }
                }

                // Remaining columns (fewer than 4, or all of them on the scalar path): eight rows' sums at a time,
                // each the chain of products and additions it is alone (the same bits), interleaved so that their
                // additions' latency overlaps rather than one chain waiting on each: a 13x13 convolution's product
                // ([64 x 288]·[288 x 169]) 121 -> 102-104 µs, a 15x15 one's input gradient ([144 x 32]·[32 x 225])
                // 35.0-36.7 -> 28.8-33.4 µs (alternating processes, two runs).
                int i0 = 0;
                for (; i0 + 8 <= m && j < end; i0 += 8)
                {
                    for (int jj = j; jj < end; jj++)
                    {
                        ScalarColumn8(ref Unsafe.Add(ref rc, (i0 * n) + jj), n, ref Unsafe.Add(ref ak, i0 * aRowStride), aRowStride, aColStride, ref Unsafe.Add(ref bk, jj), n, kc, acc);
                    }
                }

                for (int i = i0; i < m; i++)
                {
                    for (int jj = j; jj < end; jj++)
                    {
                        float sum = 0f;
                        for (int p = 0; p < kc; p++)
                        {
                            sum += Unsafe.Add(ref ak, i * aRowStride + p * aColStride) * Unsafe.Add(ref bk, p * n + jj);
                        }

                        DotStore(ref rc, i * n + jj, sum, acc);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Whether A·Bᵀ with 512-bit vectors packs a last strip of 16 columns (else dot products compute them): a
    /// 16-filter weight gradient ([144 x 256]·[16 x 256]ᵀ) 1.97-2.25x, 48 columns 1.31-1.35x, others 0.98-1.02x
    /// (alternating blocks, two runs). A switch so that one process can time both forms.
    /// </summary>
    internal static bool PackLast16 { get; set; } = true;

    // A·Bᵀ of 4 to 7 rows and k of 128 or more by dot products, B read in place, rather than packed: packing B
    // (a layer's whole weight at a batch of 4 to 7) costs more than the few row tiles that would use the panels
    // gain (the MLP's SGD step at batch 4: 1.12-1.24x, at 6: 1.16-1.29x, alternating blocks, session 20). With
    // k below 128 each value's horizontal sum would weigh more. A property: benchmarks compare the two.
    internal static bool FewRowsByDots { get; set; } = true;

    /// <summary>
    /// Whether Multiply runs the strips of B outermost where A's block fits in L1 beside one: a convolution's
    /// product for one sample ([32 x 144]·[144 x 196]) 1.06-1.09x, [32 x 144]·[144 x 144] 1.07-1.16x (alternating
    /// blocks, three runs). A switch so that one process can time both forms.
    /// </summary>
    internal static bool StripsOuter { get; set; } = true;
}
