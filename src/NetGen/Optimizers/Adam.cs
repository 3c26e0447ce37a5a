using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
    {
        int n = parameters.Length;
        var rule = new Rule(this, segment, t);
        ref float p = ref Ref(parameters);
        ref float g = ref Ref(gradients);
        ref float m = ref MemoryMarshal.GetReference(segment.Of(_m));
        ref float v = ref MemoryMarshal.GetReference(segment.Of(_v));
        ref float vmax = ref MemoryMarshal.GetReference(segment.Of(_vMax));
        int i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            // The same operations as the 256-bit loop below, element by element: the same bits.
            var wide = new WideRule(rule);
            for (int end = n - (n % Vector512<float>.Count); i < end; i += Vector512<float>.Count)
            {
                wide.Apply(ref p, ref m, ref v, ref vmax, (nuint)i, Vector512.LoadUnsafe(ref g, (nuint)i), AmsGrad);
            }
        }

        var narrow = new NarrowRule(rule);
        for (int end = VectorEnd(n); i < end; i += Vector256<float>.Count)
        {
            narrow.Apply(ref p, ref m, ref v, ref vmax, (nuint)i, Vector256.LoadUnsafe(ref g, (nuint)i), AmsGrad);
        }

        for (; i < n; i++)
        {
            rule.Apply(ref p, ref m, ref v, ref vmax, i, Unsafe.Add(ref g, i), AmsGrad);
        }
    }

    /// <summary>
    /// Rows of a deferred weight gradient of up to 8 batch rows, each value computed as
    /// <see cref="MatMul.Multiply(Span{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, int, bool)"/>
    /// computes it (a fused multiply-add chain from zero over the batch rows on the vector columns, a sum
    /// of products on the last columns' n mod 8 or everywhere on the scalar path) and applied at once by
    /// the same rule as <see cref="Update"/> (one code for both: <see cref="Rule"/>): the bits of writing
    /// the block and calling Update, without the block's store and reload.
    /// </summary>
    private protected override bool UpdateDeferredRows(Span<float> parameters, DeferredWeightGradient deferred, int first, int count, ParameterSegment segment, long t)
    {
        if (deferred.BatchRows > 8 || !FuseDeferred)
        {
            return false;
        }

        int columns = deferred.InFeatures, outFeatures = deferred.OutFeatures, k = deferred.BatchRows;
        var rule = new Rule(this, segment, t);
        var wideRule = new WideRule(rule);
        var narrowRule = new NarrowRule(rule);
        ReadOnlySpan<float> dy = deferred.OutputGradient;
        ref float x = ref MemoryMarshal.GetReference(deferred.Input);
        bool vectors = MatMul.UseVectors, wide = vectors && MatMul.Use512;
        int vectorEnd = vectors ? columns - (columns % 8) : 0;
        Span<Vector512<float>> row = stackalloc Vector512<float>[8]; // dy[b, o] for the row's batch rows, broadcast
        for (int r = 0; r < count; r++)
        {
            int o = first + r;
            for (int b = 0; b < k; b++)
            {
                row[b] = Vector512.Create(dy[(b * outFeatures) + o]);
            }

            var rowSegment = new ParameterSegment(segment.Offset + (r * columns), columns, segment.LearningRate, segment.WeightDecay);
            ref float p = ref Unsafe.Add(ref MemoryMarshal.GetReference(parameters), r * columns);
            ref float m = ref MemoryMarshal.GetReference(rowSegment.Of(_m));
            ref float v = ref MemoryMarshal.GetReference(rowSegment.Of(_v));
            ref float vmax = ref MemoryMarshal.GetReference(rowSegment.Of(_vMax));
            int c = 0;
            if (wide)
            {
                for (; c + 16 <= vectorEnd; c += 16)
                {
                    var g = Simd.Fma(row[0], Vector512.LoadUnsafe(ref x, (nuint)c), Vector512<float>.Zero);
                    for (int b = 1; b < k; b++)
                    {
                        g = Simd.Fma(row[b], Vector512.LoadUnsafe(ref x, (nuint)((b * columns) + c)), g);
                    }

                    wideRule.Apply(ref p, ref m, ref v, ref vmax, (nuint)c, g, AmsGrad);
                }
            }

            for (; c + 8 <= vectorEnd; c += 8)
            {
                var g = Vector256<float>.Zero;
                for (int b = 0; b < k; b++)
                {
                    g = Simd.Fma(row[b].GetLower(), Vector256.LoadUnsafe(ref x, (nuint)((b * columns) + c)), g);
                }

                narrowRule.Apply(ref p, ref m, ref v, ref vmax, (nuint)c, g, AmsGrad);
            }

            for (; c < columns; c++)
            {
                float sum = 0f;
                for (int b = 0; b < k; b++)
                {
                    sum += dy[(b * outFeatures) + o] * Unsafe.Add(ref x, (b * columns) + c);
                }

                rule.Apply(ref p, ref m, ref v, ref vmax, c, sum, AmsGrad);
            }
        }

        return true;
    }

    /// <summary>Whether a deferred gradient is applied as it is computed (true), or written a block at a time first: a switch for benchmarks.</summary>
    internal static bool FuseDeferred { get; set; } = true;

    // The update of one parameter (and, widened below, of 8 or 16): gradient g, with L2 decay folded into
    // it (Adam) or the parameter shrunk first (AdamW); then the moments, the bias corrections and the step.
    private readonly struct Rule
    {
        public readonly float B1, B2, C1, C2, Wd, Shrink, InverseCorrection1, InverseCorrection2, Lr, Eps;

        public Rule(Adam adam, ParameterSegment segment, long t)
        {
            Lr = segment.LearningRate;
            B1 = adam.Beta1;
            B2 = adam.Beta2;
            Eps = adam.Epsilon;
            C1 = 1f - B1;
            C2 = 1f - B2;
            InverseCorrection1 = (float)(1.0 / (1.0 - Math.Pow(B1, t)));
            InverseCorrection2 = (float)(1.0 / (1.0 - Math.Pow(B2, t)));
            Wd = adam._decoupled ? 0f : segment.WeightDecay;
            Shrink = adam._decoupled ? 1f - (Lr * segment.WeightDecay) : 1f;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref float p, ref float m, ref float v, ref float vmax, int i, float g, bool amsgrad)
        {
            ref float pi = ref Unsafe.Add(ref p, i);
            float gi = g + (Wd * pi);
            pi *= Shrink;
            ref float mi = ref Unsafe.Add(ref m, i);
            ref float vi = ref Unsafe.Add(ref v, i);
            mi = (B1 * mi) + (C1 * gi);
            vi = (B2 * vi) + (C2 * gi * gi);
            float kept = vi; // the v whose root divides: v, or with amsgrad the largest v so far
            if (amsgrad)
            {
                ref float most = ref Unsafe.Add(ref vmax, i);
                kept = most = MathF.Max(most, vi);
            }

            pi -= Lr * (mi * InverseCorrection1) / (MathF.Sqrt(kept * InverseCorrection2) + Eps);
        }
    }

    private readonly struct NarrowRule
    {
        private readonly Vector256<float> _b1, _b2, _c1, _c2, _wd, _shrink, _ic1, _ic2, _lr, _eps;

        public NarrowRule(in Rule r)
        {
            _b1 = Vector256.Create(r.B1);
            _b2 = Vector256.Create(r.B2);
            _c1 = Vector256.Create(r.C1);
            _c2 = Vector256.Create(r.C2);
            _wd = Vector256.Create(r.Wd);
            _shrink = Vector256.Create(r.Shrink);
            _ic1 = Vector256.Create(r.InverseCorrection1);
            _ic2 = Vector256.Create(r.InverseCorrection2);
            _lr = Vector256.Create(r.Lr);
            _eps = Vector256.Create(r.Eps);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref float p, ref float m, ref float v, ref float vmax, nuint i, Vector256<float> g, bool amsgrad)
        {
            var vp = Vector256.LoadUnsafe(ref p, i);
            var vg = g + (_wd * vp);
            vp *= _shrink;
            var vm = (_b1 * Vector256.LoadUnsafe(ref m, i)) + (_c1 * vg);
            var vv = (_b2 * Vector256.LoadUnsafe(ref v, i)) + (_c2 * vg * vg);
            vm.StoreUnsafe(ref m, i);
            vv.StoreUnsafe(ref v, i);
            if (amsgrad)
            {
                vv = Vector256.Max(vv, Vector256.LoadUnsafe(ref vmax, i));
                vv.StoreUnsafe(ref vmax, i);
            }

            (vp - (_lr * (vm * _ic1) / (Vector256.Sqrt(vv * _ic2) + _eps))).StoreUnsafe(ref p, i);
        }
    }

    private readonly struct WideRule
    {
        private readonly Vector512<float> _b1, _b2, _c1, _c2, _wd, _shrink, _ic1, _ic2, _lr, _eps;

        public WideRule(in Rule r)
        {
            _b1 = Vector512.Create(r.B1);
            _b2 = Vector512.Create(r.B2);
            _c1 = Vector512.Create(r.C1);
            _c2 = Vector512.Create(r.C2);
            _wd = Vector512.Create(r.Wd);
            _shrink = Vector512.Create(r.Shrink);
            _ic1 = Vector512.Create(r.InverseCorrection1);
            _ic2 = Vector512.Create(r.InverseCorrection2);
            _lr = Vector512.Create(r.Lr);
            _eps = Vector512.Create(r.Eps);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref float p, ref float m, ref float v, ref float vmax, nuint i, Vector512<float> g, bool amsgrad)
        {
            var vp = Vector512.LoadUnsafe(ref p, i);
            var vg = g + (_wd * vp);
            vp *= _shrink;
            var vm = (_b1 * Vector512.LoadUnsafe(ref m, i)) + (_c1 * vg);
            var vv = (_b2 * Vector512.LoadUnsafe(ref v, i)) + (_c2 * vg * vg);
            vm.StoreUnsafe(ref m, i);
            vv.StoreUnsafe(ref v, i);
            if (amsgrad)
            {
                vv = Vector512.Max(vv, Vector512.LoadUnsafe(ref vmax, i));
                vv.StoreUnsafe(ref vmax, i);
            }

            (vp - (_lr * (vm * _ic1) / (Vector512.Sqrt(vv * _ic2) + _eps))).StoreUnsafe(ref p, i);
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
