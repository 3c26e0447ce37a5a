using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// Base of NetGen's optimizers: they act on a network's flat parameter and gradient buffers.
/// State (moments, accumulators) is allocated once, by <see cref="Bind(int)"/> or by the first
/// <see cref="Step"/>; a step allocates nothing. Update rules and defaults are PyTorch's
/// (torch.optim), as documented there; <c>maximize</c>, <c>foreach</c>, <c>fused</c> and
/// <c>capturable</c> are not offered.
/// </summary>
public abstract class Optimizer : IOptimizer
{
    private float _learningRate;

    /// <summary>Validates and stores the shared hyper-parameters.</summary>
    protected Optimizer(float learningRate, float weightDecay)
    {
        LearningRate = learningRate;
        if (!(weightDecay >= 0f) || float.IsInfinity(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be non-negative and finite.");
        }

        WeightDecay = weightDecay;
    }

    /// <inheritdoc/>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0f) || float.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be non-negative and finite.");
            }

            _learningRate = value;
        }
    }

    /// <summary>Weight decay λ (L2 penalty added to the gradient; decoupled in <see cref="AdamW"/>).</summary>
    public float WeightDecay { get; }

    /// <summary>Steps taken since binding or <see cref="Reset"/> (PyTorch's <c>step</c>, t).</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameter count the state was allocated for; 0 while unbound.</summary>
    public int ParameterCount { get; private set; }

    /// <summary>Allocates the state for <paramref name="parameterCount"/> parameters, once.</summary>
    /// <exception cref="InvalidOperationException">Already bound to a different count.</exception>
    public void Bind(int parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        if (ParameterCount == parameterCount)
        {
            return;
        }

        if (ParameterCount != 0)
        {
            throw new InvalidOperationException($"This optimizer is bound to {ParameterCount} parameters and cannot step {parameterCount}; create one optimizer per network.");
        }

        AllocateState(parameterCount);
        ParameterCount = parameterCount;
    }

    /// <summary>Allocates the state for <paramref name="network"/>'s parameters.</summary>
    public void Bind(INetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        Bind(network.ParameterCount);
    }

    /// <summary>Forgets the state (moments, accumulators, step count), keeping its memory.</summary>
    public void Reset()
    {
        StepCount = 0;
        ClearState();
    }

    /// <inheritdoc/>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (gradients.Length != parameters.Length)
        {
            throw new ArgumentException($"'{nameof(gradients)}' has {gradients.Length} values; {parameters.Length} were expected (one per parameter).", nameof(gradients));
        }

        if (parameters.IsEmpty)
        {
            return;
        }

        if (ParameterCount != parameters.Length)
        {
            Bind(parameters.Length);
        }

        StepCount++;
        Update(parameters, gradients, StepCount);
    }

    /// <summary>Allocates the state arrays.</summary>
    protected abstract void AllocateState(int parameterCount);

    /// <summary>Zeroes the state arrays (or sets their initial values).</summary>
    protected abstract void ClearState();

    /// <summary>Step <paramref name="t"/> (1-based) of the update rule.</summary>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long t);

    internal static void CheckRange(float value, float min, float maxExclusive, string name)
    {
        if (!(value >= min && value < maxExclusive))
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must lie in [{min}, {maxExclusive}).");
        }
    }

    internal static void CheckPositive(float value, string name)
    {
        if (!(value > 0f) || float.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be positive and finite.");
        }
    }

    internal static ref float Ref(Span<float> span) => ref MemoryMarshal.GetReference(span);

    internal static ref float Ref(ReadOnlySpan<float> span) => ref MemoryMarshal.GetReference(span);

    internal static int VectorEnd(int n) => Vector256.IsHardwareAccelerated ? n - (n % Vector256<float>.Count) : 0;
}

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight
/// decay: PyTorch's <c>torch.optim.SGD</c>. With λ weight decay, μ momentum, τ dampening:
/// <code>
/// g ← ∇ + λθ
/// if μ ≠ 0: b ← (t = 1 ? g : μb + (1 − τ)g);  g ← nesterov ? g + μb : b
/// θ ← θ − lr·g
/// </code>
/// </summary>
public sealed class Sgd : Optimizer
{
    private float[] _momentum = Array.Empty<float>();

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size (lr).</param>
    /// <param name="momentum">Momentum factor μ (default 0: plain SGD).</param>
    /// <param name="dampening">Dampening τ for momentum (default 0).</param>
    /// <param name="weightDecay">L2 penalty λ added to the gradient (default 0).</param>
    /// <param name="nesterov">Nesterov momentum; needs μ &gt; 0 and τ = 0.</param>
    public Sgd(float learningRate, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(learningRate, weightDecay)
    {
        CheckRange(momentum, 0f, 1f, nameof(momentum));
        CheckRange(dampening, 0f, 1.0000001f, nameof(dampening));
        if (nesterov && (momentum <= 0f || dampening != 0f))
        {
            throw new ArgumentException("Nesterov momentum needs a positive momentum and zero dampening (as in PyTorch).", nameof(nesterov));
        }

        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    /// <summary>Momentum factor μ.</summary>
    public float Momentum { get; }

    /// <summary>Dampening τ.</summary>
    public float Dampening { get; }

    /// <summary>Whether the momentum is Nesterov's.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterCount) =>
        _momentum = Momentum != 0f ? new float[parameterCount] : Array.Empty<float>();

    /// <inheritdoc/>
    protected override void ClearState() => Array.Clear(_momentum);

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long t)
    {
        int n = parameters.Length;
        ref float p = ref Ref(parameters);
        ref float g = ref Ref(gradients);
        float lr = LearningRate, wd = WeightDecay, mu = Momentum, keep = 1f - Dampening;
        bool first = t == 1;
        if (mu == 0f)
        {
            int i = 0;
            var vlr = Vector256.Create(lr);
            var vwd = Vector256.Create(wd);
            for (int end = VectorEnd(n); i < end; i += Vector256<float>.Count)
            {
                var vp = Vector256.LoadUnsafe(ref p, (nuint)i);
                var vg = Vector256.LoadUnsafe(ref g, (nuint)i) + (vwd * vp);
                (vp - (vlr * vg)).StoreUnsafe(ref p, (nuint)i);
            }

            for (; i < n; i++)
            {
                ref float pi = ref Unsafe.Add(ref p, i);
                pi -= lr * (Unsafe.Add(ref g, i) + (wd * pi));
            }

            return;
        }

        ref float b = ref MemoryMarshal.GetArrayDataReference(_momentum);
        int j = 0;
        {
            var vlr = Vector256.Create(lr);
            var vwd = Vector256.Create(wd);
            var vmu = Vector256.Create(mu);
            var vkeep = Vector256.Create(keep);
            for (int end = VectorEnd(n); j < end; j += Vector256<float>.Count)
            {
                var vp = Vector256.LoadUnsafe(ref p, (nuint)j);
                var vg = Vector256.LoadUnsafe(ref g, (nuint)j) + (vwd * vp);
                var vb = first ? vg : (vmu * Vector256.LoadUnsafe(ref b, (nuint)j)) + (vkeep * vg);
                vb.StoreUnsafe(ref b, (nuint)j);
                vg = Nesterov ? vg + (vmu * vb) : vb;
                (vp - (vlr * vg)).StoreUnsafe(ref p, (nuint)j);
            }
        }

        for (int i = j; i < n; i++)
        {
            ref float pi = ref Unsafe.Add(ref p, i);
            ref float bi = ref Unsafe.Add(ref b, i);
            float gi = Unsafe.Add(ref g, i) + (wd * pi);
            bi = first ? gi : (mu * bi) + (keep * gi);
            gi = Nesterov ? gi + (mu * bi) : bi;
            pi -= lr * gi;
        }
    }
}

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
    protected override void AllocateState(int parameterCount)
    {
        _sum = new float[parameterCount];
        ClearState();
    }

