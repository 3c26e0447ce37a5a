using System;
using System.Runtime.InteropServices;

namespace NetGen;

// The backward of a stride-1 convolution with the weight gradient taken from the zero-padded input (the
// forward's layout, ConvKernels.Implicit.cs) rather than from its patch matrix: dWᵀ(K x F) += Σ over a
// sample's positions of the padded input at each tap's offset times dY (MatMul.MultiplyTransposedTaps),
// sample after sample. The patch matrix (im2col) it no longer writes and reads back was K x m·P values a
// chunk of m samples: 1.8 MB for the sample CNN's second convolution (144 x 16·196), past L2. Each value of
// dWᵀ gets the fused multiply-add chain the packed product of cols·dYᵀ gives it (over the samples, and each
// sample's positions, in order), so the same bits as the im2col path.
public static partial class ConvKernels
{
    /// <summary>Whether WeightGradientImplicit's convolutions take this path (benchmarks switch it off to compare).</summary>
    internal static bool WeightGradientOnPadded { get; set; } = true;

    [ThreadStatic]
    private static float[]? t_tapsPadded;

    [ThreadStatic]
    private static int[]? t_tapsOffsets;

    [ThreadStatic]
    private static float[]? t_tapsGradient;

    // K and F in whole 8 x 32 tiles, 512-bit tiles only, a product the im2col path gives to the packed 8 x 32
    // tiles too (K ≥ F: not the swapped product), and no input gradient or one on the padded dY: this path goes
    // sample by sample, where Wᵀ·dY and col2im over several samples at once win on small planes (7x7 from 32
    // to 64: 0.65x sample by sample, see PerSampleFrom).
    private static bool WeightGradientImplicit(in Window2D g, int filters, bool inputGradient) =>
        ImplicitProducts && WeightGradientOnPadded && MatMul.UseVectors && MatMul.Use512 && g.Stride == 1 && filters % 32 == 0 && g.PatchSize % 8 == 0 && g.PatchSize >= filters
        && (!inputGradient || InputGradientImplicit(g, filters));

    // Conv2DBackward for WeightGradientImplicit's convolutions, sample by sample.
    private static void BackwardOnPaddedInput(Span<float> dInput, Span<float> dWeight, Span<float> dBias, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int batch, int filters, in Window2D g)
    {
        Implicit s = Implicit.Forward(g);
        int k = g.PatchSize, p = g.Positions, outSize = filters * p;
        float[] padded = Buffer(ref t_tapsPadded, s.Channels * s.Plane);
        float[] dWt = Buffer(ref t_tapsGradient, k * filters);
        int[] offsets = t_tapsOffsets is { } o && o.Length >= k ? o : t_tapsOffsets = new int[k];
        padded.AsSpan(0, s.Channels * s.Plane).Clear();
        WriteOffsets(s, offsets);
        PaddedInputGradient? paddedGradient = dInput.IsEmpty ? null : new PaddedInputGradient(weight, filters, g);
        ref float pp = ref MemoryMarshal.GetArrayDataReference(padded);
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> dy = dOutput.Slice(n * outSize, outSize);
            AddBiasGradient(dBias, dy, filters, p);

            CopyIn(s, input.Slice(n * g.InputSize, g.InputSize), padded);
            MatMul.MultiplyTransposedTaps(ref MemoryMarshal.GetArrayDataReference(dWt), filters, ref pp, offsets.AsSpan(0, k), s.RowWidth, s.OutHeight, s.OutWidth, ref MemoryMarshal.GetReference(dy), k, filters, accumulate: n > 0);
            paddedGradient?.Sample(dInput.Slice(n * g.InputSize, g.InputSize), dy);
        }

        if (batch > 0)
        {
            AddTransposed(dWeight, dWt.AsSpan(0, k * filters), filters, k);
        }
    }
}
