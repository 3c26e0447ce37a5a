using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

public static partial class Kernels
{
    [ThreadStatic]
    private static float[]? t_channel;

    // The output gradient of a BatchNorm whose output a 2x2 max pooling read (fused into its training pass,
    // ConvKernels.BatchNormMaxPoolTrainingForward), given as the pooling's output gradient and winners: a
    // channel at a time, [rows, H, W] in a per-thread buffer (200 KB at the sample CNN's first layer, batch
    // 64: in L2 for both passes of the backward over the channel), the values MaxPoolBackward writes into the
    // [rows, channels, H, W] tensor that is then never made. Empty when the BatchNorm's own gradient is given.
    internal readonly ref struct PooledGradient
    {
        private readonly ReadOnlySpan<float> _dPooled;
        private readonly ReadOnlySpan<int> _argmax;
        private readonly Window2D _window;

        public PooledGradient(ReadOnlySpan<float> dPooled, ReadOnlySpan<int> argmax, in Window2D window)
        {
            _dPooled = dPooled;
            _argmax = argmax;
            _window = window;
        }

        public bool IsEmpty => _dPooled.IsEmpty;

        // Channel c of every sample, sample r's plane at r·H·W: each pooled gradient at its winner, 0 elsewhere,
        // as MaxPoolBackward writes them (its 2x2 path for rows of 8 outputs or more, else cleared and added to).
        public ReadOnlySpan<float> Channel(int c, int rows)
        {
            Window2D g = _window;
            int plane = g.Height * g.Width, positions = g.Positions;
            float[] buffer = t_channel is { } b && b.Length >= rows * plane ? b : t_channel = new float[rows * plane];
            ref float dy = ref MemoryMarshal.GetReference(_dPooled);
            ref int a = ref MemoryMarshal.GetReference(_argmax);
            bool vectors = ConvKernels.WritesPooledGradient(g);
            var pool = new ConvKernels.Pool512(g);
            for (int r = 0; r < rows; r++)
            {
                int first = ((r * g.Channels) + c) * positions;
                Span<float> dx = buffer.AsSpan(r * plane, plane);
                if (vectors)
                {
                    ConvKernels.MaxPoolPlaneBackward2x2(ref MemoryMarshal.GetReference(dx), ref dy, ref a, first, c * plane, g, pool);
                    continue;
                }

                dx.Clear();
                for (int o = first; o < first + positions; o++)
                {
                    dx[Unsafe.Add(ref a, o) - (c * plane)] += Unsafe.Add(ref dy, o);
                }
            }

            return buffer.AsSpan(0, rows * plane);
        }
    }
}
