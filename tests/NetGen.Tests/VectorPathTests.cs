using System.Runtime.Intrinsics;

namespace NetGen.Tests;

/// <summary>
/// The exponential and the kernels built on it (softmax, the cross-entropy, both GELUs, tanh), and
/// attention by matrix products against its row-by-row form, on each vector path, forced in turn as <see cref="MatMulPathTests"/> forces the products' paths, against
/// double-precision references. In MatMul's collection: the switches are process-wide.
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class VectorPathTests
{
    private static readonly (bool Vectors, bool Wide)[] Paths = { (true, true), (true, false), (false, false) };

    [Fact]
    public void Exp_is_within_two_ulp_on_both_vector_widths_and_zero_below_the_normal_range()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 20_000; trial++)
        {
            float x = (float)((random.NextDouble() * 175) - 87);
            double exact = Math.Exp(x);
            double ulp = Math.Pow(2, Math.Floor(Math.Log2(exact)) - 23);
            float narrow = Simd.Exp(Vector256.Create(x)).GetElement(3);
            float wide = Simd.Exp(Vector512.Create(x)).GetElement(11);
            Assert.True(Math.Abs(narrow - exact) <= 2 * ulp, $"256-bit e^{x} = {narrow}, exact {exact}");
            Assert.True(Math.Abs(wide - exact) <= 2 * ulp, $"512-bit e^{x} = {wide}, exact {exact}");
        }

        Assert.Equal(1f, Simd.Exp(Vector256<float>.Zero).GetElement(0));
        Assert.Equal(1f, Simd.Exp(Vector512<float>.Zero).GetElement(0));
        Assert.Equal(0f, Simd.Exp(Vector256.Create(-88f)).GetElement(0));
        Assert.Equal(0f, Simd.Exp(Vector512.Create(-1000f)).GetElement(0));
        Assert.Equal(0f, Simd.Exp(Vector512.Create(float.NegativeInfinity)).GetElement(0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(41)]
    [InlineData(6768)]
    public void Softmax_and_cross_entropy_match_double_on_every_path(int classes)
    {
        const int rows = 5;
        float[] logits = Reference.RandomFloats(rows * classes, 11, 8f);
        int[] labels = Enumerable.Range(0, rows).Select(r => (r * 7919) % classes).ToArray();
        double[] expected = Reference.Activate(Activation.Softmax, logits.Select(v => (double)v).ToArray(), classes);
        double loss = Reference.SoftmaxCrossEntropy(logits.Select(v => (double)v).ToArray(), labels, classes);
        ForEachPath(what =>
        {
            var p = new float[logits.Length];
            Kernels.SoftmaxRows(p, logits, classes);
            Reference.AssertClose(expected, p, 1e-7, 1e-6, "softmax " + what);
            var probabilities = new float[logits.Length];
            var d = new float[logits.Length];
            float actual = Kernels.SoftmaxCrossEntropy(probabilities, d, logits, labels, rows, classes);
            Assert.True(Math.Abs(actual - loss) <= 1e-6 * Math.Max(1, loss), $"loss {actual}, expected {loss} ({what})");
            double[] gradient = expected.Select((e, i) => (e - (labels[i / classes] == i % classes ? 1 : 0)) / rows).ToArray();
            Reference.AssertClose(gradient, d, 1e-7, 1e-6, "d logits " + what);
        });
    }

    [Theory]
    [InlineData(Activation.GeluExact)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.Tanh)]
    public void Activations_built_on_exp_match_double_on_every_path(Activation activation)
    {
        float[] x = Reference.RandomFloats(1000, 12, 6f);
        float[] dy = Reference.RandomFloats(1000, 13);
        double[] y = Reference.Activate(activation, x.Select(v => (double)v).ToArray(), 1);
        double[] dx = x.Select((v, i) => (Reference.Activate(activation, v + 1e-5) - Reference.Activate(activation, v - 1e-5)) / 2e-5 * dy[i]).ToArray();
        ForEachPath(what =>
        {
            var output = new float[x.Length];
            Kernels.ActivationForward(output, x, activation, 0f, 1);
            // Absolute 5e-7: for x below −3 the GELUs are 0.5·x·(1 + erf or tanh) with the bracket
            // cancelling, so an absolute error of 1.5e-7 in erf (its formula's bound) or of a few ulp
            // of 1 in tanh becomes 0.5·|x| times that in the result (2.2e-7 measured at x = −3 and −4.5).
            Reference.AssertClose(y, output, 5e-7, 2e-6, $"{activation} {what}");
            var dInput = new float[x.Length];
            Kernels.ActivationBackward(dInput, dy, x, output, activation, 0f, 1);
            // The derivatives cancel the same way in 1 + t and 1 − t², then are multiplied by up to
            // 0.5·|x|·du ≈ 5 (x = −4, tanh form): 1e-6 measured there, against derivatives of order 1.
            Reference.AssertClose(dx, dInput, 2e-6, 1e-5, $"d {activation} {what}");
        });
    }

    [Theory]
    [InlineData(1, 8, 1, true)]
    [InlineData(5, 24, 2, true)]
    [InlineData(17, 24, 2, false)]
    [InlineData(64, 128, 4, true)]
    [InlineData(9, 64, 2, false)]
    public void Attention_by_matrix_products_matches_the_row_by_row_form(int length, int dimension, int heads, bool causal)
    {
        const int sequences = 2;
        float[] qkv = Reference.RandomFloats(sequences * length * 3 * dimension, 21, 2f);
        float[] dOutput = Reference.RandomFloats(sequences * length * dimension, 22);
        int weights = sequences * heads * length * length;
        var dropout = new SeededRandom(23);
        float[] mask = Enumerable.Range(0, weights).Select(_ => dropout.NextSingle() < 0.25f ? 0f : 1f / 0.75f).ToArray();
        var scratch = new float[Kernels.AttentionScratchSize(length, dimension, heads)];
        Assert.Equal((7 * length * (dimension / heads)) + (length * length), scratch.Length);
        ForEachPath(what =>
        {
            foreach (float[]? m in new[] { null, mask })
            {
                string with = $"T {length}, D {dimension}, {heads} heads, causal {causal}, dropout {m is not null} {what}";
                float[] rowOut = new float[sequences * length * dimension], rowP = new float[weights], rowD = new float[qkv.Length];
                float[] out2 = new float[rowOut.Length], p2 = new float[weights], d2 = Enumerable.Repeat(float.NaN, qkv.Length).ToArray();
                Kernels.AttentionForward(rowOut, rowP, qkv, sequences, length, dimension, heads, causal, m);
                Kernels.AttentionBackward(rowD, dOutput, qkv, rowP, new float[length], sequences, length, dimension, heads, causal, m);
                Kernels.AttentionForward(out2, p2, qkv, sequences, length, dimension, heads, causal, m, scratch);
                Kernels.AttentionBackward(d2, dOutput, qkv, p2, scratch, sequences, length, dimension, heads, causal, m);
                Reference.AssertClose(rowP.Select(v => (double)v).ToArray(), p2, 1e-7, 1e-5, "weights " + with);
                Reference.AssertClose(rowOut.Select(v => (double)v).ToArray(), out2, 1e-6, 1e-5, "output " + with);
                Reference.AssertClose(rowD.Select(v => (double)v).ToArray(), d2, 1e-6, 1e-5, "d qkv (every value written) " + with);
            }
        });
    }

    private static void ForEachPath(Action<string> check)
    {
        bool saved = MatMul.UseVectors, saved512 = MatMul.Use512;
        try
        {
            foreach ((bool vectors, bool wide) in Paths)
            {
                MatMul.UseVectors = vectors && saved;
                MatMul.Use512 = wide && saved512;
                check($"(vectors {vectors}, 512 {wide})");
            }
        }
        finally
        {
            MatMul.UseVectors = saved;
            MatMul.Use512 = saved512;
        }
    }
}
