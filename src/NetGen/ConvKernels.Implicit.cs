using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// Stride-1 convolutions without unfolding the input: the input is copied once into a zero-padded plane per
// channel, RowWidth = OW + dilation·(kW - 1) values a row, and the product runs over a grid of OH·RowWidth
// positions (padded to whole 32-column strips) whose patch-matrix row for tap (c, ki, kj) is that padded
// input from one offset on (MatMul.Outer8x32Offsets). The grid's columns past OW are computed and dropped:
// 2 of 16 for the sample CNN's 14-wide second convolution. What it saves: writing and reading the patch
// matrix (the forward, at every size), and the input gradient's product over k = F and its fold back
// (col2im), which becomes one product over k = F·kH·kW against the flipped weights (sample by sample, also
// where the weight gradient takes several samples per product).
public static partial class ConvKernels
{
    /// <summary>Whether stride-1 convolutions skip im2col where they can (see above); tests and benchmarks switch it off.</summary>
    internal static bool ImplicitProducts { get; set; } = true;

    [ThreadStatic]
    private static float[]? t_padded;

    [ThreadStatic]
    private static float[]? t_wide;

    [ThreadStatic]
    private static float[]? t_flipped;

    [ThreadStatic]
    private static int[]? t_offsets;

    // The forward on the padded input, for m output rows (filters) in whole 8-row tiles, 512-bit tiles only, where
    // the patch is at least as long as the filters are many: im2col writes K·P values, the padded form copies its
    // F·P outputs out of the grid. The sample CNN's first convolution (K = 9, F = 16) measured 0.87-1.03x on the
    // padded input, its second (K = 144, F = 32) 1.15-1.20x.
    private static bool ForwardImplicit(in Window2D g, int filters) =>
        ImplicitProducts && MatMul.UseVectors && MatMul.Use512 && g.Stride == 1 && filters % 8 == 0 && g.PatchSize >= filters;

    // The input gradient as a forward convolution of dY (padded by dilation·(k - 1) - pad) with the flipped
    // weights: C rows in whole 8-row tiles, padding no wider than the kernel's reach, and the flipped weights
    // (C x F·kH·kW) within 32 KB, so that they stay in L1 from one strip of the grid to the next. --conv-ab
    // against Wᵀ·dY and col2im, several samples per product (two runs): 16 -> 16 at 8x8 1.20-1.23x and 16x16
    // 1.26-1.27x, 16 -> 32 at 10x10 to 15x15 1.01-1.12x; 32 -> 64 (72 KB of flipped weights) 0.91-0.98x.
    private static bool InputGradientImplicit(in Window2D g, int filters) =>
        ImplicitProducts && MatMul.UseVectors && MatMul.Use512 && g.Stride == 1 && g.Channels % 8 == 0
        && g.PadTop <= g.Dilation * (g.KernelHeight - 1) && g.PadLeft <= g.Dilation * (g.KernelWidth - 1)
        && (long)g.Channels * filters * g.KernelHeight * g.KernelWidth <= 8192;

    // A stride-1 convolution of a [Channels, Height, Width] sample into [rows, OutHeight, OutWidth].
    private readonly record struct Implicit(int Channels, int Height, int Width, int KernelHeight, int KernelWidth, int Dilation, int PadTop, int PadLeft, int OutHeight, int OutWidth)
    {
        public static Implicit Forward(in Window2D g) =>
            new(g.Channels, g.Height, g.Width, g.KernelHeight, g.KernelWidth, g.Dilation, g.PadTop, g.PadLeft, g.OutHeight, g.OutWidth);

        // dX[c, y, x] = Σ W[f, c, ki, kj]·dY[f, y + PadTop - ki·d, x + PadLeft - kj·d]: with ki' = kH - 1 - ki, a
        // convolution of dY padded by d·(kH - 1) - PadTop above and d·(kW - 1) - PadLeft on the left.
        public static Implicit InputGradient(in Window2D g, int filters) =>
            new(filters, g.OutHeight, g.OutWidth, g.KernelHeight, g.KernelWidth, g.Dilation, (g.Dilation * (g.KernelHeight - 1)) - g.PadTop, (g.Dilation * (g.KernelWidth - 1)) - g.PadLeft, g.Height, g.Width);

        public int RowWidth => OutWidth + (Dilation * (KernelWidth - 1));

        public int PaddedRows => OutHeight + (Dilation * (KernelHeight - 1));

        public int Plane => RowWidth * PaddedRows;

        public int Grid => ((OutHeight * RowWidth) + 31) / 32 * 32;

        public int K => Channels * KernelHeight * KernelWidth;

        // The last strip reads up to Grid values past the last tap's offset.
        public int PaddedLength => Math.Max(Channels * Plane, ((Channels - 1) * Plane) + (Dilation * (((KernelHeight - 1) * RowWidth) + KernelWidth - 1)) + Grid);
    }

