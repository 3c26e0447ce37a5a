using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// A·Bᵀ by 512-bit dot products for a product with few rows and long rows: the weight gradient of a first
// convolution (A the patch matrix, 9 rows for a 3x3 kernel on one channel; B the output gradient, 16 filters'
// rows of 784 positions a sample). There the packed path spends most of its time transposing B into panels (its
// n·k values, against m·n·k/32 cycles of products: 3.5 times the products at m = 9); the dot products read both
// operands where they lie. Three rows of A against four of B: 12 accumulators, 7 loads for 12 multiply-adds, k in
// chunks of 4 KB a row with the accumulators kept between them, so that a chunk of every row stays in L2.
// Every value is one accumulator's sum over k in steps of 16, its 16 lanes added by Vector512.Sum, then the last
// k mod 16 products added one by one: the same arithmetic in the 3x4 blocks and alone (Dot1x1Wide), so a value's
// bits do not depend on where it falls.
public static partial class MatMul
{
    /// <summary>Whether A·Bᵀ with few rows and long rows takes the 512-bit dot products (a switch for benchmarks).</summary>
    internal static bool DotFewRows { get; set; } = true;

    // Products with 3 to 15 rows of A, at most 64 rows of B, and k at least 64 times the rows of A: where the
    // dot products' horizontal sums (m·n of them) cost little against transposing B (n·k values).
    private static bool TakesWideDots(int m, int n, int k) => DotFewRows && Use512 && m >= 3 && m < 16 && n <= 64 && k >= 64 * m;

    // Steps of k per pass over the blocks: 4 KB of each row, so that a pass's rows (100 KB at 9 + 16 rows) stay in L2
    // while each is read by 3 or 4 blocks.
    private const int WideDotsChunk = 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTransposedWideDots(ref float c, int ldc, ref float a, ref float b, int m, int n, int k, bool accumulate)
    {
        int m3 = m - (m % 3), n4 = n - (n % 4), blocks = (m3 / 3) * (n4 / 4);
        // The 3x4 blocks' accumulators, kept between passes over k in chunks (at most 5 x 16 blocks of 12: 61 KB).
        Span<Vector512<float>> lanes = stackalloc Vector512<float>[blocks * 12];
        lanes.Clear();
        int steps = k - (k % 16);
        for (int p0 = 0; p0 < steps; p0 += WideDotsChunk)
        {
            int end = Math.Min(steps, p0 + WideDotsChunk);
            for (int i = 0, block = 0; i < m3; i += 3)
            {
                for (int j = 0; j < n4; j += 4, block++)
                {
                    Dot3x4Wide(lanes.Slice(block * 12, 12), ref a, ref b, i, j, k, p0, end);
                }
            }
        }

        for (int i = 0, block = 0; i < m3; i += 3)
        {
            for (int j = 0; j < n4; j += 4, block++)
            {
                for (int r = 0; r < 12; r++)
                {
                    int row = i + (r / 4), column = j + (r % 4);
                    DotStore(ref c, (row * ldc) + column, Finish(lanes[(block * 12) + r], ref Unsafe.Add(ref a, row * k), ref Unsafe.Add(ref b, column * k), steps, k), accumulate);
                }
            }
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = i < m3 ? n4 : 0; j < n; j++)
            {
                DotStore(ref c, (i * ldc) + j, Dot1x1Wide(ref Unsafe.Add(ref a, i * k), ref Unsafe.Add(ref b, j * k), k), accumulate);
            }
        }
    }

    // Steps [p0, end) of k (multiples of 16) of three rows of A (from i) against four of B (from j), added to the
    // block's twelve accumulators: row r of A and row s of B in lanes[4·r + s].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot3x4Wide(Span<Vector512<float>> lanes, ref float a, ref float b, int i, int j, int k, int p0, int end)
    {
        ref float a0 = ref Unsafe.Add(ref a, i * k);
        ref float a1 = ref Unsafe.Add(ref a0, k);
        ref float a2 = ref Unsafe.Add(ref a1, k);
        ref float b0 = ref Unsafe.Add(ref b, j * k);
        ref float b1 = ref Unsafe.Add(ref b0, k);
        ref float b2 = ref Unsafe.Add(ref b1, k);
        ref float b3 = ref Unsafe.Add(ref b2, k);
        Vector512<float> c00 = lanes[0], c01 = lanes[1], c02 = lanes[2], c03 = lanes[3];
        Vector512<float> c10 = lanes[4], c11 = lanes[5], c12 = lanes[6], c13 = lanes[7];
        Vector512<float> c20 = lanes[8], c21 = lanes[9], c22 = lanes[10], c23 = lanes[11];
        for (int p = p0; p < end; p += 16)
        {
            Vector512<float> vb0 = Vector512.LoadUnsafe(ref b0, (nuint)p), vb1 = Vector512.LoadUnsafe(ref b1, (nuint)p);
            Vector512<float> vb2 = Vector512.LoadUnsafe(ref b2, (nuint)p), vb3 = Vector512.LoadUnsafe(ref b3, (nuint)p);
            Vector512<float> va = Vector512.LoadUnsafe(ref a0, (nuint)p);
            c00 = Simd.Fma(va, vb0, c00);
            c01 = Simd.Fma(va, vb1, c01);
            c02 = Simd.Fma(va, vb2, c02);
            c03 = Simd.Fma(va, vb3, c03);
            va = Vector512.LoadUnsafe(ref a1, (nuint)p);
            c10 = Simd.Fma(va, vb0, c10);
            c11 = Simd.Fma(va, vb1, c11);
            c12 = Simd.Fma(va, vb2, c12);
            c13 = Simd.Fma(va, vb3, c13);
            va = Vector512.LoadUnsafe(ref a2, (nuint)p);
            c20 = Simd.Fma(va, vb0, c20);
            c21 = Simd.Fma(va, vb1, c21);
            c22 = Simd.Fma(va, vb2, c22);
            c23 = Simd.Fma(va, vb3, c23);
        }

        (lanes[0], lanes[1], lanes[2], lanes[3]) = (c00, c01, c02, c03);
        (lanes[4], lanes[5], lanes[6], lanes[7]) = (c10, c11, c12, c13);
        (lanes[8], lanes[9], lanes[10], lanes[11]) = (c20, c21, c22, c23);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1x1Wide(ref float a, ref float b, int k)
    {
        Vector512<float> sum = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            sum = Simd.Fma(Vector512.LoadUnsafe(ref a, (nuint)p), Vector512.LoadUnsafe(ref b, (nuint)p), sum);
        }

        return Finish(sum, ref a, ref b, p, k);
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
