using System.Globalization;
using System.Numerics.Tensors;

namespace NetGen.Benchmarks;

/// <summary>
/// A hand-written prototype (<c>--inputs-split</c>): the MLP (784-128-10, SGD) on 2 threads with its first layer
/// split by input features, the rest of the step by samples. Thread t owns inputs [392t, 392t + 392) of the
/// first layer: that block of its weight (128 x 392, kept contiguous here) and of the weight gradient. A step is
/// two runs: (1) each thread copies its columns of the batch and computes its partial pre-activations for the
/// whole batch; (2) each adds the two partials for its half of the samples, runs the output layer, the loss and
/// the backward pass to the first layer's output gradient for them; (3) each computes its block of the first
/// layer's weight gradient from the whole batch and steps it (thread 0 also steps the rest). What crosses between
/// the cores every step: half of each partial (64 KB), half of the output gradient (64 KB) and the small layer;
/// never the first layer's weight (6,400 lines) or its gradient, which the split by samples moves every step
/// (see the session 21 notes in benchmarks/README.md). Not the bits of one thread: each pre-activation is the
/// sum of two partial dot products.
/// </summary>
internal sealed class InputSplitMlp : IShardedWork
{
    private const int In = 784, Hidden = 128, Out = 10, Cols = In / 2;
    private const int W1 = 0, B1 = W1 + (Hidden * In), W2 = B1 + Hidden, B2 = W2 + (Out * Hidden), Count = B2 + Out;

    private readonly float[][] _w1 = new float[2][]; // thread t's block of dense1.weight, [128, 392]
    private readonly float[][] _gw1 = new float[2][];
    private readonly float[][] _xc; // thread t's columns of the batch, [n, 392]
    private readonly float[][] _partial; // thread t's partial pre-activations, [n, 128]
    private readonly float[] _b1 = new float[Hidden], _gb1 = new float[Hidden], _w2 = new float[Out * Hidden], _b2 = new float[Out];
    private readonly float[][] _gw2 = new float[2][], _gb2 = new float[2][];
    private readonly float[] _z, _h, _logits, _probs, _dy, _dh, _dz; // [n, ...] for the whole batch, rows by halves
    private readonly float[] _zero = new float[Hidden];
    private readonly float[] _losses = new float[2];
    private float[] _x = Array.Empty<float>();
    private int[] _labels = Array.Empty<int>();
    private int _n;
    private int _phase;
    private float _lr;

    public InputSplitMlp(ReadOnlySpan<float> parameters, int batch)
    {
        for (int t = 0; t < 2; t++)
        {
            _w1[t] = new float[Hidden * Cols];
            _gw1[t] = new float[Hidden * Cols];
            _gw2[t] = new float[Out * Hidden];
            _gb2[t] = new float[Out];
            for (int u = 0; u < Hidden; u++)
            {
                parameters.Slice(W1 + (u * In) + (t * Cols), Cols).CopyTo(_w1[t].AsSpan(u * Cols, Cols));
            }
        }

        _xc = new[] { new float[batch * Cols], new float[batch * Cols] };
        _partial = new[] { new float[batch * Hidden], new float[batch * Hidden] };
        parameters.Slice(B1, Hidden).CopyTo(_b1);
        parameters.Slice(W2, Out * Hidden).CopyTo(_w2);
        parameters.Slice(B2, Out).CopyTo(_b2);
        _z = new float[batch * Hidden];
        _h = new float[batch * Hidden];
        _dh = new float[batch * Hidden];
        _dz = new float[batch * Hidden];
        _logits = new float[batch * Out];
        _probs = new float[batch * Out];
        _dy = new float[batch * Out];
    }

    /// <summary>The parameters in the network's layout.</summary>
    public float[] Parameters()
    {
        var p = new float[Count];
        for (int t = 0; t < 2; t++)
        {
            for (int u = 0; u < Hidden; u++)
            {
                _w1[t].AsSpan(u * Cols, Cols).CopyTo(p.AsSpan(W1 + (u * In) + (t * Cols), Cols));
            }
        }

        _b1.CopyTo(p, B1);
        _w2.CopyTo(p, W2);
        _b2.CopyTo(p, B2);
        return p;
    }

    public float Step(float[] x, int[] labels, float lr, int threads)
    {
        _n = labels.Length;
        _x = x;
        _labels = labels;
        _lr = lr;
        for (_phase = 0; _phase < 3; _phase++)
        {
            Workers.Shared.Run(this, 2, threads);
        }

        return _losses[0] + _losses[1];
    }