    private static float[] Buffer(ref float[]? buffer, int length) => buffer is { } b && b.Length >= length ? b : buffer = new float[length];

    // The padded planes cleared and the taps' offsets written; per sample, Sample fills the planes' insides.
    private static (float[] Padded, float[] Wide, int[] Offsets) Prepare(in Implicit s, int rows)
    {
        float[] padded = Buffer(ref t_padded, s.PaddedLength);
        float[] wide = Buffer(ref t_wide, rows * s.Grid);
        int[] offsets = t_offsets is { } o && o.Length >= s.K ? o : t_offsets = new int[s.K];
        padded.AsSpan(0, s.PaddedLength).Clear();
        WriteOffsets(s, offsets);
        return (padded, wide, offsets);
    }

    // The patch matrix's row for tap (c, ki, kj), K of them: the padded planes from this offset on.
    private static void WriteOffsets(in Implicit s, int[] offsets)
    {
        int r = 0;
        for (int c = 0; c < s.Channels; c++)
        {
            for (int ki = 0; ki < s.KernelHeight; ki++)
            {
                for (int kj = 0; kj < s.KernelWidth; kj++)
                {
                    offsets[r++] = (c * s.Plane) + (s.Dilation * ((ki * s.RowWidth) + kj));
                }
            }
        }
    }

