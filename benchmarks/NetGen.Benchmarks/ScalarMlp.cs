namespace NetGen.Benchmarks;

/// <summary>
/// The same 784-128(ReLU)-10 softmax cross-entropy network written the straightforward way:
/// scalar loops, no SIMD, buffers allocated once. The baseline the generated code is measured
/// against. Parameter layout as NetGen's: W1 [128, 784], b1, W2 [10, 128], b2.
/// </summary>
public sealed class ScalarMlp
{
    private const int In = 784, Hidden = 128, Out = 10;
    private const int W1 = 0, B1 = W1 + (Hidden * In), W2 = B1 + Hidden, B2 = W2 + (Out * Hidden), Count = B2 + Out;

    private readonly float[] _p = new float[Count];
    private readonly float[] _g = new float[Count];
    private readonly float[] _h, _logits, _dh, _dlogits;

    public ScalarMlp(int maxBatch)
    {
        _h = new float[maxBatch * Hidden];
        _dh = new float[maxBatch * Hidden];
        _logits = new float[maxBatch * Out];
        _dlogits = new float[maxBatch * Out];
    }

    public Span<float> Parameters => _p;

    public void Forward(float[] x, float[] probabilities)
    {
        int n = x.Length / In;
        ForwardPass(x, n);
        for (int r = 0; r < n; r++)
        {
            Softmax(_logits.AsSpan(r * Out, Out), probabilities.AsSpan(r * Out, Out));
        }
    }

    public float TrainStep(float[] x, int[] labels, float learningRate)
    {
        int n = labels.Length;
        ForwardPass(x, n);
        Array.Clear(_g);
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            Span<float> p = _dlogits.AsSpan(r * Out, Out);
            Softmax(_logits.AsSpan(r * Out, Out), p);
            loss -= Math.Log(p[labels[r]]);
            for (int o = 0; o < Out; o++)
            {
                p[o] /= n;
            }

            p[labels[r]] -= 1f / n;
        }

        // Layer 2 backward.
        for (int r = 0; r < n; r++)
        {
            for (int o = 0; o < Out; o++)
            {
                float d = _dlogits[(r * Out) + o];
                _g[B2 + o] += d;
                for (int j = 0; j < Hidden; j++)
                {
                    _g[W2 + (o * Hidden) + j] += d * _h[(r * Hidden) + j];
                }
            }

            for (int j = 0; j < Hidden; j++)
            {
                float s = 0;
                for (int o = 0; o < Out; o++)
                {
                    s += _dlogits[(r * Out) + o] * _p[W2 + (o * Hidden) + j];
                }

                _dh[(r * Hidden) + j] = _h[(r * Hidden) + j] > 0 ? s : 0;
            }
        }

        // Layer 1 backward.
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < Hidden; j++)
            {
                float d = _dh[(r * Hidden) + j];
                _g[B1 + j] += d;
                for (int i = 0; i < In; i++)
                {
                    _g[W1 + (j * In) + i] += d * x[(r * In) + i];
                }
            }
        }

        for (int i = 0; i < Count; i++)
        {
            _p[i] -= learningRate * _g[i];
        }

        return (float)(loss / n);
    }

    private void ForwardPass(float[] x, int n)
    {
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < Hidden; j++)
            {
                float s = _p[B1 + j];
                for (int i = 0; i < In; i++)
                {
                    s += _p[W1 + (j * In) + i] * x[(r * In) + i];
                }

                _h[(r * Hidden) + j] = s > 0 ? s : 0;
            }

            for (int o = 0; o < Out; o++)
            {
                float s = _p[B2 + o];
                for (int j = 0; j < Hidden; j++)
                {
                    s += _p[W2 + (o * Hidden) + j] * _h[(r * Hidden) + j];
                }

                _logits[(r * Out) + o] = s;
            }
        }
    }

    private static void Softmax(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x)
        {
            max = Math.Max(max, v);
        }

        float sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += y[i] = MathF.Exp(x[i] - max);
        }

        for (int i = 0; i < x.Length; i++)
        {
            y[i] /= sum;
        }
    }
}
