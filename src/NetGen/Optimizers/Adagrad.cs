using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// Adagrad, PyTorch's <c>torch.optim.Adagrad</c>:
/// <code>
/// lr' ← lr / (1 + (t − 1)·lrDecay);  g ← ∇ + λθ;  s ← s + g²;  θ ← θ − lr'·g / (√s + ε)
/// </code>
/// </summary>
public sealed class Adagrad : Optimizer
{
    private float[] _sum = Array.Empty<float>();

    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    /// <param name="learningRate">lr (default 0.01).</param>
    /// <param name="learningRateDecay">η, the lr decay per step (default 0).</param>
    /// <param name="weightDecay">λ (default 0).</param>
    /// <param name="initialAccumulatorValue">Starting value of s (default 0).</param>
    /// <param name="epsilon">ε (default 1e-10).</param>
    public Adagrad(float learningRate = 1e-2f, float learningRateDecay = 0f, float weightDecay = 0f, float initialAccumulatorValue = 0f, float epsilon = 1e-10f)
        : base(learningRate, weightDecay)
    {
        CheckRange(learningRateDecay, 0f, float.PositiveInfinity, nameof(learningRateDecay));
        CheckRange(initialAccumulatorValue, 0f, float.PositiveInfinity, nameof(initialAccumulatorValue));
        CheckPositive(epsilon, nameof(epsilon));
        LearningRateDecay = learningRateDecay;
        InitialAccumulatorValue = initialAccumulatorValue;
        Epsilon = epsilon;
    }

    /// <summary>η.</summary>
    public float LearningRateDecay { get; }

    /// <summary>Starting value of the accumulator.</summary>
    public float InitialAccumulatorValue { get; }

    /// <summary>ε.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected internal override IEnumerable<KeyValuePair<string, float[]>> StateBuffers => new KeyValuePair<string, float[]>[] { new("sum", _sum) };

    /// <inheritdoc/>
    protected override void AllocateState(int parameterCount)
    {
        _sum = new float[parameterCount];
        ClearState();
    }

    /// <inheritdoc/>
    protected override void ClearState() => Array.Fill(_sum, InitialAccumulatorValue);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
    {
        int n = parameters.Length;
        ref float p = ref Ref(parameters);
        ref float g = ref Ref(gradients);
        ref float s = ref MemoryMarshal.GetReference(segment.Of(_sum));
        float clr = (float)(segment.LearningRate / (1.0 + ((t - 1) * (double)LearningRateDecay)));
        float wd = segment.WeightDecay, eps = Epsilon;
        int i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            // The 256-bit loop's operations in 512-bit vectors: the same bits, element by element.
            var wclr = Vector512.Create(clr);
            var wwd = Vector512.Create(wd);
            var weps = Vector512.Create(eps);
            for (int end = n - (n % Vector512<float>.Count); i < end; i += Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                var vg = Vector512.LoadUnsafe(ref g, (nuint)i) + (wwd * vp);
                var vs = Vector512.LoadUnsafe(ref s, (nuint)i) + (vg * vg);
                vs.StoreUnsafe(ref s, (nuint)i);
                (vp - (wclr * vg / (Vector512.Sqrt(vs) + weps))).StoreUnsafe(ref p, (nuint)i);
            }
        }

        var vclr = Vector256.Create(clr);
        var vwd = Vector256.Create(wd);
        var veps = Vector256.Create(eps);
        for (int end = VectorEnd(n); i < end; i += Vector256<float>.Count)
        {
            var vp = Vector256.LoadUnsafe(ref p, (nuint)i);
            var vg = Vector256.LoadUnsafe(ref g, (nuint)i) + (vwd * vp);
            var vs = Vector256.LoadUnsafe(ref s, (nuint)i) + (vg * vg);
            vs.StoreUnsafe(ref s, (nuint)i);
            (vp - (vclr * vg / (Vector256.Sqrt(vs) + veps))).StoreUnsafe(ref p, (nuint)i);
        }

        for (; i < n; i++)
        {
            ref float pi = ref Unsafe.Add(ref p, i);
            ref float si = ref Unsafe.Add(ref s, i);
            float gi = Unsafe.Add(ref g, i) + (wd * pi);
            si += gi * gi;
            pi -= clr * gi / (MathF.Sqrt(si) + eps);
        }
    }
}
