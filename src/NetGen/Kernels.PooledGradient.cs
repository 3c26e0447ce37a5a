using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

public static partial class Kernels
{
    [ThreadStatic]
    private static float[]? t_plane;

    // The output gradient of a BatchNorm whose output a 2x2 max pooling read (fused into its training pass,
    // ConvKernels.BatchNormMaxPoolTrainingForward), given as the pooling's output gradient and winners: a
    // plane at a time, [H, W] in a per-thread buffer (in L1 at the sample CNN's sizes), the values
    // MaxPoolBackward would write into the [rows, channels, H, W] tensor that is then never made. Empty when
    // the BatchNorm's own output gradient is given.
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

        // Sample r's channel c: each pooled gradient at its winner, 0 elsewhere; the winner's value written as
        // MaxPoolBackward writes it (as it is on its 2x2 path for rows of 8 outputs or more, else added to 0).
        public ReadOnlySpan<float> Plane(int r, int c)
        {
            Window2D g = _window;
            int plane = g.Height * g.Width;
            float[] buffer = t_plane is { } b && b.Length >= plane ? b : t_plane = new float[plane];
            Span<float> dy = buffer.AsSpan(0, plane);
            dy.Clear();
            bool assigned = Vector256.IsHardwareAccelerated && g.OutWidth >= 8;
            int positions = g.Positions, first = ((r * g.Channels) + c) * positions, offset = c * plane;
            for (int o = first; o < first + positions; o++)
            {
                ref float at = ref dy[_argmax[o] - offset];
                at = assigned ? _dPooled[o] : at + _dPooled[o];
            }

            return dy;
        }
    }
}