    /// <inheritdoc/>
    protected override void ClearState() => Array.Fill(_sum, InitialAccumulatorValue);

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long t)
    {
        int n = parameters.Length;
        ref float p = ref Ref(parameters);
        ref float g = ref Ref(gradients);
        ref float s = ref MemoryMarshal.GetArrayDataReference(_sum);
        float clr = (float)(LearningRate / (1.0 + ((t - 1) * (double)LearningRateDecay)));
        float wd = WeightDecay, eps = Epsilon;
        int i = 0;
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
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long t)
    {
        int n = parameters.Length;
        float lr = LearningRate, wd = WeightDecay, a = Alpha, oneMinusA = 1f - Alpha, eps = Epsilon, mu = Momentum;
        int i = 0;
        if (!Centered && mu == 0f)
        {
            // The common case, vectorised: v ← αv + (1 − α)g², θ ← θ − lr·g/(√v + ε).
            ref float p = ref Ref(parameters);
            ref float g = ref Ref(gradients);
            ref float sq = ref MemoryMarshal.GetArrayDataReference(_square);
            var va = Vector256.Create(a);
            var vb = Vector256.Create(oneMinusA);
            var vwd = Vector256.Create(wd);
            var vlr = Vector256.Create(lr);
            var veps = Vector256.Create(eps);
            for (int end = VectorEnd(n); i < end; i += Vector256<float>.Count)
            {
                var vp = Vector256.LoadUnsafe(ref p, (nuint)i);
                var vg = Vector256.LoadUnsafe(ref g, (nuint)i) + (vwd * vp);
                var vv = (va * Vector256.LoadUnsafe(ref sq, (nuint)i)) + (vb * vg * vg);
                vv.StoreUnsafe(ref sq, (nuint)i);
                (vp - (vlr * vg / (Vector256.Sqrt(vv) + veps))).StoreUnsafe(ref p, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float g = gradients[i] + (wd * parameters[i]);
            float v = _square[i] = (a * _square[i]) + (oneMinusA * g * g);
            if (Centered)
            {
                float avg = _average[i] = (a * _average[i]) + (oneMinusA * g);
                v -= avg * avg;
            }

            float step = g / (MathF.Sqrt(v) + eps);
            if (mu > 0f)
            {
                step = _momentum[i] = (mu * _momentum[i]) + step;
            }

            parameters[i] -= lr * step;
        }
    }
}

/// <summary>
/// Adam, PyTorch's <c>torch.optim.Adam</c> (and, with <c>decoupled</c>, <see cref="AdamW"/>):
/// <code>
/// g ← ∇ + λθ                         (AdamW instead: θ ← θ − lr·λ·θ)
/// m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²
/// m̂ ← m / (1 − β₁ᵗ);     v̂ ← v / (1 − β₂ᵗ)      (amsgrad: v̂ ← max(v̂max, v̂), kept)
/// θ ← θ − lr·m̂ / (√v̂ + ε)
/// </code>
/// ε is added after the square root, as in PyTorch. With amsgrad this follows PyTorch's
/// documented rule (the maximum of the bias-corrected v̂).
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
    protected override void ClearState()
    {
        Array.Clear(_m);
        Array.Clear(_v);
        Array.Clear(_vMax);
    }

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long t)
    {
        int n = parameters.Length;
        float lr = LearningRate, b1 = Beta1, b2 = Beta2, eps = Epsilon;
        float c1 = 1f - b1, c2 = 1f - b2;
        float inverseCorrection1 = (float)(1.0 / (1.0 - Math.Pow(b1, t)));
        float inverseCorrection2 = (float)(1.0 / (1.0 - Math.Pow(b2, t)));
        float wd = _decoupled ? 0f : WeightDecay;
        float shrink = _decoupled ? 1f - (lr * WeightDecay) : 1f;
        ref float p = ref Ref(parameters);
        ref float g = ref Ref(gradients);
        ref float m = ref MemoryMarshal.GetArrayDataReference(_m);
        ref float v = ref MemoryMarshal.GetArrayDataReference(_v);
        int i = 0;
        if (!AmsGrad)
        {
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
                var vg = Vector256.LoadUnsafe(ref g, (nuint)i) + (vwd * vp);
                vp *= vshrink;
                var vm = (vb1 * Vector256.LoadUnsafe(ref m, (nuint)i)) + (vc1 * vg);
                var vv = (vb2 * Vector256.LoadUnsafe(ref v, (nuint)i)) + (vc2 * vg * vg);
                vm.StoreUnsafe(ref m, (nuint)i);
                vv.StoreUnsafe(ref v, (nuint)i);
                (vp - (vlr * (vm * vic1) / (Vector256.Sqrt(vv * vic2) + veps))).StoreUnsafe(ref p, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            ref float pi = ref Unsafe.Add(ref p, i);
            float gi = Unsafe.Add(ref g, i) + (wd * pi);
            pi *= shrink;
            ref float mi = ref Unsafe.Add(ref m, i);
            ref float vi = ref Unsafe.Add(ref v, i);
            mi = (b1 * mi) + (c1 * gi);
            vi = (b2 * vi) + (c2 * gi * gi);
            float vHat = vi * inverseCorrection2;
            if (AmsGrad)
            {
                vHat = _vMax[i] = MathF.Max(_vMax[i], vHat);
            }

            pi -= lr * (mi * inverseCorrection1) / (MathF.Sqrt(vHat) + eps);
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
