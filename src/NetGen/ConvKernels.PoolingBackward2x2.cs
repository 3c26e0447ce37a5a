using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// Max pooling's backward for 2x2 windows with stride 2 and no padding: each input value written once.
public static partial class ConvKernels
{
    // 2x2 windows, stride 2, no padding, rows of 8 outputs or more (or of 4 to 7 where 512-bit blocks take
    // them, ConvKernels.Pooling512.cs): the windows tile the input without overlapping, so every input value
    // is written once, in row order (its output gradient where it won, else 0), rather than the whole
    // gradient cleared and then the winners scattered into it. With 256-bit vectors, eight outputs at a time:
    // each tap's winners as a select, the even and odd taps interleaved into 16 consecutive values of each of
    // the two input rows; the last block of a row may overlap the one before it (writing the same values
    // again). [64, 16, 28, 28]: 388-633 -> 212-334 µs (alternating processes). Narrower rows without the
    // 512-bit blocks keep clearing and scattering: on rows of 7 outputs four-wide 256-bit blocks measured
    // 207-362 µs and a window at a time without branches 377-439, against 160-292.
    private static void MaxPoolBackward2x2(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, int batch, in Window2D g)
    {
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref int a = ref MemoryMarshal.GetReference(argmax);
        int plane = g.Height * g.Width;
        var pool = new Pool512(g);
        for (int p = 0; p < batch * g.Channels; p++)
        {
            MaxPoolPlaneBackward2x2(ref Unsafe.Add(ref dx, p * plane), ref dy, ref a, p * g.Positions, (p % g.Channels) * plane, g, pool);
        }
    }

    // Whether MaxPoolPlaneBackward2x2 takes a window: 2x2, stride 2, no padding, with rows of 8 outputs or more,
    // or rows that 512-bit blocks take (their last rows cleared and added to).
    internal static bool WritesPooledGradient(in Window2D g) =>
        Vector256.IsHardwareAccelerated && g.KernelHeight == 2 && g.KernelWidth == 2 && g.Stride == 2 && g.Dilation == 1 && g.PadTop == 0 && g.PadLeft == 0
        && (g.OutWidth >= 8 || (Pools512 && new Pool512(g).Blocks > 0));

    // One plane of MaxPoolBackward2x2 into dx (the plane's first value): its outputs from o, their winners'
    // indices within the sample less winnerOffset (the plane's first index within the sample). Rows of fewer
    // than 8 outputs (where 512-bit blocks take them): the blocks' rows, then the rest cleared and each winner's
    // gradient added.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MaxPoolPlaneBackward2x2(ref float dx, ref float dy, ref int a, int o, int winnerOffset, in Window2D g, in Pool512 pool)
    {
        int w = g.Width, plane = g.Height * w, covered = 2 * g.OutWidth;
        int firstRow = Pools512 ? MaxPoolRowsBackward512(ref dx, ref dy, ref a, o, winnerOffset, g, pool) : 0;
        o += firstRow * g.OutWidth;
        if (g.OutWidth < 8)
        {
            int cleared = 2 * firstRow * w;
            MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dx, cleared), plane - cleared).Clear();
            for (int end = o + ((g.OutHeight - firstRow) * g.OutWidth); o < end; o++)
            {
                Unsafe.Add(ref dx, Unsafe.Add(ref a, o) - winnerOffset) += Unsafe.Add(ref dy, o);
            }

            return;
        }

        var lowPairs = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
        var highPairs = Vector256.Create(4, 4, 5, 5, 6, 6, 7, 7);
        var evenLanes = Vector256.Create(-1, 0, -1, 0, -1, 0, -1, 0).AsSingle();
        for (int oy = firstRow; oy < g.OutHeight; oy++, o += g.OutWidth)
        {
            int top = 2 * oy * w;
            int blocks = (g.OutWidth + 7) / 8;
            for (int block = 0; block < blocks; block++)
            {
                int ox = Math.Min(block * 8, g.OutWidth - 8);
                int first = top + (2 * ox);
                Vector256<int> winner = Vector256.LoadUnsafe(ref a, (nuint)(o + ox)) - Vector256.Create(winnerOffset);
                Vector256<float> grad = Vector256.LoadUnsafe(ref dy, (nuint)(o + ox));
                Vector256<int> tap = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14) + Vector256.Create(first);
                for (int row = 0; row < 2; row++, tap += Vector256.Create(w))
                {
                    Vector256<float> even = grad & Vector256.Equals(winner, tap).AsSingle();
                    Vector256<float> odd = grad & Vector256.Equals(winner, tap + Vector256<int>.One).AsSingle();
                    ref float at = ref Unsafe.Add(ref dx, first + (row * w));
                    Vector256.ConditionalSelect(evenLanes, Vector256.Shuffle(even, lowPairs), Vector256.Shuffle(odd, lowPairs)).StoreUnsafe(ref at);
                    Vector256.ConditionalSelect(evenLanes, Vector256.Shuffle(even, highPairs), Vector256.Shuffle(odd, highPairs)).StoreUnsafe(ref at, 8);
                }
            }

            if (covered < w)
            {
                // An odd width: the last column is in no window.
                MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dx, top + covered), w - covered).Clear();
                MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dx, top + w + covered), w - covered).Clear();
            }
        }

        // An odd height: the last row is in no window.
        MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dx, 2 * g.OutHeight * w), plane - (2 * g.OutHeight * w)).Clear();
    }
}