    public void RunShard(int t)
    {
        int n = _n, half = n / 2, first = t * half, rows = t == 0 ? half : n - half;
        switch (_phase)
        {
            case 0:
            {
                // This thread's columns of the batch, then its partial pre-activations for every sample.
                float[] xc = _xc[t];
                for (int r = 0; r < n; r++)
                {
                    _x.AsSpan((r * In) + (t * Cols), Cols).CopyTo(xc.AsSpan(r * Cols, Cols));
                }

                Kernels.DenseForward(_partial[t].AsSpan(0, n * Hidden), xc.AsSpan(0, n * Cols), _w1[t], _zero, n, Cols, Hidden);
                return;
            }

            case 1:
            {
                // This thread's samples: the two partials added (in the same order on both), then the rest forward
                // and backward to dense1's output gradient.
                int at = first * Hidden;
                Span<float> z = _z.AsSpan(at, rows * Hidden), h = _h.AsSpan(at, rows * Hidden);
                TensorPrimitives.Add(_partial[0].AsSpan(at, rows * Hidden), _partial[1].AsSpan(at, rows * Hidden), z);
                for (int r = 0; r < rows; r++)
                {
                    TensorPrimitives.Add(z.Slice(r * Hidden, Hidden), _b1, z.Slice(r * Hidden, Hidden));
                }

                Kernels.ActivationForward(h, z, Activation.ReLU, 0f, Hidden);
                Span<float> logits = _logits.AsSpan(first * Out, rows * Out), dy = _dy.AsSpan(first * Out, rows * Out);
                Kernels.DenseForward(logits, h, _w2, _b2, rows, Hidden, Out);
                _losses[t] = Kernels.SoftmaxCrossEntropy(_probs.AsSpan(first * Out, rows * Out), dy, logits, _labels.AsSpan(first, rows), rows, Out, meanOver: n);
                Span<float> dh = _dh.AsSpan(at, rows * Hidden);
                Kernels.DenseBackward(dh, _gw2[t], _gb2[t], dy, h, _w2, rows, Hidden, Out, accumulate: false);
                Kernels.ActivationBackward(_dz.AsSpan(at, rows * Hidden), dh, z, h, Activation.ReLU, 0f, Hidden);
                return;
            }

            default:
            {
                // This thread's block of dense1's weight gradient from the whole batch, and its step; thread 0 the rest.
                Kernels.DenseBackward(default, _gw1[t], t == 0 ? _gb1 : default, _dz.AsSpan(0, n * Hidden), _xc[t].AsSpan(0, n * Cols), _w1[t], n, Cols, Hidden, accumulate: false);
                float lr = -_lr;
                TensorPrimitives.MultiplyAdd(_gw1[t], lr, _w1[t], _w1[t]);
                if (t == 0)
                {
                    TensorPrimitives.MultiplyAdd(_gb1, lr, _b1, _b1);
                    TensorPrimitives.Add(_gw2[0], _gw2[1], _gw2[0]);
                    TensorPrimitives.Add(_gb2[0], _gb2[1], _gb2[0]);
                    TensorPrimitives.MultiplyAdd(_gw2[0], lr, _w2, _w2);
                    TensorPrimitives.MultiplyAdd(_gb2[0], lr, _b2, _b2);
                }

                return;
            }
        }
    }

    /// <summary>
    /// The prototype against the generated network: 30 SGD steps from the same parameters (the largest relative
    /// difference), then the generated network on 1 and 2 threads and the prototype on 2, alternating blocks of
    /// 250 ms, at batch 256.
    /// </summary>
    public static void Run()
    {
        const int Batch = 256;
        (float[] x, int[] labels) = Data.Batch(Batch);
        var reference = new FashionMlp(Batch, seed: 1);
        var proto = new InputSplitMlp(reference.Parameters, Batch);
        var sgd = new Sgd(0.05f);
        float l1 = 0, l2 = 0;
        for (int i = 0; i < 30; i++)
        {
            l1 = reference.TrainStep(x, labels, sgd);
            l2 = proto.Step(x, labels, 0.05f, threads: 2);
        }

        double worst = AlternatingBlocks.LargestRelativeDifference(reference.Parameters, proto.Parameters());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {Batch}: losses after 30 steps {l1:F6} / {l2:F6}, largest relative parameter difference {worst:E2}"));
        var one = new FashionMlp(Batch, seed: 1) { Threads = 1 };
        var two = new FashionMlp(Batch, seed: 1) { Threads = 2 };
        Sgd zero1 = new(0f), zero2 = new(0f);
        var steps = new Action[] { () => one.TrainStep(x, labels, zero1), () => two.TrainStep(x, labels, zero2), () => proto.Step(x, labels, 0f, 2) };
        double[] m = AlternatingBlocks.Medians(steps, rounds: 25);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {Batch}: generated 1 thread {m[0]:F4} ms, 2 threads {m[1]:F4} ms ({m[0] / m[1]:F2}x); by inputs on 2 {m[2]:F4} ms ({m[0] / m[2]:F2}x)"));
    }

    public static Action Stepper(int threads)
    {
        (float[] x, int[] labels) = Data.Batch(256);
        var proto = new InputSplitMlp(new FashionMlp(256, seed: 1).Parameters, 256);
        return () => proto.Step(x, labels, 0f, threads);
    }
}
