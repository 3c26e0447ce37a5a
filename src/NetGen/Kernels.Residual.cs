using System;
using System.Numerics.Tensors;

namespace NetGen;

public static partial class Kernels
{
    // ---------------------------------------------------------------- Residual connections

    /// <summary>The residual add, <c>output = a + b</c> elementwise (the shortcut plus the branch).</summary>
    /// <param name="output">Same length as the inputs; may be the same memory as either.</param>
    /// <param name="a">The shortcut (the block's input, or its projection).</param>
    /// <param name="b">The branch's output.</param>
    public static void Add(Span<float> output, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        CheckSame(a.Length, output.Length, nameof(a));
        CheckSame(b.Length, output.Length, nameof(b));
        TensorPrimitives.Add(a, b, output);
    }

    /// <summary>
    /// <c>gradient += contribution</c>: the gradient of a tensor read by two ops is the sum of what
    /// each reader's backward gives it (the residual's fan-out).
    /// </summary>
    /// <param name="gradient">The tensor's gradient, already holding one reader's part.</param>
    /// <param name="contribution">Another reader's part, the same length.</param>
    public static void AddInto(Span<float> gradient, ReadOnlySpan<float> contribution)
    {
        CheckSame(contribution.Length, gradient.Length, nameof(contribution));
        TensorPrimitives.Add(gradient, contribution, gradient);
    }
}
