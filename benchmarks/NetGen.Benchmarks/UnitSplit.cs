using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;

namespace NetGen.Benchmarks;

/// <summary>
/// A hand-written prototype: the MLP (784-128-10, SGD) trained on 2 threads split by hidden units
/// instead of by samples. Thread s owns hidden units [64s, 64s + 64): dense1's weight rows and bias,
/// dense2's weight columns; it computes its units' activations for the whole batch and its partial
/// logits; after one barrier each thread adds the two partials, takes the loss's gradient (both do,
/// the same bits), and backpropagates and steps its own parameters. No parameter or gradient crosses
/// between the cores; what crosses is the partial logits (n x 10).
/// </summary>
internal sealed class UnitSplitMlp : IShardedWork
{
    private const int In = 784, Hidden = 128, Out = 10, Half = Hidden / 2;
    private const int W1 = 0, B1 = W1 + (Hidden * In), W2 = B1 + Hidden, B2 = W2 + (Out * Hidden), Count = B2 + Out;

    private readonly float[] _p;
    private readonly float[] _g = new float[Count];
    private readonly Share[] _shares;
    private float[] _x = Array.Empty<float>();
    private int[] _labels = Array.Empty<int>();
    private int _n;
    private int _phase;
    private float _lr;

    private sealed class Share(int batch)
    {
        public readonly float[] Z = new float[batch * Half], H = new float[batch * Half], P = new float[batch * Out];
        public readonly float[] Logits = new float[batch * Out], Probs = new float[batch * Out], DY = new float[batch * Out];
        public readonly float[] W2s = new float[Out * Half], DW2s = new float[Out * Half], B2s = new float[Out];
        public readonly float[] DH = new float[batch * Half], DZ = new float[batch * Half];
        public float Loss;
    }

    public UnitSplitMlp(float[] parameters, int batch)
    {
        _p = parameters;
        _shares = new[] { new Share(batch), new Share(batch) };
    }

    public float[] Parameters => _p;

    private readonly Sgd _sgd = new(0f);
    private bool _stepInRun = true;

    /// <summary>The gradients by hidden units (two runs), then the optimizer's own split step (a third).</summary>
    public float StepAfter(float[] x, int[] labels, float lr)
    {
        _stepInRun = false;
        _sgd.LearningRate = lr;
        float loss = Step(x, labels, lr, 2);
        _stepInRun = true;
        _sgd.Step(_p, _g, threads: 2);
        return loss;
    }

    public float Step(float[] x, int[] labels, float lr, int threads)
    {
        _n = labels.Length;
        _lr = lr;
        _x = x;
        _labels = labels;
        _phase = 0;
        Run(threads);
        _phase = 1;
        Run(threads);

        return _shares[0].Loss;
    }

    private void Run(int threads)
    {
        Workers.Shared.Run(this, 2, threads);
    }

    public void RunShard(int s)
    {
        int n = _n;
        Share me = _shares[s];
        var x = _x.AsSpan(0, n * In);
        Span<float> w1 = _p.AsSpan(W1 + (s * Half * In), Half * In), b1 = _p.AsSpan(B1 + (s * Half), Half);
        if (_phase == 0)
        {
            Kernels.DenseForward(me.Z, x, w1, b1, n, In, Half);
            Kernels.ActivationForward(me.H.AsSpan(0, n * Half), me.Z.AsSpan(0, n * Half), Activation.ReLU, 0f, Half);
            for (int o = 0; o < Out; o++)
            {
                _p.AsSpan(W2 + (o * Hidden) + (s * Half), Half).CopyTo(me.W2s.AsSpan(o * Half, Half));
            }

            MatMul.MultiplyTransposed(me.P, me.H, me.W2s, n, Out, Half, accumulate: false);
            _p.AsSpan(B2, Out).CopyTo(me.B2s); // shard 0 steps dense2.bias in the next phase, while shard 1 may still read it
            return;
        }

        Span<float> logits = me.Logits.AsSpan(0, n * Out);
        TensorPrimitives.Add(_shares[0].P.AsSpan(0, n * Out), _shares[1].P.AsSpan(0, n * Out), logits);
        for (int r = 0; r < n; r++)
        {
            TensorPrimitives.Add(logits.Slice(r * Out, Out), me.B2s, logits.Slice(r * Out, Out));
        }

        me.Loss = Kernels.SoftmaxCrossEntropy(me.Probs, me.DY, logits, _labels.AsSpan(0, n), n, Out, meanOver: n);
        Span<float> db2 = s == 0 ? _g.AsSpan(B2, Out) : default;
        Kernels.DenseBackward(me.DH, me.DW2s, db2, me.DY, me.H, me.W2s, n, Half, Out, accumulate: false);
        Kernels.ActivationBackward(me.DZ.AsSpan(0, n * Half), me.DH.AsSpan(0, n * Half), me.Z.AsSpan(0, n * Half), me.H.AsSpan(0, n * Half), Activation.ReLU, 0f, Half);
        Span<float> gw1 = _g.AsSpan(W1 + (s * Half * In), Half * In), gb1 = _g.AsSpan(B1 + (s * Half), Half);
        Kernels.DenseBackward(default, gw1, gb1, me.DZ, x, w1, n, In, Half, accumulate: false);

        if (!_stepInRun)
        {
            for (int o = 0; o < Out; o++)
            {
                me.DW2s.AsSpan(o * Half, Half).CopyTo(_g.AsSpan(W2 + (o * Hidden) + (s * Half), Half));
            }

            return;
        }

        // SGD on what this thread owns.
        float lr = -_lr;
        TensorPrimitives.MultiplyAdd(gw1, lr, w1, w1);
        TensorPrimitives.MultiplyAdd(gb1, lr, b1, b1);
        for (int o = 0; o < Out; o++)
        {
            Span<float> w2 = _p.AsSpan(W2 + (o * Hidden) + (s * Half), Half), g2 = _g.AsSpan(W2 + (o * Hidden) + (s * Half), Half);
            me.DW2s.AsSpan(o * Half, Half).CopyTo(g2);
            TensorPrimitives.MultiplyAdd(g2, lr, w2, w2);
        }

        if (s == 0)
        {
            TensorPrimitives.MultiplyAdd(db2, lr, _p.AsSpan(B2, Out), _p.AsSpan(B2, Out));
        }
    }

