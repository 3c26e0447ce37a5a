using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// RMSprop, PyTorch's <c>torch.optim.RMSprop</c>:
/// <code>
/// g ← ∇ + λθ;  v ← αv + (1 − α)g²;  ṽ ← v
/// if centered: a ← αa + (1 − α)g;  ṽ ← ṽ − a²
/// if μ &gt; 0: b ← μb + g / (√ṽ + ε);  θ ← θ − lr·b      else: θ ← θ − lr·g / (√ṽ + ε)
/// </code>
/// </summary>
public sealed class RmsProp : Optimizer
{
    private float[] _square = Array.Empty<float>(), _average = Array.Empty<float>(), _momentum = Array.Empty<float>();

    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    /// <param name="learningRate">lr (default 0.01).</param>
    /// <param name="alpha">Smoothing constant α (default 0.99).</param>
    /// <param name="epsilon">ε (default 1e-8).</param>
    /// <param name="weightDecay">λ (default 0).</param>
    /// <param name="momentum">μ (default 0).</param>
    /// <param name="centered">Normalise by an estimate of the gradient's variance (default false).</param>
    public RmsProp(float learningRate = 1e-2f, float alpha = 0.99f, float epsilon = 1e-8f, float weightDecay = 0f, float momentum = 0f, bool centered = false)
        : base(learningRate, weightDecay)
    {
        CheckRange(alpha, 0f, 1.0000001f, nameof(alpha));
        CheckPositive(epsilon, nameof(epsilon));
        CheckRange(momentum, 0f, 1f, nameof(momentum));
        Alpha = alpha;
        Epsilon = epsilon;
        Momentum = momentum;
        Centered = centered;
    }

    /// <summary>α.</summary>
    public float Alpha { get; }

    /// <summary>ε.</summary>
    public float Epsilon { get; }

    /// <summary>μ.</summary>
    public float Momentum { get; }

    /// <summary>Whether the variance estimate is centered.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected internal override IEnumerable<KeyValuePair<string, float[]>> StateBuffers
    {
        get
        {
            yield return new("square_avg", _square);
            if (Centered)
            {
                yield return new("grad_avg", _average);
            }

            if (Momentum > 0f)
            {
                yield return new("momentum_buffer", _momentum);
            }
        }
    }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterCount)
    {
        _square = new float[parameterCount];
        _average = Centered ? new float[parameterCount] : Array.Empty<float>();
        _momentum = Momentum > 0f ? new float[parameterCount] : Array.Empty<float>();
    }

    /// <inheritdoc/>
    protected override void ClearState()
    {
        Array.Clear(_square);
        Array.Clear(_average);
        Array.Clear(_momentum);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
    {
        int n = parameters.Length;
        float lr = segment.LearningRate, wd = segment.WeightDecay, a = Alpha, oneMinusA = 1f - Alpha, eps = Epsilon, mu = Momentum;
        Span<float> square = segment.Of(_square), average = segment.Of(_average), momentum = segment.Of(_momentum);
        int i = 0;
        {
            // Vectorised, every variant: v ← αv + (1 − α)g²; centered: a ← αa + (1 − α)g, v − a²;
            // s = g/(√v + ε); with momentum b ← μb + s, the step is b; θ ← θ − lr·step. The same
            // operations in the same order as the scalar loop below, which takes the remainder.
            ref float p = ref Ref(parameters);
            ref float g = ref Ref(gradients);
            ref float sq = ref MemoryMarshal.GetReference(square);
            ref float av = ref MemoryMarshal.GetReference(average);
            ref float mo = ref MemoryMarshal.GetReference(momentum);
            bool centered = Centered, withMomentum = mu > 0f;
            if (MatMul.UseVectors && MatMul.Use512)
            {
                // The 256-bit loop's operations in 512-bit vectors: the same bits, element by element.
                var wa = Vector512.Create(a);
                var wb = Vector512.Create(oneMinusA);
                var wwd = Vector512.Create(wd);
                var wlr = Vector512.Create(lr);
                var weps = Vector512.Create(eps);
                var wmu = Vector512.Create(mu);
                for (int end = n - (n % Vector512<float>.Count); i < end; i += Vector512<float>.Count)
                {
                    var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                    var vg = Vector512.LoadUnsafe(ref g, (nuint)i) + (wwd * vp);
                    var vv = (wa * Vector512.LoadUnsafe(ref sq, (nuint)i)) + (wb * vg * vg);
                    vv.StoreUnsafe(ref sq, (nuint)i);
                    if (centered)
                    {
                        var vavg = (wa * Vector512.LoadUnsafe(ref av, (nuint)i)) + (wb * vg);
                        vavg.StoreUnsafe(ref av, (nuint)i);
                        vv -= vavg * vavg;
                    }

                    var step = vg / (Vector512.Sqrt(vv) + weps);
                    if (withMomentum)
                    {
                        step = (wmu * Vector512.LoadUnsafe(ref mo, (nuint)i)) + step;
                        step.StoreUnsafe(ref mo, (nuint)i);
                    }

                    (vp - (wlr * step)).StoreUnsafe(ref p, (nuint)i);
                }
            }

            var va = Vector256.Create(a);
            var vb = Vector256.Create(oneMinusA);
            var vwd = Vector256.Create(wd);
            var vlr = Vector256.Create(lr);
            var veps = Vector256.Create(eps);
            var vmu = Vector256.Create(mu);
            for (int end = VectorEnd(n); i < end; i += Vector256<float>.Count)
            {
                var vp = Vector256.LoadUnsafe(ref p, (nuint)i);
                var vg = Vector256.LoadUnsafe(ref g, (nuint)i) + (vwd * vp);
                var vv = (va * Vector256.LoadUnsafe(ref sq, (nuint)i)) + (vb * vg * vg);
                vv.StoreUnsafe(ref sq, (nuint)i);
                if (centered)
                {
                    var vavg = (va * Vector256.LoadUnsafe(ref av, (nuint)i)) + (vb * vg);
                    vavg.StoreUnsafe(ref av, (nuint)i);
                    vv -= vavg * vavg;
                }

                var step = vg / (Vector256.Sqrt(vv) + veps);
                if (withMomentum)
                {
                    step = (vmu * Vector256.LoadUnsafe(ref mo, (nuint)i)) + step;
                    step.StoreUnsafe(ref mo, (nuint)i);
                }

                (vp - (vlr * step)).StoreUnsafe(ref p, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float g = gradients[i] + (wd * parameters[i]);
            float v = square[i] = (a * square[i]) + (oneMinusA * g * g);
            if (Centered)
            {
                float avg = average[i] = (a * average[i]) + (oneMinusA * g);
                v -= avg * avg;
            }

            float step = g / (MathF.Sqrt(v) + eps);
            if (mu > 0f)
            {
                step = momentum[i] = (mu * momentum[i]) + step;
            }

            parameters[i] -= lr * step;
        }
    }
}
