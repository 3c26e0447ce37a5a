using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// One product split across threads: for a batch too small to split into shares worth a thread each
// (a generated network's MinSamplesPerThread), the shares are of the product instead. Each part is
// a block of C's rows or columns computed by the same kernel code on the same tiles as the whole
// product, so a split product has exactly the bits of the unsplit one, whatever the thread count.
public static partial class MatMul
{
    /// <summary>
    /// The fewest multiply-adds a thread is given when a product is split (about 3 µs of work at
    /// 90 GFLOP/s, against about 1 µs for handing a part to a pool thread that is spinning).
    /// </summary>
    internal const long MinMultiplyAddsPerThread = 1 << 18;

    /// <summary>
    /// <see cref="MultiplyTransposed(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, bool)"/>
    /// on up to <paramref name="threads"/> threads of <see cref="Workers.Shared"/>, each given 2^18
    /// multiply-adds at least: C's columns in blocks, a few a thread (a thread done with its own takes
    /// another's last ones), or, when A has more rows than B, C's rows, a block a thread. The result has
    /// exactly the bits of the one-thread product.
    /// </summary>
    /// <param name="c">The result, <c>m·n</c> values.</param>
    /// <param name="a">Left operand, <c>m·k</c> values.</param>
    /// <param name="b">Right operand, read transposed, <c>n·k</c> values.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">Shared inner dimension.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <param name="threads">The most threads to use, 1 to <see cref="Workers.MaxThreads"/>.</param>
    public static void MultiplyTransposed(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, bool accumulate, int threads)
    {
        Guard.Threads(threads, nameof(threads));
        CheckTransposed(c.Length, a.Length, b.Length, m, n, k);
        (int parts, int used, bool byColumns) = TransposedSplit(m, n, k, threads);
        if (used < 2)
        {
            MultiplyTransposedCore(ref MemoryMarshal.GetReference(c), n, ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), m, n, k, accumulate);
            return;
        }