    // A sample's [Channels, Height, Width] values into the padded planes' insides (their borders stay as cleared).
    private static void CopyIn(in Implicit s, ReadOnlySpan<float> x, float[] padded)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pp = ref MemoryMarshal.GetArrayDataReference(padded);
        int width = Math.Min(s.Width, s.RowWidth - s.PadLeft), height = Math.Min(s.Height, s.PaddedRows - s.PadTop);
        for (int c = 0; c < s.Channels; c++)
        {
            for (int y = 0; y < height; y++)
            {
                Copy(ref Unsafe.Add(ref pp, (c * s.Plane) + ((y + s.PadTop) * s.RowWidth) + s.PadLeft), ref Unsafe.Add(ref px, ((c * s.Height) + y) * s.Width), width, 0f);
            }
        }
    }

    // output[i, oy, ox] = Σ_(c, ki, kj) a[i·K + (c·kH + ki)·kW + kj]·x[c, oy - PadTop + ki·d, ox - PadLeft + kj·d]
    // (+ bias[i]), x read as 0 outside the sample; rows a multiple of 8.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sample(Span<float> output, ReadOnlySpan<float> x, ReadOnlySpan<float> a, ReadOnlySpan<float> bias, int rows, in Implicit s, float[] padded, float[] wide, int[] offsets)
    {
        int rw = s.RowWidth, grid = s.Grid, k = s.K;
        CopyIn(s, x, padded);
        ref float pp = ref MemoryMarshal.GetArrayDataReference(padded);

        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pw = ref MemoryMarshal.GetArrayDataReference(wide);
        ref int po = ref MemoryMarshal.GetArrayDataReference(offsets);
        for (int q0 = 0; q0 < grid; q0 += 32)
        {
            for (int i = 0; i < rows; i += 8)
            {
                MatMul.Outer8x32Offsets(ref Unsafe.Add(ref pw, (i * grid) + q0), grid, ref Unsafe.Add(ref pa, i * k), k, ref Unsafe.Add(ref pp, q0), ref po, k);
            }
        }

        ref float py = ref MemoryMarshal.GetReference(output);
        int ow = s.OutWidth, plane = s.OutHeight * ow;
        for (int i = 0; i < rows; i++)
        {
            float b = bias.IsEmpty ? 0f : bias[i];
            for (int oy = 0; oy < s.OutHeight; oy++)
            {
                Copy(ref Unsafe.Add(ref py, (i * plane) + (oy * ow)), ref Unsafe.Add(ref pw, (i * grid) + (oy * rw)), ow, b);
            }
        }
    }

    // to[0, n) = from[0, n) + add, exactly n values written: whole vectors, then one more ending at n where n
    // is not a multiple (it rewrites a few with the same values).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(ref float to, ref float from, int n, float add)
    {
        if (n >= 16)
        {
            var v = Vector512.Create(add);
            int j = 0;
            for (; j + 16 <= n; j += 16)
            {
                (Vector512.LoadUnsafe(ref from, (nuint)j) + v).StoreUnsafe(ref to, (nuint)j);
            }

            if (j < n)
            {
                (Vector512.LoadUnsafe(ref from, (nuint)(n - 16)) + v).StoreUnsafe(ref to, (nuint)(n - 16));
            }
        }
        else if (n >= 8)
        {
            var v = Vector256.Create(add);
            (Vector256.LoadUnsafe(ref from) + v).StoreUnsafe(ref to);
            (Vector256.LoadUnsafe(ref from, (nuint)(n - 8)) + v).StoreUnsafe(ref to, (nuint)(n - 8));
        }
        else
        {
            for (int j = 0; j < n; j++)
            {
                Unsafe.Add(ref to, j) = Unsafe.Add(ref from, j) + add;
            }
        }
    }

    // The forward sample by sample on the padded input: the bits of im2col and the product where that product's
    // columns are all in vector tiles (the same fused chains over k, in order, and the bias added after).
    private static void ForwardImplicitSamples(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int batch, int filters, in Window2D g)
    {
        Implicit s = Implicit.Forward(g);
        (float[] padded, float[] wide, int[] offsets) = Prepare(s, filters);
        int outSize = filters * g.Positions;
        for (int n = 0; n < batch; n++)
        {
            Sample(output.Slice(n * outSize, outSize), input.Slice(n * g.InputSize, g.InputSize), weight, bias, filters, s, padded, wide, offsets);
        }
    }

    // The input gradient on the padded dY, set up once a call: the layout, the thread's buffers (the padded planes
    // cleared, the offsets written) and the flipped weights; Sample writes one sample's dX.
    private readonly struct PaddedInputGradient
    {
        private readonly Implicit _layout;
        private readonly float[] _padded, _wide, _flipped;
        private readonly int[] _offsets;
        private readonly int _channels;

        public PaddedInputGradient(ReadOnlySpan<float> weight, int filters, in Window2D g)
        {
            _layout = Implicit.InputGradient(g, filters);
            (_padded, _wide, _offsets) = Prepare(_layout, g.Channels);
            _flipped = FlippedWeights(weight, filters, g);
            _channels = g.Channels;
        }

        public void Sample(Span<float> dx, ReadOnlySpan<float> dy) => ConvKernels.Sample(dx, dy, _flipped, default, _channels, _layout, _padded, _wide, _offsets);
    }

    // The weights flipped and transposed for the input gradient: flipped[c, (f·kH + ki)·kW + kj] = W[f, c, kH - 1 - ki, kW - 1 - kj].
    private static float[] FlippedWeights(ReadOnlySpan<float> weight, int filters, in Window2D g)
    {
        int kh = g.KernelHeight, kw = g.KernelWidth, taps = kh * kw, k = g.PatchSize;
        float[] flipped = Buffer(ref t_flipped, g.Channels * filters * taps);
        for (int c = 0; c < g.Channels; c++)
        {
            for (int f = 0; f < filters; f++)
            {
                for (int t = 0; t < taps; t++)
                {
                    flipped[(c * filters * taps) + (f * taps) + t] = weight[(f * k) + (c * taps) + (taps - 1 - t)];
                }
            }
        }

        return flipped;
    }
}
