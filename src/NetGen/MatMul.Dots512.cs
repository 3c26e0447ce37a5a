using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// A·Bᵀ by 512-bit dot products for a product with few rows and long rows: the weight gradient of a first
// convolution (A the patch matrix, 9 rows for a 3x3 kernel on one channel; B the output gradient, 16 filters'
// rows of 784 positions a sample). There the packed path spends most of its time transposing B into panels (its
// n·k values, against m·n·k/32 cycles of products: 3.5 times the products at m = 9); the dot products read both
// operands where they lie. Three rows of A against eight of B: 24 accumulators, 11 loads for 24 multiply-adds
// (3x4 blocks, 7 loads for 12, ran at about 45 % of the FMA peak and 3x8 at about 55 %, as if this core loaded
// 64 bytes a cycle against two multiply-adds: 64 samples of the weight gradient 1.06-1.09x). k goes in chunks
// of 4 KB a row with the accumulators kept between them, so that a chunk of every row stays in L2. Every value
// is one accumulator's sum over k in steps of 16, its 16 lanes added by Vector512.Sum, then the last k mod 16
// products added one by one: a value's bits do not depend on which block it falls in.
public static partial class MatMul
{
    /// <summary>Whether A·Bᵀ with few rows and long rows takes the 512-bit dot products (a switch for benchmarks).</summary>
    internal static bool DotFewRows { get; set; } = true;

    // Products with 3, 6, 9, 12 or 15 rows of A, 8 to 64 rows of B in 8s, and k of 512 and at least 64 times the
    // rows of A: where the dot products' horizontal sums (m·n of them) cost little against transposing B (n·k
    // values), and the 3x8 blocks leave nothing over. Against the packed product (--dots-chunks, alternating):
    // 9 x 16 over 784 1.23x, 15 x 64 over 1,024 1.34x; outside the rule 8 x 64 over 784 0.64x (two rows left over,
    // a value at a time), 3 x 64 over 200 0.81x, 12 x 10 over 800 0.96x.
    private static bool TakesWideDots(int m, int n, int k) =>
        DotFewRows && UseVectors && Use512 && m >= 3 && m < 16 && m % 3 == 0 && n >= 8 && n <= 64 && n % 8 == 0 && k >= Math.Max(512, 64 * m);

    // Steps of k per pass over the blocks: 4 KB of each row, so that a pass's rows (100 KB at 9 + 16 rows) stay in L2
    // while each is read by several blocks (9 x 16 over 12,544: 1.03-1.19x against one pass; 256 and 512 no
    // better). A property: benchmarks compare others.
    internal static int WideDotsChunk { get; set; } = 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTransposedWideDots(ref float c, int ldc, ref float a, ref float b, int m, int n, int k, bool accumulate)
    {
        int blocks = (m / 3) * (n / 8);
        // The 3x8 blocks' accumulators, kept between passes over k in chunks (at most 5 x 8 blocks of 24: 61 KB).
        Span<Vector512<float>> lanes = stackalloc Vector512<float>[blocks * 24];
        lanes.Clear();
        int steps = k - (k % 16);
        for (int p0 = 0; p0 < steps; p0 += WideDotsChunk)
        {
            int end = Math.Min(steps, p0 + WideDotsChunk);
            for (int i = 0, block = 0; i < m; i += 3)
            {
                for (int j = 0; j < n; j += 8, block++)
                {
                    Dot3x8Wide(lanes.Slice(block * 24, 24), ref a, ref b, i, j, k, p0, end);
                }
            }
        }

        for (int i = 0, block = 0; i < m; i += 3)
        {
            for (int j = 0; j < n; j += 8, block++)
            {
                for (int r = 0; r < 24; r++)
                {
                    int row = i + (r / 8), column = j + (r % 8);
                    DotStore(ref c, (row * ldc) + column, Finish(lanes[(block * 24) + r], ref Unsafe.Add(ref a, row * k), ref Unsafe.Add(ref b, column * k), steps, k), accumulate);
                }
            }
        }
    }

