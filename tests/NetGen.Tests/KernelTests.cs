namespace NetGen.Tests;

/// <summary>Each kernel's forward against the double reference and its backward against central finite differences.</summary>
public class KernelTests
{
    public static TheoryData<int, int, int> Sizes => new()
    {
        { 1, 1, 1 }, { 1, 10, 784 }, { 3, 5, 7 }, { 4, 2, 8 }, { 5, 17, 33 }, { 9, 16, 16 }, { 32, 31, 19 }, { 7, 40, 3 },

        // Across the cache blocks (256 steps of k, 512 columns) with every column remainder
        // (16-blocks, an 8-vector, scalars) and a row remainder.
        { 7, 537, 300 }, { 6, 48, 513 },

        // The 8-row tiles of 512-bit vectors, with 4-row and single-row remainders, 32- and 16-column
        // tiles and both cache blocks.
        { 13, 70, 40 }, { 17, 600, 260 }, { 8, 48, 9 },

        // A·Bᵀ's packed panels: one group of strips, and groups of 16 strips with a shorter last group (18
        // strips of 32, or 36 of 16), blocks of 128 steps of k with a remainder, k not a multiple of the 8x8
        // transposition.
        { 9, 168, 131 }, { 12, 200, 300 }, { 11, 589, 140 },

        // A·Bᵀ by 512-bit dot products (3 to 15 rows of A in 3s, 8 to 64 rows of B in 8s, k of 512 and 64 a row of A
        // at least): a first convolution's weight gradient (9 x 16 over 784), 12 x 64 with k not a multiple of 16,
        // 3 x 8 (k in chunks: A_dot_product_has_its_bits_in_any_block); and just outside the rule.
        { 9, 16, 784 }, { 12, 64, 790 }, { 3, 8, 600 }, { 10, 16, 650 }, { 9, 12, 700 },
    };

    [Fact]
    public void MatMul_refuses_short_spans_naming_the_argument()
    {
        var e = Assert.Throws<ArgumentException>(() => MatMul.MultiplyTransposed(new float[6], new float[5], new float[6], 2, 3, 3, false));
        Assert.Equal("a", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => MatMul.Multiply(new float[5], new float[6], 3, 1, new float[9], 2, 3, 3, false));
        Assert.Equal("c", e.ParamName);
    }

    [Fact]
    public void Dense_forward_and_backward_match_the_reference_and_finite_differences()
    {
        const int rows = 5, inF = 19, outF = 11;
        float[] x = Reference.RandomFloats(rows * inF, 10);
        float[] w = Reference.RandomFloats(outF * inF, 11);
        float[] b = Reference.RandomFloats(outF, 12);
        float[] dy = Reference.RandomFloats(rows * outF, 13);
        var y = new float[rows * outF];
        Kernels.DenseForward(y, x, w, b, rows, inF, outF);
        double[] xd = Reference.ToDouble(x), wd = Reference.ToDouble(w), bd = Reference.ToDouble(b), dyd = Reference.ToDouble(dy);
        Reference.AssertClose(Reference.Dense(xd, wd, bd, rows, inF, outF), y, 1e-5, 1e-5, "y");

        // Gradients accumulate into dW and dB (start from ones) and overwrite dX (start from garbage).
        var dx = Enumerable.Repeat(42f, x.Length).ToArray();
        var dw = Enumerable.Repeat(1f, w.Length).ToArray();
        var db = Enumerable.Repeat(1f, b.Length).ToArray();
        Kernels.DenseBackward(dx, dw, db, dy, x, w, rows, inF, outF);

        double Loss()
        {
            double[] yd = Reference.Dense(xd, wd, bd, rows, inF, outF);
            return yd.Select((v, i) => v * dyd[i]).Sum();
        }

        Reference.AssertClose(xd.Select((_, i) => Reference.CentralDifference(Loss, xd, i)).ToArray(), dx, 1e-6, 1e-5, "dX");
        Reference.AssertClose(wd.Select((_, i) => 1 + Reference.CentralDifference(Loss, wd, i)).ToArray(), dw, 1e-6, 1e-5, "dW");
        Reference.AssertClose(bd.Select((_, i) => 1 + Reference.CentralDifference(Loss, bd, i)).ToArray(), db, 1e-6, 1e-5, "dB");
    }

    [Fact]
    public void Dense_without_bias_or_input_gradient_skips_them()
    {
        float[] x = Reference.RandomFloats(6, 1), w = Reference.RandomFloats(6, 2), dy = Reference.RandomFloats(2, 3);
        var y = new float[2];
        Kernels.DenseForward(y, x, w, default, 2, 3, 1);
        Reference.AssertClose(Reference.Dense(Reference.ToDouble(x), Reference.ToDouble(w), null, 2, 3, 1), y, 1e-6, 1e-6, "y");
        var dw = new float[3];
        Kernels.DenseBackward(default, dw, default, dy, x, w, 2, 3, 1);
        var expected = new double[3];
        for (int i = 0; i < 3; i++)
        {
            expected[i] = ((double)dy[0] * x[i]) + ((double)dy[1] * x[3 + i]);
        }

        Reference.AssertClose(expected, dw, 1e-6, 1e-6, "dW");
    }

