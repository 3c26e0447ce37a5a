using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NetGen;

// im2col and col2im: a sample unfolded into the patch matrix the convolution multiplies, and the
// patch matrix's gradient folded back.
public static partial class ConvKernels
{
    /// <summary>Unfolds one sample into <paramref name="columns"/> [C·kH·kW, OH·OW]; padding reads as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2Col(Span<float> columns, ReadOnlySpan<float> input, in Window2D g) => Im2ColAt(columns, input, g, g.Positions, 0);

    // Row r of the patch matrix at columns[r * rowStride + offset, + Positions): a batch's matrices side by side.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Im2ColAt(Span<float> columns, ReadOnlySpan<float> input, in Window2D g, int rowStride, int offset)
    {
        int p = g.Positions;
        if (g.Stride == 1 && g.OutWidth == g.Width)
        {
            Im2ColShifted(columns, input, g, rowStride, offset);
            return;
        }

        for (int c = 0; c < g.Channels; c++)
        {
            for (int ki = 0; ki < g.KernelHeight; ki++)
            {
                for (int kj = 0; kj < g.KernelWidth; kj++)
                {
                    Span<float> row = columns.Slice(((((c * g.KernelHeight) + ki) * g.KernelWidth) + kj) * rowStride + offset, p);
                    for (int oy = 0; oy < g.OutHeight; oy++)
                    {
                        int y = (oy * g.Stride) - g.PadTop + (ki * g.Dilation);
                        Span<float> outRow = row.Slice(oy * g.OutWidth, g.OutWidth);
                        if ((uint)y >= (uint)g.Height)
                        {
                            outRow.Clear();
                            continue;
                        }

                        ReadOnlySpan<float> inRow = input.Slice(((c * g.Height) + y) * g.Width, g.Width);
                        int x0 = (kj * g.Dilation) - g.PadLeft;
                        (int lo, int hi) = Inside(x0, g);
                        outRow.Slice(0, lo).Clear();
                        outRow.Slice(hi).Clear();
                        if (g.Stride == 1 && hi > lo)
                        {
                            inRow.Slice(x0 + lo, hi - lo).CopyTo(outRow.Slice(lo, hi - lo));
                            continue;
                        }

                        ref float source = ref MemoryMarshal.GetReference(inRow);
                        ref float target = ref MemoryMarshal.GetReference(outRow);
                        for (int ox = lo; ox < hi; ox++)
                        {
                            Unsafe.Add(ref target, ox) = Unsafe.Add(ref source, x0 + (ox * g.Stride));
                        }
                    }
                }
            }
        }
    }

    // Stride 1 with the output as wide as the input ("same" padding horizontally): every row of the patch
    // matrix is the input plane shifted by one offset, so it is one copy of the valid output rows, and
    // then the few columns that wrapped around a row edge (they read padding) set to 0. Per sample that
    // is C·kH·kW copies instead of C·kH·kW·OH copies of OW values (the sample CNN's second convolution:
    // 144 copies of 196 values instead of 2,016 of 14).
    private static void Im2ColShifted(Span<float> columns, ReadOnlySpan<float> input, in Window2D g, int rowStride, int offset)
    {
        int plane = g.Height * g.Width, taps = g.KernelHeight * g.KernelWidth;
        for (int t = 0; t < taps; t++)
        {
            Shifted s = Shifted.Of(g, t);
            for (int c = 0; c < g.Channels; c++)
            {
                ReadOnlySpan<float> x = input.Slice(c * plane, plane);
                Span<float> row = columns.Slice((((c * taps) + t) * rowStride) + offset, g.Positions);
                row.Slice(0, s.Start).Clear();
                if (s.End > s.Start)
                {
                    x.Slice(s.Start + s.Shift, s.End - s.Start).CopyTo(row.Slice(s.Start, s.End - s.Start));
                }

                row.Slice(Math.Max(s.Start, s.End)).Clear();
                ClearWrappedColumns(row, s, g.Width);
            }
        }
    }

    // The adjoint: each patch-matrix row, its wrapped columns zeroed (it is scratch), added into the
    // input plane at its shift in one vector add.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Col2ImAddShifted(Span<float> input, Span<float> columns, in Window2D g, int rowStride, int offset)
    {
        int plane = g.Height * g.Width, taps = g.KernelHeight * g.KernelWidth;
        for (int t = 0; t < taps; t++)
        {
            Shifted s = Shifted.Of(g, t);
            if (s.End <= s.Start)
            {
                continue;
            }

            // Each channel's plane still takes its taps in order (t outermost): the same sums.
            for (int c = 0; c < g.Channels; c++)
            {
                Span<float> row = columns.Slice((((c * taps) + t) * rowStride) + offset, g.Positions);
                ClearWrappedColumns(row, s, g.Width);
                Span<float> target = input.Slice((c * plane) + s.Start + s.Shift, s.End - s.Start);
                System.Numerics.Tensors.TensorPrimitives.Add(target, row.Slice(s.Start, s.End - s.Start), target);
            }
        }
    }