    public static Action Stepper(int batch, int threads)
    {
        (float[] x, int[] labels) = Data.Batch(batch);
        var proto = new UnitSplitMlp(new FashionMlp(batch, seed: 1).Parameters.ToArray(), batch);
        return () => proto.Step(x, labels, 0f, threads);
    }

    /// <summary>
    /// The prototype against the generated network: the same 30 SGD steps from the same parameters (the
    /// largest relative difference of the parameters), then 1 and 2 threads of the generated network and
    /// the prototype on 2, in alternating blocks of 250 ms, at batch 32 and 256.
    /// </summary>
    public static void Run()
    {
        foreach (int batch in new[] { 32, 256 })
        {
            (float[] x, int[] labels) = Data.Batch(batch);
            var reference = new FashionMlp(batch, seed: 1);
            var proto = new UnitSplitMlp(reference.Parameters.ToArray(), batch);
            var sgd = new Sgd(0.05f);
            float l1 = 0, l2 = 0;
            for (int i = 0; i < 30; i++)
            {
                l1 = reference.TrainStep(x, labels, sgd);
                l2 = i % 2 == 0 ? proto.Step(x, labels, 0.05f, threads: 2) : proto.StepAfter(x, labels, 0.05f);
            }

            double worst = AlternatingBlocks.LargestRelativeDifference(reference.Parameters, proto._p);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {batch}: losses after 30 steps {l1:F6} / {l2:F6}, largest relative parameter difference {worst:E2}"));

            var one = new FashionMlp(batch, seed: 1) { Threads = 1 };
            var two = new FashionMlp(batch, seed: 1) { Threads = 2 };
            Sgd zero1 = new(0f), zero2 = new(0f);
            var steps = new Action[] { () => one.TrainStep(x, labels, zero1), () => two.TrainStep(x, labels, zero2), () => proto.Step(x, labels, 0f, 2), () => proto.Step(x, labels, 0f, 1), () => proto.StepAfter(x, labels, 0f) };
            double[] m = AlternatingBlocks.Medians(steps, rounds: 13);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {batch}: generated 1 thread {m[0]:F4} ms, 2 threads {m[1]:F4} ms ({m[0] / m[1]:F2}x); by hidden units on 2 {m[2]:F4} ms ({m[0] / m[2]:F2}x), both shares on 1 {m[3]:F4} ms; the optimizer's split step after {m[4]:F4} ms ({m[0] / m[4]:F2}x)"));
        }
    }
}

/// <summary>
/// <c>--columns</c>: a dense layer's forward and weight gradient on one thread, whole and in blocks of units
/// (each block timed alone), for the layers the split by units runs: does a block cost its share of the whole?
/// </summary>
internal static class ColumnsProbe
{
    public static void Run()
    {
        foreach ((int rows, int inFeatures, int outFeatures) in new[] { (64, 784, 256), (64, 256, 128), (32, 784, 128), (256, 784, 128), (128, 784, 128) })
        {
            float[] x = Data.Batch(rows).Inputs.AsSpan(0, rows * Math.Min(784, inFeatures)).ToArray();
            if (x.Length < rows * inFeatures)
            {
                x = new float[rows * inFeatures];
            }

            float[] w = new float[outFeatures * inFeatures], b = new float[outFeatures], y = new float[rows * outFeatures], dw = new float[w.Length];
            var random = new SeededRandom(1);
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = random.NextSingle() - 0.5f;
            }

            int half = outFeatures / 2;
            double Time(Action a)
            {
                for (int i = 0; i < 200; i++)
                {
                    a();
                }

                var t = new List<double>();
                for (int i = 0; i < 400; i++)
                {
                    long s = Stopwatch.GetTimestamp();
                    a();
                    t.Add(Stopwatch.GetElapsedTime(s).TotalMicroseconds);
                }

                t.Sort();
                return t[t.Count / 2];
            }

            double fw = Time(() => Kernels.DenseForward(y, x, w, b, rows, inFeatures, outFeatures));
            double f0 = Time(() => Kernels.DenseForwardColumns(y, x, w, b, rows, inFeatures, outFeatures, 0, half));
            double f1 = Time(() => Kernels.DenseForwardColumns(y, x, w, b, rows, inFeatures, outFeatures, half, half));
            double gw = Time(() => Kernels.DenseBackward(default, dw, default, y, x, w, rows, inFeatures, outFeatures, accumulate: false));
            double g0 = Time(() => Kernels.DenseBackwardColumns(dw, default, y, x, rows, inFeatures, outFeatures, 0, half, accumulate: false));
            double g1 = Time(() => Kernels.DenseBackwardColumns(dw, default, y, x, rows, inFeatures, outFeatures, half, half, accumulate: false));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rows} x {inFeatures} -> {outFeatures}: forward whole {fw:F1} µs, halves {f0:F1} + {f1:F1}; weight gradient whole {gw:F1} µs, halves {g0:F1} + {g1:F1}"));
        }
    }
}
