using System;
using System.Runtime.CompilerServices;

namespace NetGen;

// Software prefetching for loops that visit one channel of [rows, channels, spatial] a sample at a time.
public static partial class Kernels
{
    /// <summary>Whether the loops over one channel's slices prefetch the next slice (a switch for benchmarks).</summary>
    internal static bool PrefetchSlices { get; set; } = true;

    /// <summary>The shortest slice that is prefetched (values).</summary>
    internal static int PrefetchFrom { get; set; } = 512;

    // Before a pass over one slice of [rows, channels, spatial] (a sample's channel, at o): the same channel's
    // next slice, stride values on, asked into L2 a cache line at a time (a hint, which never faults). The
    // hardware's prefetchers follow a stream within a 4 KB page and start over at each slice (3 KB at the sample
    // CNN's first layer, 50 KB apart); this way the next one is on its way while this one is summed. Nothing
    // where the next slice lies outside the data (the channel's last, or empty data), or for slices under
    // PrefetchFrom values. Used by the backward passes only. Measured (--bn-parts, 64 samples, on and off in
    // alternating rounds): the first layer's backward (784-value slices) 1.17x with its input cold in memory,
    // 0.97-1.03x warm; the second's (196 values) 1.12-1.16x cold but 0.84-0.85x warm, hence the threshold; the
    // forward passes 0.90-0.92x cold (their first pass over a channel streams well enough), so they do not.
    // The sample CNN's step 1.03-1.04x (--prefetch-ab, three runs).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchNextSlice<T>(ReadOnlySpan<T> data, int o, int stride, int count)
        where T : unmanaged
    {
        if (!PrefetchSlices || count < PrefetchFrom || !System.Runtime.Intrinsics.X86.Sse.IsSupported || (long)o + stride + count > data.Length)
        {
            return;
        }

        byte* p = (byte*)Unsafe.AsPointer(ref Unsafe.AsRef(in data[o + stride]));
        for (int i = 0; i < count * sizeof(T); i += 64)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch1(p + i);
        }
    }
}