    // Tap t = ki·kW + kj of a shifted im2col, the same in every channel: its patch-matrix rows read the
    // channel's input plane at Shift from their own index; entries [Start, End) read inside the plane, and
    // only the output rows [OyLo, OyHi) read input rows at all; Dx is the tap's column offset (its wrapped
    // columns). Computed once a tap, not once a row of the patch matrix: without the three divisions that
    // found each row's channel and tap, the sample CNN's second convolution's im2col took 296-355 µs instead
    // of 431-458 and its col2im 252-271 instead of 423-457 (64 samples, alternating processes, two runs).
    private readonly record struct Shifted(int Shift, int Start, int End, int Dx, int OyLo, int OyHi)
    {
        public static Shifted Of(in Window2D g, int t)
        {
            int kj = t % g.KernelWidth, ki = t / g.KernelWidth;
            int w = g.Width, plane = g.Height * w;
            int dy = (ki * g.Dilation) - g.PadTop, dx = (kj * g.Dilation) - g.PadLeft;
            int oyLo = Math.Clamp(-dy, 0, g.OutHeight), oyHi = Math.Clamp(g.Height - dy, oyLo, g.OutHeight);
            int shift = (dy * w) + dx;
            return new Shifted(shift, Math.Max(oyLo * w, -shift), Math.Min(oyHi * w, plane - shift), dx, oyLo, oyHi);
        }
    }

    // Output columns whose input column ox + dx lies outside [0, w), in rows [OyLo, OyHi), set to 0:
    // |dx| values per row (1 for a 3x3 kernel), written directly rather than through a Clear call each.
    private static void ClearWrappedColumns(Span<float> row, in Shifted s, int w)
    {
        int lo = Math.Min(Math.Max(-s.Dx, 0), w), hi = Math.Max(Math.Min(w - s.Dx, w), lo);
        if (lo == 0 && hi == w)
        {
            return;
        }

        int length = (s.OyHi - s.OyLo) * w;
        ref float r = ref MemoryMarshal.GetReference(row.Slice(s.OyLo * w, length));
        for (int o = 0; o < length; o += w)
        {
            for (int q = 0; q < lo; q++)
            {
                Unsafe.Add(ref r, o + q) = 0f;
            }

            for (int q = hi; q < w; q++)
            {
                Unsafe.Add(ref r, o + q) = 0f;
            }
        }
    }

    /// <summary>
    /// The output columns [lo, hi) of a window row whose first tap is at input column
    /// <paramref name="x0"/> that read inside the input; the others read padding.
    /// </summary>
    private static (int Lo, int Hi) Inside(int x0, in Window2D g)
    {
        int lo = x0 >= 0 ? 0 : Math.Min(g.OutWidth, (-x0 + g.Stride - 1) / g.Stride);
        int last = g.Width - 1 - x0;
        int hi = last < 0 ? 0 : Math.Min(g.OutWidth, (last / g.Stride) + 1);
        return (lo, Math.Max(hi, lo));
    }

    /// <summary>Folds <paramref name="columns"/> back, adding each entry into its input position (the adjoint of <see cref="Im2Col"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2ImAdd(Span<float> input, ReadOnlySpan<float> columns, in Window2D g) => Col2ImAddRows(input, columns, g, g.Positions, 0);

    // The convolutions' own scratch: may be changed (the shifted form zeroes its wrapped columns).
    internal static void Col2ImAddAt(Span<float> input, Span<float> columns, in Window2D g, int rowStride, int offset)
    {
        if (g.Stride == 1 && g.OutWidth == g.Width)
        {
            Col2ImAddShifted(input, columns, g, rowStride, offset);
        }
        else
        {
            Col2ImAddRows(input, columns, g, rowStride, offset);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Col2ImAddRows(Span<float> input, ReadOnlySpan<float> columns, in Window2D g, int rowStride, int offset)
    {
        int p = g.Positions;
        for (int c = 0; c < g.Channels; c++)
        {
            for (int ki = 0; ki < g.KernelHeight; ki++)
            {
                for (int kj = 0; kj < g.KernelWidth; kj++)
                {
                    ReadOnlySpan<float> row = columns.Slice(((((c * g.KernelHeight) + ki) * g.KernelWidth) + kj) * rowStride + offset, p);
                    for (int oy = 0; oy < g.OutHeight; oy++)
                    {
                        int y = (oy * g.Stride) - g.PadTop + (ki * g.Dilation);
                        if ((uint)y >= (uint)g.Height)
                        {
                            continue;
                        }

                        Span<float> inRow = input.Slice(((c * g.Height) + y) * g.Width, g.Width);
                        int x0 = (kj * g.Dilation) - g.PadLeft;
                        (int lo, int hi) = Inside(x0, g);
                        ReadOnlySpan<float> source = row.Slice((oy * g.OutWidth) + lo, hi - lo);
                        if (g.Stride == 1 && hi > lo)
                        {
                            Span<float> target = inRow.Slice(x0 + lo, hi - lo);
                            System.Numerics.Tensors.TensorPrimitives.Add(target, source, target);
                            continue;
                        }

                        ref float into = ref MemoryMarshal.GetReference(inRow);
                        for (int k = 0; k < source.Length; k++)
                        {
                            Unsafe.Add(ref into, x0 + ((lo + k) * g.Stride)) += source[k];
                        }
                    }
                }
            }
        }
    }
}
