namespace NetGen.Tests;

/// <summary>
/// Independent double-precision implementations of every activation and loss, written from
/// their textbook definitions; the float kernels and the generated networks are checked
/// against these (and against central finite differences of them).
/// </summary>
internal static class Reference
{
    public static double Activate(Activation activation, double x, double alpha = 0.01) => activation switch
    {
        Activation.None => x,
        Activation.ReLU => Math.Max(x, 0),
        Activation.LeakyReLU => x > 0 ? x : alpha * x,
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        Activation.Tanh => Math.Tanh(x),
        Activation.Gelu => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x)))),
        Activation.GeluExact => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    /// <summary>
    /// The error function in double: its Maclaurin series below 3 (error under 1e-12 there), the
    /// asymptotic expansion of erfc above (error under 1e-8).
    /// </summary>
    public static double Erf(double x)
    {
        double a = Math.Abs(x);
        double result;
        if (a < 3)
        {
            double term = a, sum = a;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17; n++)
            {
                term *= -a * a / n;
                sum += term / ((2 * n) + 1);
            }

            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double inv = 1 / (2 * a * a);
            double series = 1 - inv + (3 * inv * inv) - (15 * inv * inv * inv) + (105 * inv * inv * inv * inv);
            result = 1 - (Math.Exp(-a * a) / (a * Math.Sqrt(Math.PI)) * series);
        }

        return x < 0 ? -result : result;
    }

    /// <summary>Applies an activation to each row of <paramref name="cols"/> values (softmax per row).</summary>
    public static double[] Activate(Activation activation, double[] x, int cols, double alpha = 0.01)
    {
        var y = new double[x.Length];
        if (activation == Activation.Softmax)
        {
            for (int r = 0; r < x.Length; r += cols)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < cols; c++)
                {
                    max = Math.Max(max, x[r + c]);
                }

                double sum = 0;
                for (int c = 0; c < cols; c++)
                {
                    sum += y[r + c] = Math.Exp(x[r + c] - max);
                }

                for (int c = 0; c < cols; c++)
                {
                    y[r + c] /= sum;
                }
            }

            return y;
        }

        for (int i = 0; i < x.Length; i++)
        {
            y[i] = Activate(activation, x[i], alpha);
        }

        return y;
    }

    /// <summary>y[r, o] = Σ_i x[r, i]·w[o, i] + b[o].</summary>
    public static double[] Dense(double[] x, double[] w, double[]? b, int rows, int inF, int outF)
    {
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outF; o++)
            {
                double s = b?[o] ?? 0;
                for (int i = 0; i < inF; i++)
                {
                    s += x[(r * inF) + i] * w[(o * inF) + i];
                }

                y[(r * outF) + o] = s;
            }
        }

        return y;
    }

    /// <summary>Training-mode batch normalisation: batch mean and biased variance per feature.</summary>
    public static double[] BatchNormTraining(double[] x, double[] gamma, double[] beta, int features, double epsilon, int spatial = 1)
    {
        int rows = x.Length / (features * spatial);
        var y = new double[x.Length];
        int Index(int r, int f, int s) => (((r * features) + f) * spatial) + s;
        for (int f = 0; f < features; f++)
        {
            double mean = 0, variance = 0;
            for (int r = 0; r < rows; r++)
            {
                for (int s = 0; s < spatial; s++)
                {
                    mean += x[Index(r, f, s)];
                }
            }

            mean /= rows * spatial;
            for (int r = 0; r < rows; r++)
            {
                for (int s = 0; s < spatial; s++)
                {
                    variance += (x[Index(r, f, s)] - mean) * (x[Index(r, f, s)] - mean);
                }
            }

            variance /= rows * spatial;
            for (int r = 0; r < rows; r++)
            {
                for (int s = 0; s < spatial; s++)
                {
                    y[Index(r, f, s)] = (gamma[f] * (x[Index(r, f, s)] - mean) / Math.Sqrt(variance + epsilon)) + beta[f];
                }
            }
        }

        return y;
    }

    public static double SoftmaxCrossEntropy(double[] logits, int[] labels, int classes)
    {
        double total = 0;
        double[] p = Activate(Activation.Softmax, logits, classes);
        for (int r = 0; r < labels.Length; r++)
        {
            total -= Math.Log(p[(r * classes) + labels[r]]);
        }

        return total / labels.Length;
    }

    public static double MeanSquaredError(double[] y, float[] t)
    {
        double total = 0;
        for (int i = 0; i < y.Length; i++)
        {
            total += (y[i] - t[i]) * (y[i] - t[i]);
        }

        return total / y.Length;
    }

    public static double BinaryCrossEntropy(double[] logits, float[] t)
    {
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double p = 1 / (1 + Math.Exp(-logits[i]));
            total -= (t[i] * Math.Log(p)) + ((1 - t[i]) * Math.Log(1 - p));
        }

        return total / logits.Length;
    }

    /// <summary>Central difference of <paramref name="f"/> with respect to <c>x[i]</c>.</summary>
    public static double CentralDifference(Func<double> f, double[] x, int i, double h = 1e-6)
    {
        double saved = x[i];
        x[i] = saved + h;
        double plus = f();
        x[i] = saved - h;
        double minus = f();
        x[i] = saved;
        return (plus - minus) / (2 * h);
    }

    public static float[] RandomFloats(int count, int seed, float scale = 1f)
    {
        var random = new SeededRandom(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = ((2 * random.NextSingle()) - 1) * scale;
        }

        return values;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }

    /// <summary>Asserts |actual - expected| ≤ atol + rtol·|expected| element by element, naming the first failure.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            Assert.True(
                error <= atol + (rtol * Math.Abs(expected[i])),
                $"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9} (error {error:G3})");
        }
    }
}
