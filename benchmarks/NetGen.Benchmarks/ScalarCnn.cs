namespace NetGen.Benchmarks;

/// <summary>
/// conv3x3(1→8, valid) → ReLU → MaxPool2 → Dense(1352→10) → softmax cross-entropy, written as
/// straightforward scalar loops (buffers allocated once), with NetGen's parameter layout:
/// conv1.weight [8, 1, 3, 3], conv1.bias, dense1.weight [10, 1352], dense1.bias.
/// </summary>
public sealed class ScalarCnn
{
    private const int F = 8, K = 3, H = 28, C = 26, P = 13, Flat = F * P * P, Out = 10;
    private const int Wc = 0, Bc = Wc + (F * K * K), Wd = Bc + F, Bd = Wd + (Out * Flat), Count = Bd + Out;

    private readonly float[] _p = new float[Count];
    private readonly float[] _g = new float[Count];
    private readonly float[] _conv, _pool, _logits, _dpool, _dconv;
    private readonly int[] _argmax;

    public ScalarCnn(int maxBatch)
    {
        _conv = new float[maxBatch * F * C * C];
        _dconv = new float[maxBatch * F * C * C];
        _pool = new float[maxBatch * Flat];
        _dpool = new float[maxBatch * Flat];
        _argmax = new int[maxBatch * Flat];
        _logits = new float[maxBatch * Out];
    }

    public Span<float> Parameters => _p;

    public float TrainStep(float[] x, int[] labels, float learningRate)
    {
        int n = labels.Length;
        Array.Clear(_g);
        for (int s = 0; s < n; s++)
        {
            // Convolution and ReLU.
            for (int f = 0; f < F; f++)
            {
                for (int i = 0; i < C; i++)
                {
                    for (int j = 0; j < C; j++)
                    {
                        float sum = _p[Bc + f];
                        for (int a = 0; a < K; a++)
                        {
                            for (int b = 0; b < K; b++)
                            {
                                sum += _p[Wc + (f * 9) + (a * 3) + b] * x[(s * H * H) + ((i + a) * H) + j + b];
                            }
                        }

                        _conv[(((s * F) + f) * C * C) + (i * C) + j] = sum > 0 ? sum : 0;
                    }
                }

                // Max pooling 2x2.
                for (int i = 0; i < P; i++)
                {
                    for (int j = 0; j < P; j++)
                    {
                        int corner = (((s * F) + f) * C * C) + (2 * i * C) + (2 * j);
                        int best = corner;
                        best = _conv[corner + 1] > _conv[best] ? corner + 1 : best;
                        best = _conv[corner + C] > _conv[best] ? corner + C : best;
                        best = _conv[corner + C + 1] > _conv[best] ? corner + C + 1 : best;

                        int q = (s * Flat) + (f * P * P) + (i * P) + j;
                        _pool[q] = _conv[best];
                        _argmax[q] = best;
                    }
                }
            }
        }

        double loss = 0;
        for (int s = 0; s < n; s++)
        {
            float max = float.NegativeInfinity;
            for (int o = 0; o < Out; o++)
            {
                float sum = _p[Bd + o];
                for (int i = 0; i < Flat; i++)
                {
                    sum += _p[Wd + (o * Flat) + i] * _pool[(s * Flat) + i];
                }

                _logits[(s * Out) + o] = sum;
                max = Math.Max(max, sum);
            }

            float z = 0;
            for (int o = 0; o < Out; o++)
            {
                z += MathF.Exp(_logits[(s * Out) + o] - max);
            }

            loss -= _logits[(s * Out) + labels[s]] - max - MathF.Log(z);
            for (int o = 0; o < Out; o++)
            {
                float d = ((MathF.Exp(_logits[(s * Out) + o] - max) / z) - (o == labels[s] ? 1f : 0f)) / n;
                _g[Bd + o] += d;
                for (int i = 0; i < Flat; i++)
                {
                    _g[Wd + (o * Flat) + i] += d * _pool[(s * Flat) + i];
                }

                for (int i = 0; i < Flat; i++)
                {
                    _dpool[(s * Flat) + i] = o == 0 ? d * _p[Wd + i] : _dpool[(s * Flat) + i] + (d * _p[Wd + (o * Flat) + i]);
                }
            }
        }

        Array.Clear(_dconv, 0, n * F * C * C);
        for (int q = 0; q < n * Flat; q++)
        {
            _dconv[_argmax[q]] += _dpool[q];
        }

        for (int s = 0; s < n; s++)
        {
            for (int f = 0; f < F; f++)
            {
                for (int i = 0; i < C; i++)
                {
                    for (int j = 0; j < C; j++)
                    {
                        int o = (((s * F) + f) * C * C) + (i * C) + j;
                        float d = _conv[o] > 0 ? _dconv[o] : 0;
                        _g[Bc + f] += d;
                        for (int a = 0; a < K; a++)
                        {
                            for (int b = 0; b < K; b++)
                            {
                                _g[Wc + (f * 9) + (a * 3) + b] += d * x[(s * H * H) + ((i + a) * H) + j + b];
                            }
                        }
                    }
                }
            }
        }

        for (int i = 0; i < Count; i++)
        {
            _p[i] -= learningRate * _g[i];
        }

        return (float)(loss / n);
    }
}
