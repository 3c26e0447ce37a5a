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
public static partial class ConvKernels
{
    /// <summary>The most samples one product takes (tests and benchmarks set 1 to force the sample-by-sample path).</summary>
    internal static int MaxSamplesPerProduct { get; set; } = 16;

    /// <summary>
    /// The output positions (OH·OW) from which a convolution goes sample by sample even when its scratch holds
    /// several samples, when they come in whole groups of 4 (the generator sizes the scratch for one sample
    /// there: Conv2D.SamplesPerProduct; see SamplesPerProduct below for the other sizes). A sample's own
    /// product is then wide enough (four 32-column tiles or more) and writes its output in place, where
    /// several samples side by side need their [F, m·P] product copied out and dY gathered in; its patch matrix
    /// stays in L2. Against the generator's batches (<c>--conv-ab</c>, alternating blocks, 64 samples, 3x3, two
    /// runs): forward 1.19-1.22x for 28x28 from 1 channel to 16, 1.04-1.07x for 14x14 from 16 to 32, 1.12-1.13x
    /// for 12x12, 1.44-1.73x for 32x32 from 3; backward 1.27-1.33x for the 28x28 (no input gradient), 1.02-1.05x
    /// for 14x14, 0.92-0.96x for 32x32 from 3; the sample CNN's step 1.04-1.07x (alternating processes). Below
    /// it batches win: 7x7 from 32 to 64 0.48-0.53x forward sample by sample, 0.65-0.66x backward; 10x10
    /// forward 0.68-0.99x. Benchmarks set int.MaxValue to compare.
    /// </summary>
    internal static int PerSampleFrom { get; set; } = 128;

