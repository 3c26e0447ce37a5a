using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

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
    protected internal override IEnumerable<KeyValuePair<string, float[]>> StateBuffers =>
        Momentum != 0f ? new KeyValuePair<string, float[]>[] { new("momentum_buffer", _momentum) } : Array.Empty<KeyValuePair<string, float[]>>();

    /// <inheritdoc/>
    protected override void AllocateState(int parameterCount) =>
        _momentum = Momentum != 0f ? new float[parameterCount] : Array.Empty<float>();

    /// <inheritdoc/>
    protected override void ClearState() => Array.Clear(_momentum);

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
    {
        int n = parameters.Length;
        ref float p = ref Ref(parameters);
        ref float g = ref Ref(gradients);
        float lr = segment.LearningRate, wd = segment.WeightDecay, mu = Momentum, keep = 1f - Dampening;
        bool first = t == 1;
        if (mu == 0f)
        {
            int i = 0;
            if (MatMul.UseVectors && MatMul.Use512)
            {
                // The 256-bit loop's operations on twice the width: the same bits.
                var wlr = Vector512.Create(lr);
                var wwd = Vector512.Create(wd);
                for (int end = n - (n % Vector512<float>.Count); i < end; i += Vector512<float>.Count)
                {
                    var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                    var vg = Vector512.LoadUnsafe(ref g, (nuint)i) + (wwd * vp);
                    (vp - (wlr * vg)).StoreUnsafe(ref p, (nuint)i);
                }
            }

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

        ref float b = ref MemoryMarshal.GetReference(segment.Of(_momentum));
        int j = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            var wlr = Vector512.Create(lr);
            var wwd = Vector512.Create(wd);
            var wmu = Vector512.Create(mu);
            var wkeep = Vector512.Create(keep);
            for (int end = n - (n % Vector512<float>.Count); j < end; j += Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, (nuint)j);
                var vg = Vector512.LoadUnsafe(ref g, (nuint)j) + (wwd * vp);
                var vb = first ? vg : (wmu * Vector512.LoadUnsafe(ref b, (nuint)j)) + (wkeep * vg);
                vb.StoreUnsafe(ref b, (nuint)j);
                vg = Nesterov ? vg + (wmu * vb) : vb;
                (vp - (wlr * vg)).StoreUnsafe(ref p, (nuint)j);
            }
        }

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

    /// <summary>
    /// Plain SGD (no momentum) on whole rows of a deferred weight gradient of up to 8 batch rows: each
    /// gradient value is computed as <see cref="MatMul.Multiply(Span{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, int, bool)"/> computes it (a fused multiply-add
    /// chain from zero over the batch rows on the vector columns, 4-wide ones included; a sum of products
    /// on the last n mod 4, or everywhere on the scalar path) and applied at once, p − lr·(g + λp): the
    /// bits of writing the block and calling <see cref="Update"/>, without the block's store and reload.
    /// At batch 1 the 784-128-10 MLP's step: see the README.
    /// </summary>
    private protected override bool UpdateDeferredRows(Span<float> parameters, DeferredWeightGradient deferred, int first, int count, ParameterSegment segment, long t)
    {
        if (Momentum != 0f || deferred.BatchRows > 8)
        {
            return false;
        }

        int columns = deferred.InFeatures, outFeatures = deferred.OutFeatures, k = deferred.BatchRows;
        float lr = segment.LearningRate, wd = segment.WeightDecay;
        ReadOnlySpan<float> dy = deferred.OutputGradient;
        ref float x = ref MemoryMarshal.GetReference(deferred.Input);
        bool vectors = MatMul.UseVectors, wide = vectors && MatMul.Use512;
        // At batch 1 each row is taken two 512-bit vectors at a time with its factor dy in a register: the same
        // operations on each value, so the same bits. The MLP's batch-1 SGD step (session 20): 8.8 µs against
        // 10.2-11.0 with the loop below alone, alternating blocks in one process (one vector at a time with dy
        // hoisted, 10.9-11.1; four at a time, no better than two); 8.9-10.3 against 10.2-12.4 before, alternating
        // processes. No static of this class may be read here: this method is compiled for full speed before its
        // first call, when the class's statics may not have been read yet, and gets a class-initialisation check;
        // with one (a switch for the comparison above) the two-vector loop took 10.6-12.4 µs, no gain.
        // Batches of 2 the same way, with both factors in registers: with MatMul's two-row dot products (a batch
        // of 2 reads the weight once in the forward pass), the MLP's batch-2 step 13.3-13.7 µs against 17.3-17.6.
        bool one = wide && k == 1, two = wide && k == 2;
        int vectorEnd = vectors ? columns - (columns % 8) : 0;
        Span<Vector512<float>> row = stackalloc Vector512<float>[8]; // dy[b, o] for the row's batch rows, broadcast
        var wlr = Vector512.Create(lr);
        var wwd = Vector512.Create(wd);
        var vlr = Vector256.Create(lr);
        var vwd = Vector256.Create(wd);
        for (int r = 0; r < count; r++)
        {
            int o = first + r;
            bool zero = wd == 0f;
            for (int b = 0; b < k; b++)
            {
                float d = dy[(b * outFeatures) + o];
                zero &= d == 0f;
                row[b] = Vector512.Create(d);
            }

            // A row whose output gradient is 0 in every batch row (a unit the ReLU after it held at 0 for each
            // sample: about half of them) keeps its values: with no weight decay p − lr·g is p, bit for bit, as
            // the chain from zero adds +0 for every finite input (a non-finite one makes the loss non-finite, and
            // the step is refused before it). At batch 1 this skips about half of the weights' reading and writing.
            if (zero)
            {
                continue;
            }

            ref float p = ref Unsafe.Add(ref MemoryMarshal.GetReference(parameters), r * columns);
            int c = 0;
            if (wide)
            {
                if (one)
                {
                    var r0 = row[0];
                    for (; c + 32 <= vectorEnd; c += 32)
                    {
                        var g0 = Simd.Fma(r0, Vector512.LoadUnsafe(ref x, (nuint)c), Vector512<float>.Zero);
                        var g1 = Simd.Fma(r0, Vector512.LoadUnsafe(ref x, (nuint)(c + 16)), Vector512<float>.Zero);
                        var p0 = Vector512.LoadUnsafe(ref p, (nuint)c);
                        var p1 = Vector512.LoadUnsafe(ref p, (nuint)(c + 16));
                        (p0 - (wlr * (g0 + (wwd * p0)))).StoreUnsafe(ref p, (nuint)c);
                        (p1 - (wlr * (g1 + (wwd * p1)))).StoreUnsafe(ref p, (nuint)(c + 16));
                    }
                }
                else if (two)
                {
                    var r0 = row[0];
                    var r1 = row[1];
                    ref float x1 = ref Unsafe.Add(ref x, columns);
                    for (; c + 32 <= vectorEnd; c += 32)
                    {
                        var g0 = Simd.Fma(r1, Vector512.LoadUnsafe(ref x1, (nuint)c), Simd.Fma(r0, Vector512.LoadUnsafe(ref x, (nuint)c), Vector512<float>.Zero));
                        var g1 = Simd.Fma(r1, Vector512.LoadUnsafe(ref x1, (nuint)(c + 16)), Simd.Fma(r0, Vector512.LoadUnsafe(ref x, (nuint)(c + 16)), Vector512<float>.Zero));
                        var p0 = Vector512.LoadUnsafe(ref p, (nuint)c);
                        var p1 = Vector512.LoadUnsafe(ref p, (nuint)(c + 16));
                        (p0 - (wlr * (g0 + (wwd * p0)))).StoreUnsafe(ref p, (nuint)c);
                        (p1 - (wlr * (g1 + (wwd * p1)))).StoreUnsafe(ref p, (nuint)(c + 16));
                    }
                }

                for (; c + 16 <= vectorEnd; c += 16)
                {
                    var g = Simd.Fma(row[0], Vector512.LoadUnsafe(ref x, (nuint)c), Vector512<float>.Zero);
                    for (int b = 1; b < k; b++)
                    {
                        g = Simd.Fma(row[b], Vector512.LoadUnsafe(ref x, (nuint)((b * columns) + c)), g);
                    }

                    var vp = Vector512.LoadUnsafe(ref p, (nuint)c);
                    (vp - (wlr * (g + (wwd * vp)))).StoreUnsafe(ref p, (nuint)c);
                }
            }

            for (; c + 8 <= vectorEnd; c += 8)
            {
                var g = Vector256<float>.Zero;
                for (int b = 0; b < k; b++)
                {
                    g = Simd.Fma(row[b].GetLower(), Vector256.LoadUnsafe(ref x, (nuint)((b * columns) + c)), g);
                }

                var vp = Vector256.LoadUnsafe(ref p, (nuint)c);
                (vp - (vlr * (g + (vwd * vp)))).StoreUnsafe(ref p, (nuint)c);
            }

            if (vectors && Vector128.IsHardwareAccelerated && c + 4 <= columns)
            {
                var g = Vector128<float>.Zero;
                for (int b = 0; b < k; b++)
                {
                    g = Simd.Fma(row[b].GetLower().GetLower(), Vector128.LoadUnsafe(ref x, (nuint)((b * columns) + c)), g);
                }

                var vp = Vector128.LoadUnsafe(ref p, (nuint)c);
                (vp - (vlr.GetLower() * (g + (vwd.GetLower() * vp)))).StoreUnsafe(ref p, (nuint)c);
                c += 4;
            }

            for (; c < columns; c++)
            {
                float sum = 0f;
                for (int b = 0; b < k; b++)
                {
                    sum += dy[(b * outFeatures) + o] * Unsafe.Add(ref x, (b * columns) + c);
                }

                ref float pi = ref Unsafe.Add(ref p, c);
                pi -= lr * (sum + (wd * pi));
            }
        }

        return true;
    }
}
