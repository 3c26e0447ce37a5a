using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetGen;

// 2x2 max pooling with stride 2 at 512 bits, forward and backward, sixteen outputs a block: one output row
// of 9 to 16 (input rows of 16 to 32 values: the sample CNN's 28 -> 14) or two output rows of 4 to 8
// (input rows of 8 to 16: its 14 -> 7). Each of the four taps of a window gets its sixteen values from two
// loaded vectors through one two-source permute (vpermt2ps), where the 256-bit code deinterleaves eight at
// a time with shuffles and blends, and a row of 7 outputs took four-wide blocks or scalar code. Loads stay
// within the block's input rows (a row's second vector is loaded so that it ends where the row ends); the
// forward stores sixteen outputs at once, so a block of fewer spills into the next rows' outputs, which a
// later block or the 256-bit code then writes: the plane's last rows are left to that code. The
// comparisons run in the scalar order with strictly-greater winning, so the results are those of the
// 256-bit and scalar code, bit for bit.
public static partial class ConvKernels
{
    private static readonly Vector512<int> Lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    // Where a block's values come from: the input rows' four loads (offsets from the block's top-left input),
    // the permutes that pick each tap's values from them (top taps from the first two loads, bottom taps from
    // the last two; the odd taps are the even ones plus one), and each lane's top-left input (from the top).
    // Backward, where they go: input value j of a row from the tap gradients, even j from the left tap's lane
    // j/2, odd from the right's (Pairs; RowEnd for a row's last 16 values, one output row a block; SecondRow for
    // the block's second output row, two a block).
    internal readonly struct Pool512
    {
        public readonly int Load0, Load1, Load2, Load3;
        public readonly Vector512<int> TopEven, BottomEven, Corner;
        public readonly Vector512<int> Pairs, RowEnd, SecondRow;
        public readonly int RowsPerBlock, Blocks, InputStep;

        public Pool512(in Window2D g)
        {
            int w = g.Width, ow = g.OutWidth;
            if (ow > 8 && ow <= 16 && w >= 16 && w <= 32)
            {
                // One output row: each input row as its first 16 values and its last 16 (overlapping).
                RowsPerBlock = 1;
                (Load0, Load1, Load2, Load3) = (0, w - 16, w, (2 * w) - 16);
                Vector512<int> position = Vector512.Min(Lanes, Vector512.Create(ow - 1)) * 2;
                TopEven = position + (Vector512.GreaterThanOrEqual(position, Vector512.Create(16)) & Vector512.Create(32 - w));
                BottomEven = TopEven;
                Corner = position;
            }
            else if (ow >= 4 && ow <= 8 && w >= 8 && w <= 16)
            {
                // Two output rows: input rows 0 and 2 for the top taps, 1 and 3 for the bottom ones; row 3 loaded
                // so that it ends where the row ends (row 2's load reads on into row 3, row 3's would read on
                // past the block).
                RowsPerBlock = 2;
                (Load0, Load1, Load2, Load3) = (0, 2 * w, w, (4 * w) - 16);
                Vector512<int> lane = Vector512.Min(Lanes, Vector512.Create((2 * ow) - 1));
                Vector512<int> second = Vector512.GreaterThanOrEqual(lane, Vector512.Create(ow));
                Vector512<int> position = (lane - (second & Vector512.Create(ow))) * 2;
                TopEven = position + (second & Vector512.Create(16));
                BottomEven = position + (second & Vector512.Create(32 - w));
                Corner = position + (second & Vector512.Create(2 * w));
            }
            else
            {
                return;
            }

            // A block's sixteen outputs (stored forward, their winners loaded backward) must lie in the plane: a
            // block of fewer spills into the next rows' outputs, which later blocks or the 256-bit code then
            // write, so the plane's last rows may be left to that code.
            int positions = g.OutHeight * ow, perBlock = RowsPerBlock * ow;
            Blocks = positions < 16 ? 0 : Math.Min(g.OutHeight / RowsPerBlock, ((positions - 16) / perBlock) + 1);
            InputStep = 2 * RowsPerBlock * w;
            Pairs = (Lanes >> 1) + ((Lanes & Vector512<int>.One) << 4);
            Vector512<int> fromEnd = Lanes + Vector512.Create(w - 16);
            RowEnd = (fromEnd >> 1) + ((fromEnd & Vector512<int>.One) << 4);
            SecondRow = Pairs + Vector512.Create(ow);
        }

        public int Rows => Blocks * RowsPerBlock;
    }

