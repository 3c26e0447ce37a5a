using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// The geometry of a 2-D window sliding over a [C, H, W] input: kernel, stride, dilation and
/// padding (before; the padding after follows from the output size). Shared by convolution
/// and pooling kernels.
/// </summary>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="KernelHeight">Window height.</param>
/// <param name="KernelWidth">Window width.</param>
/// <param name="Stride">Step between windows.</param>
/// <param name="Dilation">Spacing between window taps.</param>
/// <param name="PadTop">Zero rows before the input.</param>
/// <param name="PadLeft">Zero columns before the input.</param>
/// <param name="OutHeight">Output height.</param>
/// <param name="OutWidth">Output width.</param>
public readonly record struct Window2D(
    int Channels, int Height, int Width, int KernelHeight, int KernelWidth, int Stride, int Dilation, int PadTop, int PadLeft, int OutHeight, int OutWidth)
{
    /// <summary>Values in one input sample.</summary>
    public int InputSize => Channels * Height * Width;

    /// <summary>Rows of the im2col matrix: C·kH·kW.</summary>
    public int PatchSize => Channels * KernelHeight * KernelWidth;

    /// <summary>Output positions: OH·OW.</summary>
    public int Positions => OutHeight * OutWidth;
}

/// <summary>
/// Convolution and pooling kernels on channels-first tensors ([N, C, H, W], as PyTorch).
/// Convolution is lowered to the register-blocked matrix product: im2col of one sample into
/// a [C·kH·kW, OH·OW] scratch matrix, then <c>W·col</c>; the backward pass uses the transposed
/// products and col2im. No kernel allocates; the scratch is sized by the caller, once.
/// </summary>
public static class ConvKernels
{
    /// <summary>Unfolds one sample into <paramref name="columns"/> [C·kH·kW, OH·OW]; padding reads as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2Col(Span<float> columns, ReadOnlySpan<float> input, in Window2D g)
    {
        int p = g.Positions;
        for (int c = 0; c < g.Channels; c++)
        {
            for (int ki = 0; ki < g.KernelHeight; ki++)
            {
                for (int kj = 0; kj < g.KernelWidth; kj++)
                {
                    Span<float> row = columns.Slice((((c * g.KernelHeight) + ki) * g.KernelWidth + kj) * p, p);
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
                        if (g.Stride == 1 && x0 >= 0 && x0 + g.OutWidth <= g.Width)
                        {
                            inRow.Slice(x0, g.OutWidth).CopyTo(outRow);
                            continue;
                        }

                        for (int ox = 0; ox < g.OutWidth; ox++)
                        {
                            int x = x0 + (ox * g.Stride);
                            outRow[ox] = (uint)x < (uint)g.Width ? inRow[x] : 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>Folds <paramref name="columns"/> back, adding each entry into its input position (the adjoint of <see cref="Im2Col"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2ImAdd(Span<float> input, ReadOnlySpan<float> columns, in Window2D g)
    {
        int p = g.Positions;
        for (int c = 0; c < g.Channels; c++)
        {
            for (int ki = 0; ki < g.KernelHeight; ki++)
            {
                for (int kj = 0; kj < g.KernelWidth; kj++)
                {
                    ReadOnlySpan<float> row = columns.Slice((((c * g.KernelHeight) + ki) * g.KernelWidth + kj) * p, p);
                    for (int oy = 0; oy < g.OutHeight; oy++)
                    {
                        int y = (oy * g.Stride) - g.PadTop + (ki * g.Dilation);
                        if ((uint)y >= (uint)g.Height)
                        {
                            continue;
                        }

                        Span<float> inRow = input.Slice(((c * g.Height) + y) * g.Width, g.Width);
                        int x0 = (kj * g.Dilation) - g.PadLeft;
                        for (int ox = 0; ox < g.OutWidth; ox++)
                        {
                            int x = x0 + (ox * g.Stride);
                            if ((uint)x < (uint)g.Width)
                            {
                                inRow[x] += row[(oy * g.OutWidth) + ox];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d) of <paramref name="batch"/> samples:
    /// <c>output[n, f] = weight[f] ⋆ input[n] + bias[f]</c>, weight [F, C, kH, kW].
    /// </summary>
    /// <param name="output">[batch, F, OH, OW].</param>
    /// <param name="columns">Scratch of C·kH·kW·OH·OW values.</param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="bias">[F], or empty.</param>
    /// <param name="batch">Samples.</param>
    /// <param name="filters">F.</param>
    /// <param name="g">The window geometry.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2DForward(Span<float> output, Span<float> columns, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int batch, int filters, in Window2D g)
    {
        int k = g.PatchSize, p = g.Positions, outSize = filters * p;
        Span<float> col = columns.Slice(0, k * p);
        for (int n = 0; n < batch; n++)
        {
            Im2Col(col, input.Slice(n * g.InputSize, g.InputSize), g);
            Span<float> y = output.Slice(n * outSize, outSize);
            MatMul.Multiply(y, weight, k, 1, col, filters, p, k, accumulate: false);
            if (!bias.IsEmpty)
            {
                for (int f = 0; f < filters; f++)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(y.Slice(f * p, p), bias[f], y.Slice(f * p, p));
                }
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Conv2DForward"/>: <c>dWeight += Σ_n dOut[n]·col[n]ᵀ</c>, <c>dBias += Σ dOut</c>,
    /// <c>dInput[n] = col2im(Wᵀ·dOut[n])</c>.
    /// </summary>
    /// <param name="dInput">[batch, C, H, W], overwritten; empty when not needed.</param>
    /// <param name="dWeight">[F, C, kH, kW], accumulated.</param>
    /// <param name="dBias">[F], accumulated; empty without bias.</param>
    /// <param name="columns">Scratch of C·kH·kW·OH·OW values.</param>
    /// <param name="dOutput">[batch, F, OH, OW].</param>
    /// <param name="input">[batch, C, H, W], the forward input.</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="filters">F.</param>
    /// <param name="g">The window geometry.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2DBackward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, Span<float> columns, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int batch, int filters, in Window2D g)
    {
        int k = g.PatchSize, p = g.Positions, outSize = filters * p;
        Span<float> col = columns.Slice(0, k * p);
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> dy = dOutput.Slice(n * outSize, outSize);
            if (!dBias.IsEmpty)
            {
                for (int f = 0; f < filters; f++)
                {
                    dBias[f] += System.Numerics.Tensors.TensorPrimitives.Sum(dy.Slice(f * p, p));
                }
            }

            Im2Col(col, input.Slice(n * g.InputSize, g.InputSize), g);
            MatMul.MultiplyTransposed(dWeight, dy, col, filters, k, p, accumulate: true);
            if (!dInput.IsEmpty)
            {
                // dcol[k, p] = Σ_f W[f, k]·dy[f, p]: Wᵀ through strides (1, K).
                MatMul.Multiply(col, weight, 1, k, dy, k, p, filters, accumulate: false);
                Span<float> dx = dInput.Slice(n * g.InputSize, g.InputSize);
                dx.Clear();
                Col2ImAdd(dx, col, g);
            }
        }
    }

    /// <summary>Max pooling; records each output's winning input index (within its sample) for the backward pass. Padding never wins.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxPoolForward(Span<float> output, Span<int> argmax, ReadOnlySpan<float> input, int batch, in Window2D g)
    {
        int outSize = g.Channels * g.Positions;
        MatMul.CheckLength(input.Length, (long)batch * g.InputSize, nameof(input));
        MatMul.CheckLength(output.Length, (long)batch * outSize, nameof(output));
        MatMul.CheckLength(argmax.Length, (long)batch * outSize, nameof(argmax));
        if (g.PadTop == 0 && g.PadLeft == 0)
        {
            // Every window lies inside the input (valid padding): no bounds to test per tap.
            ref float x = ref MemoryMarshal.GetReference(input);
            ref float y = ref MemoryMarshal.GetReference(output);
            ref int a = ref MemoryMarshal.GetReference(argmax);
            bool pairs = Vector256.IsHardwareAccelerated && g.KernelHeight == 2 && g.KernelWidth == 2 && g.Stride == 2 && g.Dilation == 1;
            int o = 0;
            for (int plane = 0; plane < batch * g.Channels; plane++)
            {
                int planeStart = plane * g.Height * g.Width;
                int sampleStart = (plane / g.Channels) * g.InputSize;
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    int ox = 0;
                    if (pairs)
                    {
                        // 2x2 windows, stride 2 (the common case): eight outputs at a time, the even and
                        // odd columns of two input rows deinterleaved, compared with vector selects.
                        // The last block may overlap the previous one (recomputing the same outputs), so
                        // that a row of 14 outputs takes two vector blocks rather than one and six scalar.
                        int blocks = g.OutWidth >= 8 && (2 * (g.OutWidth - 8)) + 16 <= g.Width ? (g.OutWidth + 7) / 8 : 0;
                        int rowStart = o;
                        for (int blockIndex = 0; blockIndex < blocks; blockIndex++)
                        {
                            ox = Math.Min(blockIndex * 8, g.OutWidth - 8);
                            o = rowStart + ox;
                            int top = planeStart + (2 * oy * g.Width) + (2 * ox);
                            var first = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
                            Vector256<float> t0 = Vector256.Shuffle(Vector256.LoadUnsafe(ref x, (nuint)top), first);
                            Vector256<float> t1 = Vector256.Shuffle(Vector256.LoadUnsafe(ref x, (nuint)(top + 8)), first);
                            Vector256<float> b0 = Vector256.Shuffle(Vector256.LoadUnsafe(ref x, (nuint)(top + g.Width)), first);
                            Vector256<float> b1 = Vector256.Shuffle(Vector256.LoadUnsafe(ref x, (nuint)(top + g.Width + 8)), first);
                            var topEven = Vector256.Create(t0.GetLower(), t1.GetLower());
                            var topOdd = Vector256.Create(t0.GetUpper(), t1.GetUpper());
                            var bottomEven = Vector256.Create(b0.GetLower(), b1.GetLower());
                            var bottomOdd = Vector256.Create(b0.GetUpper(), b1.GetUpper());
                            Vector256<int> index = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14) + Vector256.Create(top - sampleStart);

                            // Visit the taps in the scalar order, strictly greater wins: the same winners.
                            Vector256<float> best = topEven;
                            Vector256<int> bestIndex = index;
                            Vector256<float> wins = Vector256.GreaterThan(topOdd, best);
                            best = Vector256.ConditionalSelect(wins, topOdd, best);
                            bestIndex = Vector256.ConditionalSelect(wins.AsInt32(), index + Vector256<int>.One, bestIndex);
                            wins = Vector256.GreaterThan(bottomEven, best);
                            best = Vector256.ConditionalSelect(wins, bottomEven, best);
                            bestIndex = Vector256.ConditionalSelect(wins.AsInt32(), index + Vector256.Create(g.Width), bestIndex);
                            wins = Vector256.GreaterThan(bottomOdd, best);
                            best = Vector256.ConditionalSelect(wins, bottomOdd, best);
                            bestIndex = Vector256.ConditionalSelect(wins.AsInt32(), index + Vector256.Create(g.Width + 1), bestIndex);
                            best.StoreUnsafe(ref y, (nuint)o);
                            bestIndex.StoreUnsafe(ref a, (nuint)o);
                        }

                        ox = blocks > 0 ? g.OutWidth : 0;
                        o = rowStart + ox;
                    }

                    for (; ox < g.OutWidth; ox++, o++)
                    {
                        int start = planeStart + (oy * g.Stride * g.Width) + (ox * g.Stride);
                        int bestIndex = start;
                        float best = Unsafe.Add(ref x, start);
                        for (int ki = 0; ki < g.KernelHeight; ki++)
                        {
                            int row = start + (ki * g.Dilation * g.Width);
                            for (int kj = 0; kj < g.KernelWidth; kj++)
                            {
                                // Branch-free (conditional moves): on real data the winner is unpredictable,
                                // and a mispredicted branch per tap cost more than the rest of the loop.
                                int index = row + (kj * g.Dilation);
                                float v = Unsafe.Add(ref x, index);
                                bool wins = v > best;
                                bestIndex = wins ? index : bestIndex;
                                best = wins ? v : best;
                            }
                        }

                        Unsafe.Add(ref y, o) = best;
                        Unsafe.Add(ref a, o) = bestIndex - sampleStart;
                    }
                }
            }

            return;
        }

        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> x = input.Slice(n * g.InputSize, g.InputSize);
            for (int c = 0; c < g.Channels; c++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float best = float.NegativeInfinity;
                        int bestIndex = -1;
                        for (int ki = 0; ki < g.KernelHeight; ki++)
                        {
                            int y = (oy * g.Stride) - g.PadTop + (ki * g.Dilation);
                            if ((uint)y >= (uint)g.Height)
                            {
                                continue;
                            }

                            for (int kj = 0; kj < g.KernelWidth; kj++)
                            {
                                int xx = (ox * g.Stride) - g.PadLeft + (kj * g.Dilation);
                                if ((uint)xx >= (uint)g.Width)
                                {
                                    continue;
                                }

                                int index = ((c * g.Height) + y) * g.Width + xx;
                                if (bestIndex < 0 || x[index] > best)
                                {
                                    best = x[index];
                                    bestIndex = index;
                                }
                            }
                        }

                        int o = (n * outSize) + (((c * g.OutHeight) + oy) * g.OutWidth) + ox;
                        output[o] = best;
                        argmax[o] = bestIndex;
                    }
                }
            }
        }
    }

    /// <summary>Backward of max pooling: each output gradient goes to its winning input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxPoolBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, int batch, in Window2D g)
    {
        int outSize = g.Channels * g.Positions;
        dInput.Slice(0, batch * g.InputSize).Clear();
        for (int n = 0; n < batch; n++)
        {
            Span<float> dx = dInput.Slice(n * g.InputSize, g.InputSize);
            for (int o = 0; o < outSize; o++)
            {
                int index = argmax[(n * outSize) + o];
                if (index >= 0)
                {
                    dx[index] += dOutput[(n * outSize) + o];
                }
            }
        }
    }

    /// <summary>
    /// Average pooling; padding counts as zeros in the average (PyTorch's default,
    /// count_include_pad=True), so every window divides by kH·kW.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgPoolForward(Span<float> output, ReadOnlySpan<float> input, int batch, in Window2D g)
    {
        int outSize = g.Channels * g.Positions;
        float scale = 1f / (g.KernelHeight * g.KernelWidth);
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> x = input.Slice(n * g.InputSize, g.InputSize);
            for (int c = 0; c < g.Channels; c++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float sum = 0f;
                        for (int ki = 0; ki < g.KernelHeight; ki++)
                        {
                            int y = (oy * g.Stride) - g.PadTop + (ki * g.Dilation);
                            if ((uint)y >= (uint)g.Height)
                            {
                                continue;
                            }

                            for (int kj = 0; kj < g.KernelWidth; kj++)
                            {
                                int xx = (ox * g.Stride) - g.PadLeft + (kj * g.Dilation);
                                if ((uint)xx < (uint)g.Width)
                                {
                                    sum += x[((c * g.Height) + y) * g.Width + xx];
                                }
                            }
                        }

                        output[(n * outSize) + (((c * g.OutHeight) + oy) * g.OutWidth) + ox] = sum * scale;
                    }
                }
            }
        }
    }

    /// <summary>Backward of average pooling.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgPoolBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, int batch, in Window2D g)
    {
        int outSize = g.Channels * g.Positions;
        float scale = 1f / (g.KernelHeight * g.KernelWidth);
        dInput.Slice(0, batch * g.InputSize).Clear();
        for (int n = 0; n < batch; n++)
        {
            Span<float> dx = dInput.Slice(n * g.InputSize, g.InputSize);
            for (int c = 0; c < g.Channels; c++)
            {
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float d = dOutput[(n * outSize) + (((c * g.OutHeight) + oy) * g.OutWidth) + ox] * scale;
                        for (int ki = 0; ki < g.KernelHeight; ki++)
                        {
                            int y = (oy * g.Stride) - g.PadTop + (ki * g.Dilation);
                            if ((uint)y >= (uint)g.Height)
                            {
                                continue;
                            }

                            for (int kj = 0; kj < g.KernelWidth; kj++)
                            {
                                int xx = (ox * g.Stride) - g.PadLeft + (kj * g.Dilation);
                                if ((uint)xx < (uint)g.Width)
                                {
                                    dx[((c * g.Height) + y) * g.Width + xx] += d;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Global average pooling: [N, C, H·W] → [N, C].</summary>
    public static void GlobalAveragePoolForward(Span<float> output, ReadOnlySpan<float> input, int batch, int channels, int spatial)
    {
        for (int i = 0; i < batch * channels; i++)
        {
            output[i] = System.Numerics.Tensors.TensorPrimitives.Sum(input.Slice(i * spatial, spatial)) / spatial;
        }
    }

    /// <summary>Backward of global average pooling.</summary>
    public static void GlobalAveragePoolBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, int batch, int channels, int spatial)
    {
        for (int i = 0; i < batch * channels; i++)
        {
            dInput.Slice(i * spatial, spatial).Fill(dOutput[i] / spatial);
        }
    }
}
