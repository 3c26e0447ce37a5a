using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

// Where an optimizer's update reads gradient value i of its segment: a struct type argument, so that the
// JIT compiles the update once for each source with the loads inlined. Pointers, not spans: a struct that
// holds a span is a ref struct, which a type argument cannot be on .NET 8; the caller pins the memory.
internal interface IGradientSource
{
    Vector512<float> Load512(int i);

    Vector256<float> Load256(int i);

    float Load(int i);
}

// A gradient written out: the segment's values from g on.
internal readonly unsafe struct Written(float* g) : IGradientSource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Load512(int i) => Vector512.Load(g + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Load256(int i) => Vector256.Load(g + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Load(int i) => g[i];
}

// Row o of a deferred weight gradient of one batch row, dy[o]·x[i], made as it is read. DeferredWeightGradient.Rows's
// product gives each value as a fused multiply-add from zero on its vector columns and as 0 + dy·x on the rest: both
// round dy·x once, and differ from dy·x only in the sign of a zero product (+0 there, -0 here where x < 0), which
// Adam's update does not see: v takes g², and m takes β·m + (1 − β)·g, the same for ±0 unless m is itself -0, which
// an update from +0 never makes (tests: rows of zero dy against the written block, bit for bit). One batch row only:
// with a loop over several inside each load, Adam's step at batch 1 measured 0.93-0.95x of writing the block.
internal readonly unsafe struct DeferredRow(float* x, float dy) : IGradientSource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Load512(int i) => Vector512.Create(dy) * Vector512.Load(x + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Load256(int i) => Vector256.Create(dy) * Vector256.Load(x + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Load(int i) => dy * x[i];
}