    // Samples per product: 1 when a sample has PerSampleFrom output positions or more in whole groups of 4 (a
    // sample's product then ends in vector tiles); otherwise as many as the scratch holds, up to
    // MaxSamplesPerProduct. 13x13's 169 and 15x15's 225 end in a column of scalar sums: sample by sample measured
    // 0.91x and 0.97x of batched forward, 0.94x and 0.96x backward (0.72x and 0.85x forward before those columns'
    // sums were interleaved); 27x27's 729 measured 1.10-1.19x forward and 1.04x backward, and stays batched too.
    private static int SamplesPerProduct(int batch, int scratch, int k, int p, int filters) =>
        p >= PerSampleFrom && p % 4 == 0 ? 1 : Math.Min(Math.Min(batch, MaxSamplesPerProduct), (scratch - (k * filters)) / ((k + filters) * p));

    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d) of <paramref name="batch"/> samples:
    /// <c>output[n, f] = weight[f] ⋆ input[n] + bias[f]</c>, weight [F, C, kH, kW].
    /// </summary>
    /// <param name="output">[batch, F, OH, OW].</param>
    /// <param name="columns">
    /// Scratch of C·kH·kW·OH·OW values at least; with room for m ≥ 2 samples' patch matrices and outputs
    /// and a transposed weight gradient (see <see cref="BatchedColumns"/>), m samples go through one product
    /// unless a sample has 128 output positions or more in whole groups of 4 (then its own product is wide enough).
    /// </param>
    /// <param name="input">[batch, C, H, W].</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="bias">[F], or empty.</param>
    /// <param name="batch">Samples.</param>
    /// <param name="filters">F.</param>
    /// <param name="g">The window geometry.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2DForward(Span<float> output, Span<float> columns, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int batch, int filters, in Window2D g)
    {
        CheckConvolution(output.Length, input.Length, weight.Length, bias.Length, batch, filters, g, nameof(output), nameof(bias));
        if (ForwardImplicit(g, filters))
        {
            // Sample by sample on the padded input, whatever the size: its product's columns are the grid's whole
            // strips of 32, where a small or odd-sized sample's patch matrix ends in narrow tiles. --conv-ab (two
            // runs, against several samples per product): 7x7 1.00-1.07x, 8x8 0.99-1.66x, 10x10 1.13-1.14x, 13x13
            // 1.02-1.12x, 15x15 1.23-1.27x. The same bits as through im2col where that product ends in vector tiles
            // (positions in whole groups of 4: its last 1 to 3 columns are unfused scalar sums).
            ForwardImplicitSamples(output, input, weight, bias, batch, filters, g);
            return;
        }

        int k = g.PatchSize, p = g.Positions, outSize = filters * p;
        int chunk = SamplesPerProduct(batch, columns.Length, k, p, filters);
        if (chunk >= 2)
        {
            // m samples at once: their patch matrices side by side as one [K, m·P] matrix, one product into
            // [F, m·P], then each sample's [F, P] block copied out (with the bias).
            for (int n0 = 0; n0 < batch; n0 += chunk)
            {
                int m = Math.Min(chunk, batch - n0), width = m * p;
                Span<float> cols = columns.Slice(0, k * width);
                Span<float> y = columns.Slice(k * width, filters * width);
                for (int j = 0; j < m; j++)
                {
                    Im2ColAt(cols, input.Slice((n0 + j) * g.InputSize, g.InputSize), g, width, j * p);
                }

                MatMul.Multiply(y, weight, k, 1, cols, filters, width, k, accumulate: false);
                for (int j = 0; j < m; j++)
                {
                    for (int f = 0; f < filters; f++)
                    {
                        ReadOnlySpan<float> from = y.Slice((f * width) + (j * p), p);
                        Span<float> to = output.Slice(((n0 + j) * outSize) + (f * p), p);
                        if (bias.IsEmpty)
                        {
                            from.CopyTo(to);
                        }
                        else
                        {
                            System.Numerics.Tensors.TensorPrimitives.Add(from, bias[f], to);
                        }
                    }
                }
            }

            return;
        }

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

    // The lengths every convolution call needs, checked before anything is written: the padded-input products
    // read the weights and the samples through unchecked references.
    private static void CheckConvolution(int outputs, int inputs, int weights, int biases, int batch, int filters, in Window2D g, string outputName, string biasName)
    {
        MatMul.CheckLength(outputs, (long)batch * filters * g.Positions, outputName);
        MatMul.CheckLength(inputs, (long)batch * g.InputSize, "input");
        MatMul.CheckLength(weights, (long)filters * g.PatchSize, "weight");
        if (biases != 0)
        {
            MatMul.CheckLength(biases, filters, biasName);
        }
    }

    /// <summary>
    /// The scratch a convolution needs to put <paramref name="samples"/> samples through one product:
    /// their patch matrices and their outputs, and the weight gradient transposed,
    /// <c>samples·(C·kH·kW + F)·OH·OW + C·kH·kW·F</c> values.
    /// </summary>
    /// <param name="g">The window.</param>
    /// <param name="filters">Output channels.</param>
    /// <param name="samples">Samples per product.</param>
    /// <returns>The length.</returns>
    public static long BatchedColumns(in Window2D g, int filters, int samples) => ((long)samples * (g.PatchSize + filters) * g.Positions) + ((long)g.PatchSize * filters);

    /// <summary>
    /// Backward of <see cref="Conv2DForward"/>: <c>dWeight += Σ_n dOut[n]·col[n]ᵀ</c>, <c>dBias += Σ dOut</c>,
    /// <c>dInput[n] = col2im(Wᵀ·dOut[n])</c>.
    /// </summary>
    /// <param name="dInput">[batch, C, H, W], overwritten; empty when not needed.</param>
    /// <param name="dWeight">[F, C, kH, kW], accumulated.</param>
    /// <param name="dBias">[F], accumulated; empty without bias.</param>
    /// <param name="columns">
    /// Scratch of C·kH·kW·OH·OW values at least; C·kH·kW·(OH·OW + F) to accumulate the weight gradient
    /// transposed; as many as the forward pass took to put several samples through one product.
    /// </param>
    /// <param name="dOutput">[batch, F, OH, OW].</param>
    /// <param name="input">[batch, C, H, W], the forward input.</param>
    /// <param name="weight">[F, C, kH, kW].</param>
    /// <param name="batch">Samples.</param>
    /// <param name="filters">F.</param>
    /// <param name="g">The window geometry.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2DBackward(Span<float> dInput, Span<float> dWeight, Span<float> dBias, Span<float> columns, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int batch, int filters, in Window2D g)
    {
        CheckConvolution(dOutput.Length, input.Length, weight.Length, dBias.Length, batch, filters, g, nameof(dOutput), nameof(dBias));
        MatMul.CheckLength(dWeight.Length, (long)filters * g.PatchSize, nameof(dWeight));
        if (!dInput.IsEmpty)
        {
            MatMul.CheckLength(dInput.Length, (long)batch * g.InputSize, nameof(dInput));
        }

        if (WeightGradientImplicit(g, filters, inputGradient: !dInput.IsEmpty))
        {
            BackwardOnPaddedInput(dInput, dWeight, dBias, dOutput, input, weight, batch, filters, g);
            return;
        }

        int k = g.PatchSize, p = g.Positions, outSize = filters * p;
        int chunk = SamplesPerProduct(batch, columns.Length, k, p, filters);
        if (chunk >= 2)
        {
            // m samples at once: dY gathered as [F, m·P], the patch matrices as [K, m·P]; dW += dY·colsᵀ with
            // the sum over m·P in one product; dcols = Wᵀ·dY, folded back sample by sample.
            Span<float> transposed = columns.Slice(columns.Length - (k * filters), k * filters);
            PaddedInputGradient? padded = !dInput.IsEmpty && InputGradientImplicit(g, filters) ? new PaddedInputGradient(weight, filters, g) : null;
            for (int n0 = 0; n0 < batch; n0 += chunk)
            {
                int m = Math.Min(chunk, batch - n0), width = m * p;
                Span<float> cols = columns.Slice(0, k * width);
                Span<float> dy = columns.Slice(k * width, filters * width);
                for (int j = 0; j < m; j++)
                {
                    ReadOnlySpan<float> sample = dOutput.Slice((n0 + j) * outSize, outSize);
                    for (int f = 0; f < filters; f++)
                    {
                        ReadOnlySpan<float> from = sample.Slice(f * p, p);
                        from.CopyTo(dy.Slice((f * width) + (j * p), p));
                        if (!dBias.IsEmpty)
                        {
                            dBias[f] += System.Numerics.Tensors.TensorPrimitives.Sum(from);
                        }
                    }

                    Im2ColAt(cols, input.Slice((n0 + j) * g.InputSize, g.InputSize), g, width, j * p);
                }

                // The weight gradient transposed, dWᵀ = cols·dYᵀ: the packed product then transposes the
                // F rows of dY into its panels rather than the K rows of cols (measured 3.4x faster on the
                // sample CNN's second convolution, 144 x 2,940 by 32, interleaved calls); added into dW
                // after the last chunk.
                MatMul.MultiplyTransposed(transposed, cols, dy, k, filters, width, accumulate: n0 > 0);
                if (padded is { } gradient)
                {
                    for (int j = 0; j < m; j++)
                    {
                        gradient.Sample(dInput.Slice((n0 + j) * g.InputSize, g.InputSize), dOutput.Slice((n0 + j) * outSize, outSize));
                    }
                }
                else if (!dInput.IsEmpty)
                {
                    MatMul.Multiply(cols, weight, 1, k, dy, k, width, filters, accumulate: false);
                    for (int j = 0; j < m; j++)
                    {
                        Span<float> dx = dInput.Slice((n0 + j) * g.InputSize, g.InputSize);
                        dx.Clear();
                        Col2ImAddAt(dx, cols, g, width, j * p);
                    }
                }
            }

            AddTransposed(dWeight, transposed, filters, k);
            return;
        }

        // Sample by sample. With room for the weight gradient transposed after the patch matrix (k·(P + F)
        // values, as the generator sizes it), dWᵀ += col·dYᵀ as in the batched form above (the packed product
        // transposes dY's F rows rather than col's K rows: the sample CNN's second convolution 1.20x, its
        // first 1.10x against dW += dY·colᵀ, alternating blocks; 16x16 from 16 channels to 16 0.92x); otherwise
        // dW += dY·colᵀ in place.
        Span<float> col = columns.Slice(0, k * p);
        bool viaTransposed = columns.Length >= (long)k * (p + filters);
        Span<float> dWt = viaTransposed ? columns.Slice(columns.Length - (k * filters), k * filters) : default;
        PaddedInputGradient? paddedGradient = !dInput.IsEmpty && InputGradientImplicit(g, filters) ? new PaddedInputGradient(weight, filters, g) : null;
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> dy = dOutput.Slice(n * outSize, outSize);
            AddBiasGradient(dBias, dy, filters, p);

            Im2Col(col, input.Slice(n * g.InputSize, g.InputSize), g);
            if (viaTransposed)
            {
                MatMul.MultiplyTransposed(dWt, col, dy, k, filters, p, accumulate: n > 0);
            }
            else
            {
                MatMul.MultiplyTransposed(dWeight, dy, col, filters, k, p, accumulate: true);
            }

            if (paddedGradient is { } gradient)
            {
                gradient.Sample(dInput.Slice(n * g.InputSize, g.InputSize), dy);
            }
            else if (!dInput.IsEmpty)
            {
                // dcol[k, p] = Σ_f W[f, k]·dy[f, p]: Wᵀ through strides (1, K).
                MatMul.Multiply(col, weight, 1, k, dy, k, p, filters, accumulate: false);
                Span<float> dx = dInput.Slice(n * g.InputSize, g.InputSize);
                dx.Clear();
                Col2ImAddAt(dx, col, g, p, 0);
            }
        }

        if (viaTransposed && batch > 0)
        {
            AddTransposed(dWeight, dWt, filters, k);
        }
    }

    // dB[f] += Σ over one sample's positions of dY[f] (nothing without bias).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddBiasGradient(Span<float> dBias, ReadOnlySpan<float> dy, int filters, int p)
    {
        if (dBias.IsEmpty)
        {
            return;
        }

        for (int f = 0; f < filters; f++)
        {
            dBias[f] += System.Numerics.Tensors.TensorPrimitives.Sum(dy.Slice(f * p, p));
        }
    }

    // dW[f, kk] += dWᵀ[kk, f].
    private static void AddTransposed(Span<float> dWeight, ReadOnlySpan<float> transposed, int filters, int k)
    {
        for (int f = 0; f < filters; f++)
        {
            Span<float> row = dWeight.Slice(f * k, k);
            for (int kk = 0; kk < k; kk++)
            {
                row[kk] += transposed[(kk * filters) + f];
            }
        }
    }
}