        ProductSplit.Run(c, a, b, transposedB: true, byColumns, aRowStride: k, aColStride: 1, m, n, k, accumulate, parts, used);
    }

    /// <summary>
    /// <see cref="Multiply(Span{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, int, bool)"/>
    /// on up to <paramref name="threads"/> threads of <see cref="Workers.Shared"/>, each given 2^18
    /// multiply-adds at least: C's rows in blocks, a few a thread (a thread done with its own takes
    /// another's last ones). The result has exactly the bits of the one-thread product.
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
    /// <param name="threads">The most threads to use, 1 to <see cref="Workers.MaxThreads"/>.</param>
    public static void Multiply(Span<float> c, ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int m, int n, int k, bool accumulate, int threads)
    {
        Guard.Threads(threads, nameof(threads));
        (int parts, int used) = RowSplit(m, n, k, threads);
        if (used < 2)
        {
            Multiply(c, a, aRowStride, aColStride, b, m, n, k, accumulate);
            return;
        }

        // The whole product's checks, before any part runs (each part checks its own slice again).
        CheckStrided(c.Length, a.Length, aRowStride, aColStride, b.Length, m, n, k);
        ProductSplit.Run(c, a, b, transposedB: false, byColumns: false, aRowStride, aColStride, m, n, k, accumulate, parts, used);
    }

    /// <summary>
    /// Columns [<paramref name="first"/>, first + count) of C = A·Bᵀ on the calling thread, in place in C's
    /// rows, computed as a part of a split product is (whole 32-column strips from <paramref name="first"/>):
    /// exactly their bits in the whole product unless the whole takes the dot products of few rows
    /// (<see cref="TakesDots"/>). For <see cref="Kernels.DenseForwardColumns"/>, which checks the block.
    /// </summary>
    internal static void MultiplyTransposedColumns(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, int first, int count, bool accumulate)
    {
        CheckTransposed(c.Length, a.Length, b.Length, m, n, k);

        // The first of several blocks reads its rows of B from the last tile to the first, away from the next
        // block's rows (where the block takes the swapped, packed path: a small batch with 512-bit vectors; the
        // other paths keep their order). Read upwards, the hardware prefetcher ran on into the next block's rows (its thread's
        // weights in the split by units), and that thread's optimizer then had to take back every line from this
        // core before writing it: on the 784-128-10 MLP at batch 32 on 2 threads, its half of the step 12-14 µs
        // against the caller's 4 (`--trace mlp-32 2`), 6-7.5 with the first block read downwards (session 19,
        // benchmarks/README.md). The last block reads upwards, past the end of the weight. Same bits either way.
        bool descending = AwayFromNeighbours && first == 0 && count < n;
        MultiplyTransposedCore(ref Unsafe.Add(ref MemoryMarshal.GetReference(c), first), n, ref MemoryMarshal.GetReference(a), ref Unsafe.Add(ref MemoryMarshal.GetReference(b), first * k), m, count, k, accumulate, part: true, descending);
    }

    /// <summary>Whether the first block of <see cref="MultiplyTransposedColumns"/> is read downwards (benchmarks compare).</summary>
    internal static bool AwayFromNeighbours { get; set; } = true;

    /// <summary>Whether A·Bᵀ of m x n x k is computed by the dot products of few rows, which a part of it is not.</summary>
    internal static bool TakesDots(int m, int n, int k) => UseVectors && k >= Vector256<float>.Count && TakesWideDots(m, n, k);

    /// <summary>Products this thread has split across threads so far (for the tests).</summary>
    [ThreadStatic]
    internal static int t_splitProducts;

    /// <summary>
    /// How A·Bᵀ of m x n x k is split on up to <paramref name="threads"/> threads: into how many parts
    /// (1: not at all), on how many threads, and whether by C's columns or by its rows.
    /// </summary>
    internal static (int Parts, int Threads, bool ByColumns) TransposedSplit(int m, int n, int k, int threads)
    {
        int used = Threads(threads, (long)m * n * k);
        if (used < 2 || TakesWideDots(m, n, k))
        {
            return (1, 1, false); // one thread, or dot products of few rows (whose parts would be computed otherwise)
        }

        // Columns in blocks of 32 (the packed kernel's strip, two of the 256-bit path's): every part
        // but the last is packed whole, and the last keeps the columns the dot products take; each
        // part packs only its own rows of B, so there may be several parts a thread. Rows in blocks of
        // 8 (the 512-bit tile's height, twice the dot products' 4) when A has more rows than B has (a
        // large batch), unless columns give more parts than four a thread: one part a thread, since each
        // packs all of B (the first layer of the MLP at batch 256 on 2 threads: 1.44-1.86x by rows, 1.41-1.54x
        // by columns, 3 runs each).
        int columns = Math.Min(used * PartsPerThread, n / 32), rows = Math.Min(used, m / 8);
        bool byColumns = n >= m ? columns >= rows : columns > rows * PartsPerThread;
        int parts = Math.Max(1, byColumns ? columns : rows);
        return parts < 2 ? (1, 1, byColumns) : (parts, Math.Min(used, parts), byColumns);
    }

    /// <summary>
    /// Into how many parts op(A)·B of m x n x k is split on up to <paramref name="threads"/> threads, and
    /// on how many threads: C's rows in blocks of 8, the 512-bit tile's height, so that every row is in
    /// a tile of the same kind as without the split (the 256-bit path's 6-row tiles compute the same
    /// bits as its 4- and 1-row ones: one fused multiply-add chain per value, in the same order).
    /// </summary>
    internal static (int Parts, int Threads) RowSplit(int m, int n, int k, int threads)
    {
        int used = Threads(threads, (long)m * n * k);
        int parts = used < 2 ? 1 : Math.Max(1, Math.Min(used * PartsPerThread, m / 8));
        return (parts, Math.Min(used, parts));
    }

    // Parts a thread where a part costs little more than its share of the work: a thread done with its
    // own takes another's last ones, so a core that runs slower (a busy neighbour on a virtual machine)
    // ends up with fewer, where one part a thread would make the faster one wait for it.
    private const int PartsPerThread = 4;

    // Threads worth using: each with 2^18 multiply-adds at least.
    private static int Threads(int threads, long multiplyAdds) =>
        (int)Math.Min(threads, Math.Max(1, multiplyAdds / MinMultiplyAddsPerThread));

    // The parts of one split product. The operands are pinned by the caller for the duration of the
    // run (Workers.Run returns only when every part has finished), so that the pool threads can read
    // them: a span cannot be handed to another thread. One instance per calling thread, made on its
    // first split product, so that a training step allocates nothing.
    private sealed unsafe class ProductSplit : IShardedWork
    {
        [ThreadStatic]
        private static ProductSplit? t_instance;

        private float* _c;
        private float* _a;
        private float* _b;
        private bool _transposedB;
        private bool _byColumns;
        private int _aRowStride;
        private int _aColStride;
        private int _m;
        private int _n;
        private int _k;
        private bool _accumulate;
        private int _parts;

        public static void Run(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, bool transposedB, bool byColumns, int aRowStride, int aColStride, int m, int n, int k, bool accumulate, int parts, int threads)
        {
            ProductSplit split = t_instance ??= new ProductSplit();
            t_splitProducts++;
            fixed (float* pc = c)
            fixed (float* pa = a)
            fixed (float* pb = b)
            {
                split._c = pc;
                split._a = pa;
                split._b = pb;
                split._transposedB = transposedB;
                split._byColumns = byColumns;
                split._aRowStride = aRowStride;
                split._aColStride = aColStride;
                split._m = m;
                split._n = n;
                split._k = k;
                split._accumulate = accumulate;
                split._parts = parts;
                try
                {
                    Workers.Shared.Run(split, parts, threads);
                }
                finally
                {
                    split._c = split._a = split._b = null;
                }
            }
        }

        // Part s of the blocks of `unit` rows or columns: [Start(s), Start(s + 1)), the last taking the remainder.
        private int Start(int s, int count, int unit) => s == _parts ? count : (int)((long)(count / unit) * s / _parts) * unit;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunShard(int shard)
        {
            int m = _m, n = _n, k = _k;
            if (_transposedB && _byColumns)
            {
                int j0 = Start(shard, n, 32), j1 = Start(shard + 1, n, 32);
                MultiplyTransposedCore(ref Unsafe.AsRef<float>(_c + j0), n, ref Unsafe.AsRef<float>(_a), ref Unsafe.AsRef<float>(_b + ((long)j0 * k)), m, j1 - j0, k, _accumulate, part: true);
                return;
            }

            int i0 = Start(shard, m, 8), i1 = Start(shard + 1, m, 8);
            var c = new Span<float>(_c + ((long)i0 * n), (i1 - i0) * n);
            if (_transposedB)
            {
                MultiplyTransposedCore(ref MemoryMarshal.GetReference(c), n, ref Unsafe.AsRef<float>(_a + ((long)i0 * k)), ref Unsafe.AsRef<float>(_b), i1 - i0, n, k, _accumulate, part: true);
                return;
            }

            int rows = i1 - i0;
            long aLength = ((long)rows - 1) * _aRowStride + ((long)k - 1) * _aColStride + 1;
            var a = new ReadOnlySpan<float>(_a + ((long)i0 * _aRowStride), (int)aLength);
            var b = new ReadOnlySpan<float>(_b, k * n);
            Multiply(c, a, _aRowStride, _aColStride, b, rows, n, k, _accumulate);
        }
    }
}