    // Forward of the first Pool512 blocks of one plane from its first output o, as MaxPoolPlane's 2x2 code
    // computes them; returns the output rows done. Outputs' winners are indices within the sample.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MaxPoolRows512<TTap>(ref float x, ref float y, ref int a, int planeStart, int o, int sampleStart, in Window2D g, in Pool512 p, TTap tap)
        where TTap : struct, IPoolTap
    {
        Vector512<int> topOdd = p.TopEven + Vector512<int>.One, bottomOdd = p.BottomEven + Vector512<int>.One;
        Vector512<int> right = Vector512<int>.One, below = Vector512.Create(g.Width), belowRight = Vector512.Create(g.Width + 1);
        int top = planeStart, step = p.RowsPerBlock * g.OutWidth;
        for (int block = 0; block < p.Blocks; block++, top += p.InputStep, o += step)
        {
            Vector512<float> t0 = tap.Apply(Vector512.LoadUnsafe(ref x, (nuint)(top + p.Load0)));
            Vector512<float> t1 = tap.Apply(Vector512.LoadUnsafe(ref x, (nuint)(top + p.Load1)));
            Vector512<float> b0 = tap.Apply(Vector512.LoadUnsafe(ref x, (nuint)(top + p.Load2)));
            Vector512<float> b1 = tap.Apply(Vector512.LoadUnsafe(ref x, (nuint)(top + p.Load3)));
            Vector512<int> index = p.Corner + Vector512.Create(top - sampleStart);

            // The taps in the scalar order, strictly greater winning: the same winners.
            Vector512<float> best = Avx512F.PermuteVar16x32x2(t0, p.TopEven, t1);
            Vector512<int> bestIndex = index;
            Vector512<float> candidate = Avx512F.PermuteVar16x32x2(t0, topOdd, t1);
            Vector512<float> wins = Vector512.GreaterThan(candidate, best);
            best = Vector512.ConditionalSelect(wins, candidate, best);
            bestIndex = Vector512.ConditionalSelect(wins.AsInt32(), index + right, bestIndex);
            candidate = Avx512F.PermuteVar16x32x2(b0, p.BottomEven, b1);
            wins = Vector512.GreaterThan(candidate, best);
            best = Vector512.ConditionalSelect(wins, candidate, best);
            bestIndex = Vector512.ConditionalSelect(wins.AsInt32(), index + below, bestIndex);
            candidate = Avx512F.PermuteVar16x32x2(b0, bottomOdd, b1);
            wins = Vector512.GreaterThan(candidate, best);
            best = Vector512.ConditionalSelect(wins, candidate, best);
            bestIndex = Vector512.ConditionalSelect(wins.AsInt32(), index + belowRight, bestIndex);
            best.StoreUnsafe(ref y, (nuint)o);
            bestIndex.StoreUnsafe(ref a, (nuint)o);
        }

        return p.Rows;
    }

    // Backward of the first Pool512 blocks of one plane into dx (the plane's first value), from its first output
    // o, winners less winnerOffset being indices within the plane: each tap's gradients where it won, 0
    // elsewhere, permuted back into the input rows, every value of those rows written. Returns the output rows
    // done; their input rows are written, and the next input row may hold a block's spill.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MaxPoolRowsBackward512(ref float dx, ref float dy, ref int a, int o, int winnerOffset, in Window2D g, in Pool512 p)
    {
        int w = g.Width, ow = g.OutWidth, covered = 2 * ow;
        Vector512<int> pairs = p.Pairs, rowEnd = p.RowEnd, secondRow = p.SecondRow;
        Vector512<int> right = Vector512<int>.One, below = Vector512.Create(w), belowRight = Vector512.Create(w + 1);
        int top = 0, step = p.RowsPerBlock * ow;
        for (int block = 0; block < p.Blocks; block++, top += p.InputStep, o += step)
        {
            Vector512<int> winner = Vector512.LoadUnsafe(ref a, (nuint)o) - Vector512.Create(winnerOffset);
            Vector512<float> grad = Vector512.LoadUnsafe(ref dy, (nuint)o);
            Vector512<int> corner = p.Corner + Vector512.Create(top);
            Vector512<float> topLeft = grad & Vector512.Equals(winner, corner).AsSingle();
            Vector512<float> topRight = grad & Vector512.Equals(winner, corner + right).AsSingle();
            Vector512<float> bottomLeft = grad & Vector512.Equals(winner, corner + below).AsSingle();
            Vector512<float> bottomRight = grad & Vector512.Equals(winner, corner + belowRight).AsSingle();
            ref float at = ref Unsafe.Add(ref dx, top);
            if (p.RowsPerBlock == 1)
            {
                // Each input row as its first 16 values and its last 16.
                Avx512F.PermuteVar16x32x2(topLeft, pairs, topRight).StoreUnsafe(ref at);
                Avx512F.PermuteVar16x32x2(topLeft, rowEnd, topRight).StoreUnsafe(ref at, (nuint)(w - 16));
                Avx512F.PermuteVar16x32x2(bottomLeft, pairs, bottomRight).StoreUnsafe(ref at, (nuint)w);
                Avx512F.PermuteVar16x32x2(bottomLeft, rowEnd, bottomRight).StoreUnsafe(ref at, (nuint)((2 * w) - 16));
            }
            else
            {
                // Four input rows of 16 values or fewer, each stored as 16 from its start, in order: a row's spill
                // is overwritten by the next row (the last row's by the next block, or the rows after the blocks).
                Avx512F.PermuteVar16x32x2(topLeft, pairs, topRight).StoreUnsafe(ref at);
                Avx512F.PermuteVar16x32x2(bottomLeft, pairs, bottomRight).StoreUnsafe(ref at, (nuint)w);
                Avx512F.PermuteVar16x32x2(topLeft, secondRow, topRight).StoreUnsafe(ref at, (nuint)(2 * w));
                Avx512F.PermuteVar16x32x2(bottomLeft, secondRow, bottomRight).StoreUnsafe(ref at, (nuint)(3 * w));
            }

            // An odd width: each row's last value is in no window.
            for (int row = 0; covered < w && row < 2 * p.RowsPerBlock; row++)
            {
                Unsafe.Add(ref at, (row * w) + covered) = 0f;
            }
        }

        return p.Rows;
    }

    /// <summary>Whether 2x2 pooling takes the 512-bit blocks where it can (true), or the 256-bit code only: a switch for benchmarks.</summary>
    internal static bool Pooling512 { get; set; } = true;

    // Whether 2x2 pooling with stride 2 takes the 512-bit blocks where the shape allows.
    private static bool Pools512 => Pooling512 && MatMul.UseVectors && MatMul.Use512 && Avx512F.IsSupported;
}
