using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>Pooling over each channel of [C, H, W]: max, average and global average, forward and backward.</summary>
public static partial class ConvKernels
{
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
            var pool = new Pool512(g);
            for (int plane = 0; plane < batch * g.Channels; plane++)
            {
                MaxPoolPlane(ref x, ref y, ref a, plane, g, pool, default(Tap));
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

    // One plane (a sample's channel) of max pooling without padding, its outputs from plane·OutHeight·OutWidth:
    // each input value as tap gives it (itself, or normalised on the fly by BatchNormMaxPool). Struct taps: the
    // JIT compiles a copy per kind, so plain pooling runs the code it ran before.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxPoolPlane<TTap>(ref float x, ref float y, ref int a, int plane, in Window2D g, in Pool512 pool, TTap tap)
        where TTap : struct, IPoolTap
    {
        bool pairs = Vector256.IsHardwareAccelerated && g.KernelHeight == 2 && g.KernelWidth == 2 && g.Stride == 2 && g.Dilation == 1;
        int o = plane * g.OutHeight * g.OutWidth;
        int planeStart = plane * g.Height * g.Width;
        int sampleStart = (plane / g.Channels) * g.InputSize;
        int firstRow = 0;
        if (pairs && Pools512)
        {
            firstRow = MaxPoolRows512(ref x, ref y, ref a, planeStart, o, sampleStart, g, pool, tap);
            o += firstRow * g.OutWidth;
        }

        for (int oy = firstRow; oy < g.OutHeight; oy++)
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
                    Vector256<float> t0 = Vector256.Shuffle(tap.Apply(Vector256.LoadUnsafe(ref x, (nuint)top)), first);
                    Vector256<float> t1 = Vector256.Shuffle(tap.Apply(Vector256.LoadUnsafe(ref x, (nuint)(top + 8))), first);
                    Vector256<float> b0 = Vector256.Shuffle(tap.Apply(Vector256.LoadUnsafe(ref x, (nuint)(top + g.Width))), first);
                    Vector256<float> b1 = Vector256.Shuffle(tap.Apply(Vector256.LoadUnsafe(ref x, (nuint)(top + g.Width + 8))), first);
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

                // Rows of 4 to 7 outputs (a 14-wide input pooled to 7): four at a time, from one
                // 8-wide load per input row deinterleaved, the last block overlapping the first.
                int narrowBlocks = blocks == 0 && g.OutWidth >= 4 && (2 * (g.OutWidth - 4)) + 8 <= g.Width ? (g.OutWidth + 3) / 4 : 0;
                for (int blockIndex = 0; blockIndex < narrowBlocks; blockIndex++)
                {
                    ox = Math.Min(blockIndex * 4, g.OutWidth - 4);
                    o = rowStart + ox;
                    int top = planeStart + (2 * oy * g.Width) + (2 * ox);
                    var evenOdd = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
                    Vector256<float> t = Vector256.Shuffle(tap.Apply(Vector256.LoadUnsafe(ref x, (nuint)top)), evenOdd);
                    Vector256<float> b = Vector256.Shuffle(tap.Apply(Vector256.LoadUnsafe(ref x, (nuint)(top + g.Width))), evenOdd);
                    Vector128<int> index = Vector128.Create(0, 2, 4, 6) + Vector128.Create(top - sampleStart);
                    Vector128<float> best = t.GetLower();
                    Vector128<int> bestIndex = index;
                    Vector128<float> candidate = t.GetUpper();
                    Vector128<float> wins = Vector128.GreaterThan(candidate, best);
                    best = Vector128.ConditionalSelect(wins, candidate, best);
                    bestIndex = Vector128.ConditionalSelect(wins.AsInt32(), index + Vector128<int>.One, bestIndex);
                    candidate = b.GetLower();
                    wins = Vector128.GreaterThan(candidate, best);
                    best = Vector128.ConditionalSelect(wins, candidate, best);
                    bestIndex = Vector128.ConditionalSelect(wins.AsInt32(), index + Vector128.Create(g.Width), bestIndex);
                    candidate = b.GetUpper();
                    wins = Vector128.GreaterThan(candidate, best);
                    best = Vector128.ConditionalSelect(wins, candidate, best);
                    bestIndex = Vector128.ConditionalSelect(wins.AsInt32(), index + Vector128.Create(g.Width + 1), bestIndex);
                    best.StoreUnsafe(ref y, (nuint)o);
                    bestIndex.StoreUnsafe(ref a, (nuint)o);
                }

                ox = blocks + narrowBlocks > 0 ? g.OutWidth : 0;
                o = rowStart + ox;
            }

            for (; ox < g.OutWidth; ox++, o++)
            {
                int start = planeStart + (oy * g.Stride * g.Width) + (ox * g.Stride);
                int bestIndex = start;
                float best = tap.Apply(Unsafe.Add(ref x, start));
                for (int ki = 0; ki < g.KernelHeight; ki++)
                {
                    int row = start + (ki * g.Dilation * g.Width);
                    for (int kj = 0; kj < g.KernelWidth; kj++)
                    {
                        // Branch-free (conditional moves): on real data the winner is unpredictable,
                        // and a mispredicted branch per tap cost more than the rest of the loop.
                        int index = row + (kj * g.Dilation);
                        float v = tap.Apply(Unsafe.Add(ref x, index));
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

    // What max pooling compares: each input value as it is (Tap), or as a layer before would have written it.
    private interface IPoolTap
    {
        Vector512<float> Apply(Vector512<float> v);

        Vector256<float> Apply(Vector256<float> v);

        float Apply(float v);
    }

    private readonly struct Tap : IPoolTap
    {
        public Vector512<float> Apply(Vector512<float> v) => v;

        public Vector256<float> Apply(Vector256<float> v) => v;

        public float Apply(float v) => v;
    }

    /// <summary>Backward of max pooling: each output gradient goes to its winning input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxPoolBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, int batch, in Window2D g)
    {
        int outSize = g.Channels * g.Positions;
        MatMul.CheckLength(dInput.Length, (long)batch * g.InputSize, nameof(dInput));
        MatMul.CheckLength(dOutput.Length, (long)batch * outSize, nameof(dOutput));
        MatMul.CheckLength(argmax.Length, (long)batch * outSize, nameof(argmax));
        if (WritesPooledGradient(g))
        {
            MaxPoolBackward2x2(dInput, dOutput, argmax, batch, g);
            return;
        }

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