    // Steps [p0, end) of k (multiples of 16) of three rows of A (from i) against eight of B (from j), added to the
    // block's 24 accumulators: row r of A and row s of B in lanes[8·r + s]. Each B vector is loaded once and
    // multiplied into three accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot3x8Wide(Span<Vector512<float>> lanes, ref float a, ref float b, int i, int j, int k, int p0, int end)
    {
        ref float a0 = ref Unsafe.Add(ref a, i * k);
        ref float a1 = ref Unsafe.Add(ref a0, k);
        ref float a2 = ref Unsafe.Add(ref a1, k);
        ref float b0 = ref Unsafe.Add(ref b, j * k);
        Vector512<float> c00 = lanes[0], c01 = lanes[1], c02 = lanes[2], c03 = lanes[3], c04 = lanes[4], c05 = lanes[5], c06 = lanes[6], c07 = lanes[7];
        Vector512<float> c10 = lanes[8], c11 = lanes[9], c12 = lanes[10], c13 = lanes[11], c14 = lanes[12], c15 = lanes[13], c16 = lanes[14], c17 = lanes[15];
        Vector512<float> c20 = lanes[16], c21 = lanes[17], c22 = lanes[18], c23 = lanes[19], c24 = lanes[20], c25 = lanes[21], c26 = lanes[22], c27 = lanes[23];
        for (int p = p0; p < end; p += 16)
        {
            Vector512<float> va0 = Vector512.LoadUnsafe(ref a0, (nuint)p), va1 = Vector512.LoadUnsafe(ref a1, (nuint)p), va2 = Vector512.LoadUnsafe(ref a2, (nuint)p);
            Vector512<float> vb = Vector512.LoadUnsafe(ref b0, (nuint)p);
            c00 = Simd.Fma(va0, vb, c00);
            c10 = Simd.Fma(va1, vb, c10);
            c20 = Simd.Fma(va2, vb, c20);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)(k + p));
            c01 = Simd.Fma(va0, vb, c01);
            c11 = Simd.Fma(va1, vb, c11);
            c21 = Simd.Fma(va2, vb, c21);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)((2 * k) + p));
            c02 = Simd.Fma(va0, vb, c02);
            c12 = Simd.Fma(va1, vb, c12);
            c22 = Simd.Fma(va2, vb, c22);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)((3 * k) + p));
            c03 = Simd.Fma(va0, vb, c03);
            c13 = Simd.Fma(va1, vb, c13);
            c23 = Simd.Fma(va2, vb, c23);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)((4 * k) + p));
            c04 = Simd.Fma(va0, vb, c04);
            c14 = Simd.Fma(va1, vb, c14);
            c24 = Simd.Fma(va2, vb, c24);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)((5 * k) + p));
            c05 = Simd.Fma(va0, vb, c05);
            c15 = Simd.Fma(va1, vb, c15);
            c25 = Simd.Fma(va2, vb, c25);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)((6 * k) + p));
            c06 = Simd.Fma(va0, vb, c06);
            c16 = Simd.Fma(va1, vb, c16);
            c26 = Simd.Fma(va2, vb, c26);
            vb = Vector512.LoadUnsafe(ref b0, (nuint)((7 * k) + p));
            c07 = Simd.Fma(va0, vb, c07);
            c17 = Simd.Fma(va1, vb, c17);
            c27 = Simd.Fma(va2, vb, c27);
        }

        (lanes[0], lanes[1], lanes[2], lanes[3], lanes[4], lanes[5], lanes[6], lanes[7]) = (c00, c01, c02, c03, c04, c05, c06, c07);
        (lanes[8], lanes[9], lanes[10], lanes[11], lanes[12], lanes[13], lanes[14], lanes[15]) = (c10, c11, c12, c13, c14, c15, c16, c17);
        (lanes[16], lanes[17], lanes[18], lanes[19], lanes[20], lanes[21], lanes[22], lanes[23]) = (c20, c21, c22, c23, c24, c25, c26, c27);
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
}
