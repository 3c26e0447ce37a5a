using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading;

namespace NetGen;

/// <summary>
/// Adam, PyTorch's <c>torch.optim.Adam</c> (and, with <c>decoupled</c>, <see cref="AdamW"/>):
/// <code>
/// g ← ∇ + λθ                         (AdamW instead: θ ← θ − lr·λ·θ)
/// m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²
/// m̂ ← m / (1 − β₁ᵗ);     v̂ ← v / (1 − β₂ᵗ)      (amsgrad: vmax ← max(vmax, v), kept; v̂ ← vmax / (1 − β₂ᵗ))
/// θ ← θ − lr·m̂ / (√v̂ + ε)
/// </code>
/// ε is added after the square root, as in PyTorch. With amsgrad this computes what PyTorch
/// (and Keras) compute: the maximum of the raw second moment v, bias-corrected afterwards.
/// PyTorch's documentation writes the maximum of the bias-corrected v̂ instead, which is a
/// different rule (the correction shrinks with t, so the two maxima differ); a script ported from
/// PyTorch expects what PyTorch does.
/// </summary>
public class Adam : Optimizer
{
    private float[] _m = Array.Empty<float>(), _v = Array.Empty<float>(), _vMax = Array.Empty<float>();
    private readonly bool _decoupled;

    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    /// <param name="learningRate">lr (default 0.001).</param>
    /// <param name="beta1">β₁ (default 0.9).</param>
    /// <param name="beta2">β₂ (default 0.999).</param>
    /// <param name="epsilon">ε (default 1e-8).</param>
    /// <param name="weightDecay">λ, L2 added to the gradient (default 0).</param>
    /// <param name="amsgrad">Use the AMSGrad variant (default false).</param>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f, bool amsgrad = false)
        : this(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, decoupled: false)
    {
    }