    public static TheoryData<Activation> Activations => new()
    {
        Activation.None, Activation.ReLU, Activation.LeakyReLU, Activation.Sigmoid, Activation.Tanh, Activation.Gelu, Activation.Softmax,
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Activation_forward_and_backward_match_the_reference_and_finite_differences(Activation activation)
    {
        // 37 values: several full vectors and a scalar tail; softmax rows of 37.
        const int n = 37;
        const float alpha = 0.2f;
        float[] x = Reference.RandomFloats(n, 20, scale: 4f);
        float[] dy = Reference.RandomFloats(n, 21);
        var y = new float[n];
        Kernels.ActivationForward(y, x, activation, alpha, cols: n);
        double[] xd = Reference.ToDouble(x);
        Reference.AssertClose(Reference.Activate(activation, xd, n, alpha), y, 2e-6, 2e-6, $"{activation} forward");

        var dx = new float[n];
        Kernels.ActivationBackward(dx, dy, x, y, activation, alpha, cols: n);
        double Loss() => Reference.Activate(activation, xd, n, alpha).Select((v, i) => v * dy[i]).Sum();
        double[] fd = xd.Select((_, i) => Reference.CentralDifference(Loss, xd, i)).ToArray();
        Reference.AssertClose(fd, dx, 1e-5, 1e-4, $"{activation} backward");
    }

    [Fact]
    public void Softmax_cross_entropy_matches_the_reference_and_its_gradient()
    {
        const int rows = 4, classes = 6;
        float[] logits = Reference.RandomFloats(rows * classes, 30, scale: 3f);
        int[] labels = { 0, 5, 2, 2 };
        var p = new float[logits.Length];
        var d = new float[logits.Length];
        float loss = Kernels.SoftmaxCrossEntropy(p, d, logits, labels, rows, classes);
        double[] ld = Reference.ToDouble(logits);
        Assert.Equal(Reference.SoftmaxCrossEntropy(ld, labels, classes), loss, 1e-5);
        Reference.AssertClose(Reference.Activate(Activation.Softmax, ld, classes), p, 1e-6, 1e-5, "p");
        double[] fd = ld.Select((_, i) => Reference.CentralDifference(() => Reference.SoftmaxCrossEntropy(ld, labels, classes), ld, i)).ToArray();
        Reference.AssertClose(fd, d, 1e-6, 1e-4, "dLogits");
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(1f)]
    public void Label_smoothing_matches_PyTorchs_definition_and_its_gradient(float epsilon)
    {
        // PyTorch: loss = −Σ_k q_k log p_k with q = (1 − ε)·onehot + ε/K, mean over the rows.
        const int rows = 4, classes = 6;
        float[] logits = Reference.RandomFloats(rows * classes, 31, scale: 3f);
        int[] labels = { 0, 5, 2, 2 };
        var p = new float[logits.Length];
        var d = new float[logits.Length];
        float loss = Kernels.SoftmaxCrossEntropy(p, d, logits, labels, rows, classes, labelSmoothing: epsilon);
        double[] ld = Reference.ToDouble(logits);
        double Smoothed()
        {
            double[] q = Reference.Activate(Activation.Softmax, ld, classes);
            double total = 0;
            for (int r = 0; r < rows; r++)
            {
                for (int k = 0; k < classes; k++)
                {
                    double target = ((k == labels[r] ? 1 - epsilon : 0) + (epsilon / classes));
                    total -= target * Math.Log(q[(r * classes) + k]);
                }
            }

            return total / rows;
        }

        Assert.Equal(Smoothed(), loss, 1e-5);
        double[] fd = ld.Select((_, i) => Reference.CentralDifference(Smoothed, ld, i)).ToArray();
        Reference.AssertClose(fd, d, 1e-6, 1e-4, "dLogits");
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.SoftmaxCrossEntropy(p, d, logits, labels, rows, classes, labelSmoothing: 1.5f));
    }

    [Fact]
    public void Softmax_cross_entropy_is_stable_for_huge_logits()
    {
        float[] logits = { 1000f, -1000f, 0f, 999f };
        var p = new float[4];
        var d = new float[4];
        float loss = Kernels.SoftmaxCrossEntropy(p, d, logits, new[] { 1 }, 1, 4);
        Assert.Equal(2000 + Math.Log(1 + Math.Exp(-1)), loss, 1e-3); // float: 2000.31 is held to about 1.2e-4
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.All(d, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Mean_squared_error_matches_the_reference_and_its_gradient()
    {
        float[] y = Reference.RandomFloats(10, 40), t = Reference.RandomFloats(10, 41);
        var d = new float[10];
        float loss = Kernels.MeanSquaredError(d, y, t, 10);
        double[] yd = Reference.ToDouble(y);
        Assert.Equal(Reference.MeanSquaredError(yd, t), loss, 1e-6);
        Reference.AssertClose(yd.Select((_, i) => Reference.CentralDifference(() => Reference.MeanSquaredError(yd, t), yd, i)).ToArray(), d, 1e-6, 1e-4, "dY");
    }

    [Fact]
    public void Binary_cross_entropy_matches_the_reference_its_gradient_and_is_stable()
    {
        float[] x = Reference.RandomFloats(12, 50, scale: 5f);
        float[] t = Reference.RandomFloats(12, 51).Select(v => v > 0 ? 1f : 0f).ToArray();
        var p = new float[12];
        var d = new float[12];
        float loss = Kernels.BinaryCrossEntropyWithLogits(p, d, x, t, 12);
        double[] xd = Reference.ToDouble(x);
        Assert.Equal(Reference.BinaryCrossEntropy(xd, t), loss, 1e-5);
        Reference.AssertClose(xd.Select((_, i) => Reference.CentralDifference(() => Reference.BinaryCrossEntropy(xd, t), xd, i)).ToArray(), d, 1e-6, 1e-4, "dLogits");

        loss = Kernels.BinaryCrossEntropyWithLogits(new float[2], d, new[] { 100f, -100f }, new[] { 0f, 1f }, 2);
        Assert.Equal(100.0, loss, 1e-3);
    }
}