    private protected Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool amsgrad, bool decoupled)
        : base(learningRate, weightDecay)
    {
        CheckRange(beta1, 0f, 1f, nameof(beta1));
        CheckRange(beta2, 0f, 1f, nameof(beta2));
        CheckPositive(epsilon, nameof(epsilon));
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        AmsGrad = amsgrad;
        _decoupled = decoupled;
    }

    /// <summary>β₁.</summary>
    public float Beta1 { get; }

    /// <summary>β₂.</summary>
    public float Beta2 { get; }

    /// <summary>ε.</summary>
    public float Epsilon { get; }

    /// <summary>Whether AMSGrad is used.</summary>
    public bool AmsGrad { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterCount)
    {
        _m = new float[parameterCount];
        _v = new float[parameterCount];
        _vMax = AmsGrad ? new float[parameterCount] : Array.Empty<float>();
    }

    /// <inheritdoc/>
    protected internal override IEnumerable<KeyValuePair<string, float[]>> StateBuffers
    {
        get
        {
            yield return new("exp_avg", _m);
            yield return new("exp_avg_sq", _v);
            if (AmsGrad)
            {
                yield return new("max_exp_avg_sq", _vMax);
            }
        }
    }

    /// <inheritdoc/>
    protected override void ClearState()
    {
        Array.Clear(_m);
        Array.Clear(_v);
        Array.Clear(_vMax);
    }

    /// <summary>Whether Adam makes a deferred gradient's values where it applies them (benchmarks switch it off to compare).</summary>
    internal static bool DeferredRows { get; set; } = true;

    /// <summary>Whether a block of a deferred gradient's rows is updated by one loop over them (ApplyRows512, ApplyRows256) or a call a row (benchmarks compare).</summary>
    internal static bool BlockRows { get; set; } = true;

    /// <inheritdoc/>
    protected override unsafe void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
    {
        fixed (float* g = gradients)
        {
            Apply(parameters, new Written(g), segment, new Coefficients(this, segment, t));
        }
    }

    /// <summary>
    /// Whole rows of a deferred weight gradient of one batch row, each gradient value computed where it is
    /// applied (DeferredRow: the update's bits of <see cref="DeferredWeightGradient"/>'s product), as
    /// <see cref="Sgd"/> does: the block of gradients is neither written nor read back. The MLP's step at batch 1
    /// 1.12-1.16x (--adam-rows-ab). With rows of whole vectors, the block's rows in one loop.
    /// </summary>
    private protected override unsafe bool UpdateDeferredRows(Span<float> parameters, DeferredWeightGradient deferred, int first, int count, ParameterSegment segment, long t)
    {
        if (deferred.BatchRows != 1 || !DeferredRows)
        {
            return false;
        }

        int columns = deferred.InFeatures;
        var coefficients = new Coefficients(this, segment, t);
        fixed (float* x = deferred.Input)
        fixed (float* dy = deferred.OutputGradient)
        {
            if (BlockRows && MatMul.UseVectors && MatMul.Use512 && columns % Vector512<float>.Count == 0)
            {
                ApplyRows512(parameters, x, dy + first, count, columns, segment, coefficients);
                return true;
            }

            if (BlockRows && MatMul.UseVectors && !MatMul.Use512 && Vector256.IsHardwareAccelerated && columns % Vector256<float>.Count == 0)
            {
                ApplyRows256(parameters, x, dy + first, count, columns, segment, coefficients);
                return true;
            }

            for (int r = 0; r < count; r++)
            {
                var rowSegment = new ParameterSegment(segment.Offset + (r * columns), columns, segment.LearningRate, segment.WeightDecay);
                Apply(parameters.Slice(r * columns, columns), new DeferredRow(x, dy[first + r]), rowSegment, coefficients);
            }
        }

        return true;
    }

    // The bias corrections of step _correctionsAt (0: none yet): two powers, computed once a step rather than once a
    // segment (a batch-1 step with its deferred gradient had 34 segments: 0.85 µs of Math.Pow in a 25 µs step). Every
    // thread that updates a slice in a step computes the same values for the same t.
    private long _correctionsAt;
    private float _inverseCorrection1, _inverseCorrection2;

    private (float First, float Second) Corrections(long t)
    {
        if (Volatile.Read(ref _correctionsAt) != t)
        {
            _inverseCorrection1 = (float)(1.0 / (1.0 - Math.Pow(Beta1, t)));
            _inverseCorrection2 = (float)(1.0 / (1.0 - Math.Pow(Beta2, t)));
            Volatile.Write(ref _correctionsAt, t);
        }

        return (_inverseCorrection1, _inverseCorrection2);
    }

    // The step's constants: the rate, the betas, the bias corrections and the decay.
    private readonly struct Coefficients
    {
        public readonly float Lr, B1, B2, C1, C2, Eps, InverseCorrection1, InverseCorrection2, Wd, Shrink;

        public Coefficients(Adam adam, ParameterSegment segment, long t)
        {
            Lr = segment.LearningRate;
            B1 = adam.Beta1;
            B2 = adam.Beta2;
            Eps = adam.Epsilon;
            C1 = 1f - B1;
            C2 = 1f - B2;
            (InverseCorrection1, InverseCorrection2) = adam.Corrections(t);
            Wd = adam._decoupled ? 0f : segment.WeightDecay;
            Shrink = adam._decoupled ? 1f - (Lr * segment.WeightDecay) : 1f;
        }
    }

    // Apply's 512-bit loop on `rows` rows of a deferred weight gradient of one batch row (row r's gradient dy[r]·x),
    // rows of whole vectors: one loop over the block's rows and their vectors, where a call of Apply a row (784
    // values, 49 vectors) cost the MLP's batch-1 Adam step 1.10-1.19x (--adam-block-ab). The same operations as
    // Apply's, element by element: the same bits. Nothing in it calls out: with a call inside the rows' loop (to
    // a tail for rows of part vectors) the JIT reloaded the ten constants from the stack every iteration, and the
    // step took twice as long.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ApplyRows512(Span<float> parameters, float* x, float* dy, int rows, int columns, ParameterSegment segment, in Coefficients k)
    {
        ref float p = ref Ref(parameters);
        ref float m = ref MemoryMarshal.GetReference(segment.Of(_m));
        ref float v = ref MemoryMarshal.GetReference(segment.Of(_v));
        ref float vmax = ref MemoryMarshal.GetReference(segment.Of(_vMax));
        bool amsgrad = AmsGrad;
        var wb1 = Vector512.Create(k.B1);
        var wb2 = Vector512.Create(k.B2);
        var wc1 = Vector512.Create(k.C1);
        var wc2 = Vector512.Create(k.C2);
        var wwd = Vector512.Create(k.Wd);
        var wshrink = Vector512.Create(k.Shrink);
        var wic1 = Vector512.Create(k.InverseCorrection1);
        var wic2 = Vector512.Create(k.InverseCorrection2);
        var wlr = Vector512.Create(k.Lr);
        var weps = Vector512.Create(k.Eps);
        nuint o = 0;
        for (int r = 0; r < rows; r++)
        {
            var d = Vector512.Create(dy[r]);
            for (int c = 0; c < columns; c += Vector512<float>.Count, o += (nuint)Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, o);
                var vg = (d * Vector512.Load(x + c)) + (wwd * vp);
                vp *= wshrink;
                var vm = (wb1 * Vector512.LoadUnsafe(ref m, o)) + (wc1 * vg);
                var vv = (wb2 * Vector512.LoadUnsafe(ref v, o)) + (wc2 * vg * vg);
                vm.StoreUnsafe(ref m, o);
                vv.StoreUnsafe(ref v, o);
                if (amsgrad)
                {
                    vv = Vector512.Max(vv, Vector512.LoadUnsafe(ref vmax, o));
                    vv.StoreUnsafe(ref vmax, o);
                }

                (vp - (wlr * (vm * wic1) / (Vector512.Sqrt(vv * wic2) + weps))).StoreUnsafe(ref p, o);
            }
        }
    }

    // ApplyRows512 with 256-bit vectors, where 512-bit ones are not used: the bits of Apply's 256-bit loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ApplyRows256(Span<float> parameters, float* x, float* dy, int rows, int columns, ParameterSegment segment, in Coefficients k)
    {
        ref float p = ref Ref(parameters);
        ref float m = ref MemoryMarshal.GetReference(segment.Of(_m));
        ref float v = ref MemoryMarshal.GetReference(segment.Of(_v));
        ref float vmax = ref MemoryMarshal.GetReference(segment.Of(_vMax));
        bool amsgrad = AmsGrad;
        var vb1 = Vector256.Create(k.B1);
        var vb2 = Vector256.Create(k.B2);
        var vc1 = Vector256.Create(k.C1);
        var vc2 = Vector256.Create(k.C2);
        var vwd = Vector256.Create(k.Wd);
        var vshrink = Vector256.Create(k.Shrink);
        var vic1 = Vector256.Create(k.InverseCorrection1);
        var vic2 = Vector256.Create(k.InverseCorrection2);
        var vlr = Vector256.Create(k.Lr);
        var veps = Vector256.Create(k.Eps);
        nuint o = 0;
        for (int r = 0; r < rows; r++)
        {
            var d = Vector256.Create(dy[r]);
            for (int c = 0; c < columns; c += Vector256<float>.Count, o += (nuint)Vector256<float>.Count)
            {
                var vp = Vector256.LoadUnsafe(ref p, o);
                var vg = (d * Vector256.Load(x + c)) + (vwd * vp);
                vp *= vshrink;
                var vm = (vb1 * Vector256.LoadUnsafe(ref m, o)) + (vc1 * vg);
                var vv = (vb2 * Vector256.LoadUnsafe(ref v, o)) + (vc2 * vg * vg);
                vm.StoreUnsafe(ref m, o);
                vv.StoreUnsafe(ref v, o);
                if (amsgrad)
                {
                    vv = Vector256.Max(vv, Vector256.LoadUnsafe(ref vmax, o));
                    vv.StoreUnsafe(ref vmax, o);
                }

                (vp - (vlr * (vm * vic1) / (Vector256.Sqrt(vv * vic2) + veps))).StoreUnsafe(ref p, o);
            }
        }
    }

    // The update of one segment with its gradient from G: written (Update) or made as it is read (a deferred row).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Apply<G>(Span<float> parameters, G gradient, ParameterSegment segment, in Coefficients k)
        where G : struct, IGradientSource
    {
        int n = parameters.Length;
        float lr = k.Lr, b1 = k.B1, b2 = k.B2, eps = k.Eps, c1 = k.C1, c2 = k.C2;
        float inverseCorrection1 = k.InverseCorrection1, inverseCorrection2 = k.InverseCorrection2, wd = k.Wd, shrink = k.Shrink;
        ref float p = ref Ref(parameters);
        ref float m = ref MemoryMarshal.GetReference(segment.Of(_m));
        ref float v = ref MemoryMarshal.GetReference(segment.Of(_v));
        Span<float> vMax = segment.Of(_vMax);
        ref float vmax = ref MemoryMarshal.GetReference(vMax);
        int i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            // The same operations as the 256-bit loop below, element by element: the same bits.
            var wb1 = Vector512.Create(b1);
            var wb2 = Vector512.Create(b2);
            var wc1 = Vector512.Create(c1);
            var wc2 = Vector512.Create(c2);
            var wwd = Vector512.Create(wd);
            var wshrink = Vector512.Create(shrink);
            var wic1 = Vector512.Create(inverseCorrection1);
            var wic2 = Vector512.Create(inverseCorrection2);
            var wlr = Vector512.Create(lr);
            var weps = Vector512.Create(eps);
            for (int end = n - (n % Vector512<float>.Count); i < end; i += Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                var vg = gradient.Load512(i) + (wwd * vp);
                vp *= wshrink;
                var vm = (wb1 * Vector512.LoadUnsafe(ref m, (nuint)i)) + (wc1 * vg);
                var vv = (wb2 * Vector512.LoadUnsafe(ref v, (nuint)i)) + (wc2 * vg * vg);
                vm.StoreUnsafe(ref m, (nuint)i);
                vv.StoreUnsafe(ref v, (nuint)i);
                if (AmsGrad)
                {
                    vv = Vector512.Max(vv, Vector512.LoadUnsafe(ref vmax, (nuint)i));
                    vv.StoreUnsafe(ref vmax, (nuint)i);
                }

                (vp - (wlr * (vm * wic1) / (Vector512.Sqrt(vv * wic2) + weps))).StoreUnsafe(ref p, (nuint)i);
            }
        }

        var vb1 = Vector256.Create(b1);
        var vb2 = Vector256.Create(b2);
        var vc1 = Vector256.Create(c1);
        var vc2 = Vector256.Create(c2);
        var vwd = Vector256.Create(wd);
        var vshrink = Vector256.Create(shrink);
        var vic1 = Vector256.Create(inverseCorrection1);
        var vic2 = Vector256.Create(inverseCorrection2);
        var vlr = Vector256.Create(lr);
        var veps = Vector256.Create(eps);
        for (int end = VectorEnd(n); i < end; i += Vector256<float>.Count)
        {
            var vp = Vector256.LoadUnsafe(ref p, (nuint)i);
            var vg = gradient.Load256(i) + (vwd * vp);
            vp *= vshrink;
            var vm = (vb1 * Vector256.LoadUnsafe(ref m, (nuint)i)) + (vc1 * vg);
            var vv = (vb2 * Vector256.LoadUnsafe(ref v, (nuint)i)) + (vc2 * vg * vg);
            vm.StoreUnsafe(ref m, (nuint)i);
            vv.StoreUnsafe(ref v, (nuint)i);
            if (AmsGrad)
            {
                vv = Vector256.Max(vv, Vector256.LoadUnsafe(ref vmax, (nuint)i));
                vv.StoreUnsafe(ref vmax, (nuint)i);
            }

            (vp - (vlr * (vm * vic1) / (Vector256.Sqrt(vv * vic2) + veps))).StoreUnsafe(ref p, (nuint)i);
        }

        for (; i < n; i++)
        {
            ref float pi = ref Unsafe.Add(ref p, i);
            float gi = gradient.Load(i) + (wd * pi);
            pi *= shrink;
            ref float mi = ref Unsafe.Add(ref m, i);
            ref float vi = ref Unsafe.Add(ref v, i);
            mi = (b1 * mi) + (c1 * gi);
            vi = (b2 * vi) + (c2 * gi * gi);
            float kept = vi; // the v whose root divides: v, or with amsgrad the largest v so far
            if (AmsGrad)
            {
                kept = vMax[i] = MathF.Max(vMax[i], vi);
            }

            pi -= lr * (mi * inverseCorrection1) / (MathF.Sqrt(kept * inverseCorrection2) + eps);
        }
    }
}

/// <summary>
/// AdamW, PyTorch's <c>torch.optim.AdamW</c>: Adam with decoupled weight decay,
/// <c>θ ← θ − lr·λ·θ</c> before the Adam step (default λ = 0.01).
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    /// <param name="learningRate">lr (default 0.001).</param>
    /// <param name="beta1">β₁ (default 0.9).</param>
    /// <param name="beta2">β₂ (default 0.999).</param>
    /// <param name="epsilon">ε (default 1e-8).</param>
    /// <param name="weightDecay">λ, decoupled (default 0.01).</param>
    /// <param name="amsgrad">Use the AMSGrad variant (default false).</param>
    public AdamW(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 1e-2f, bool amsgrad = false)
        : base(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, decoupled: true)
    {
    }
}
