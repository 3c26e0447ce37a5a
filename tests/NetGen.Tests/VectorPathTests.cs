using System.Runtime.Intrinsics;

namespace NetGen.Tests;

/// <summary>
/// The exponential and the kernels built on it (softmax, the cross-entropy, both GELUs, tanh),
/// attention by matrix products against its row-by-row form, batch normalisation's loops and the optimizers' updates, on each vector path, forced in turn as <see cref="MatMulPathTests"/> forces the products' paths, against
/// double-precision references. In MatMul's collection: the switches are process-wide.
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class VectorPathTests
{
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
        VectorPaths.ForEach(this, what =>
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
        VectorPaths.ForEach(this, what =>
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
    [InlineData(Activation.ReLU)]
    [InlineData(Activation.LeakyReLU)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluExact)]
    public void Elementwise_activations_take_the_same_bits_on_each_vector_path(Activation activation)
    {
        // 1,021 values: 63 vectors of 16 on the 512-bit path, then one of 8, then 5 scalars (the 256-bit path:
        // 127 of 8, the same 5). The same operations element by element: the same bits, forward and backward.
        float[] x = Reference.RandomFloats(1021, 31, 5f), dy = Reference.RandomFloats(1021, 32);
        x[3] = 0f; // ReLU's boundary: its gradient at 0 is the negative side's
        (float[] Y, float[] Dx)? first = null;
        VectorPaths.ForEach(this, what =>
        {
            if (activation == Activation.GeluExact && !MatMul.UseVectors)
            {
                return; // its scalar path computes erf otherwise (the test above bounds it against double)
            }

            var y = new float[x.Length];
            var dx = new float[x.Length];
            Kernels.ActivationForward(y, x, activation, 0.1f, 1);
            Kernels.ActivationBackward(dx, dy, x, y, activation, 0.1f, 1);
            first ??= (y, dx);
            Assert.True(first.Value.Y.AsSpan().SequenceEqual(y), $"{activation} {what}: y");
            Assert.True(first.Value.Dx.AsSpan().SequenceEqual(dx), $"{activation} {what}: dx");
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
        VectorPaths.ForEach(this, what =>
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

    [Theory]
    [InlineData(7, 0f)]
    [InlineData(16, 0f)]
    [InlineData(37, 3f)]
    [InlineData(784, 50f)]
    public void Batch_normalisation_over_channels_matches_double_on_every_path(int spatial, float offset)
    {
        // Values around an offset large against their spread (50 against 1) check that the deviations are
        // taken before scaling; the shard kernels (a batch split in two) must agree with the one-call form.
        const int rows = 4, channels = 3;
        float[] x = Reference.RandomFloats(rows * channels * spatial, 21, 2f).Select(v => v + offset).ToArray();
        float[] dy = Reference.RandomFloats(x.Length, 22, 1f);
        float[] gamma = { 1.5f, -0.5f, 0.8f }, beta = { 0.1f, 0.2f, -0.3f };
        long m = (long)rows * spatial;
        var (ey, edx, edg, edb) = ReferenceBatchNorm(x, dy, gamma, beta, rows, channels, spatial);
        VectorPaths.ForEach(this, what =>
        {
            var y = new float[x.Length];
            float[] mean = new float[channels], inv = new float[channels], rm = new float[channels], rv = { 1f, 1f, 1f };
            Kernels.BatchNormTrainingForward(y, mean, inv, rm, rv, x, gamma, beta, rows, channels, spatial, 0.1f, 1e-5f);
            Reference.AssertClose(ey, y, 1e-5, 1e-5, "y " + what);
            var dx = new float[x.Length];
            var dg = new float[channels];
            var db = new float[channels];
            Kernels.BatchNormBackward(dx, dg, db, dy, x, gamma, mean, inv, rows, channels, spatial);
            Reference.AssertClose(edx, dx, 1e-5, 1e-4, "dx " + what);
            Reference.AssertClose(edg, dg, 1e-5, 1e-5, "d gamma " + what);
            Reference.AssertClose(edb, db, 1e-5, 1e-5, "d beta " + what);

            // Two shards of two samples each, merged as the generated code merges them.
            int half = rows / 2 * channels * spatial;
            float[] m0 = new float[channels], s0 = new float[channels], m1 = new float[channels], s1 = new float[channels];
            Kernels.BatchNormShardMoments(m0, s0, x.AsSpan(0, half), rows / 2, channels, spatial);
            Kernels.BatchNormShardMoments(m1, s1, x.AsSpan(half), rows / 2, channels, spatial);
            Kernels.BatchNormMerge(m0, s0, m / 2, m1, s1, m / 2);
            Kernels.BatchNormFinish(s0, m0, new float[channels], new float[] { 1f, 1f, 1f }, m, 0.1f, 1e-5f);
            var ys = new float[x.Length];
            Kernels.BatchNormNormalize(ys.AsSpan(0, half), x.AsSpan(0, half), m0, s0, gamma, beta, rows / 2, channels, spatial);
            Kernels.BatchNormNormalize(ys.AsSpan(half), x.AsSpan(half), m0, s0, gamma, beta, rows / 2, channels, spatial);
            Reference.AssertClose(ey, ys, 1e-5, 1e-5, "y, two shards " + what);
            float[] sd0 = new float[channels], sx0 = new float[channels], sd1 = new float[channels], sx1 = new float[channels];
            Kernels.BatchNormShardGradientSums(sd0, sx0, dy.AsSpan(0, half), x.AsSpan(0, half), m0, s0, rows / 2, channels, spatial);
            Kernels.BatchNormShardGradientSums(sd1, sx1, dy.AsSpan(half), x.AsSpan(half), m0, s0, rows / 2, channels, spatial);
            Kernels.AddInto(sd0, sd1);
            Kernels.AddInto(sx0, sx1);
            Reference.AssertClose(edg, sx0, 1e-5, 1e-5, "Σdy·x̂, two shards " + what);
            Reference.AssertClose(edb, sd0, 1e-5, 1e-5, "Σdy, two shards " + what);
            var dxs = new float[x.Length];
            Kernels.BatchNormShardInputGradient(dxs.AsSpan(0, half), dy.AsSpan(0, half), x.AsSpan(0, half), gamma, m0, s0, sd0, sx0, m, rows / 2, channels, spatial);
            Kernels.BatchNormShardInputGradient(dxs.AsSpan(half), dy.AsSpan(half), x.AsSpan(half), gamma, m0, s0, sd0, sx0, m, rows / 2, channels, spatial);
            Reference.AssertClose(edx, dxs, 1e-5, 1e-4, "dx, two shards " + what);
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(36)]
    [InlineData(784)]
    public void Batch_normalisation_with_its_relu_fused_equals_the_two_layers_bit_for_bit_on_every_path(int spatial)
    {
        // The fused mask is recomputed from the input with the forward pass's own arithmetic, so the fused
        // kernels must give exactly what BatchNorm then ReLU give: forward, backward, and the shard kernels.
        const int rows = 4, channels = 3;
        float[] x = Reference.RandomFloats(rows * channels * spatial, 31, 2f);
        float[] dy = Reference.RandomFloats(x.Length, 32, 1f);
        float[] gamma = { 1.5f, -0.5f, 0.8f }, beta = { 0.1f, 0.2f, -0.3f };
        VectorPaths.ForEach(this, what =>
        {
            var (y, dx, dg, db) = Run(relu: false);
            var (fy, fdx, fdg, fdb) = Run(relu: true);
            Assert.True(y.SequenceEqual(fy), "forward " + what);
            Assert.True(dx.SequenceEqual(fdx), "d input " + what);
            Assert.True(dg.SequenceEqual(fdg), "d gamma " + what);
            Assert.True(db.SequenceEqual(fdb), "d beta " + what);
            Assert.Contains(0f, fy);
            Assert.Contains(fy, v => v > 0f);

            float[] inferred = new float[x.Length], fusedInferred = new float[x.Length];
            Kernels.BatchNormInferenceForward(inferred, x, gamma, beta, new[] { 0.1f, -0.2f, 0.3f }, new[] { 1.2f, 0.8f, 2f }, rows, channels, spatial, 1e-5f);
            Kernels.ActivationForward(inferred, inferred, Activation.ReLU, 0f, spatial);
            Kernels.BatchNormInferenceForward(fusedInferred, x, gamma, beta, new[] { 0.1f, -0.2f, 0.3f }, new[] { 1.2f, 0.8f, 2f }, rows, channels, spatial, 1e-5f, relu: true);
            Assert.True(inferred.SequenceEqual(fusedInferred), "inference " + what);
            if (spatial > 1)
            {
                float[] mean = new float[channels], inv = new float[channels];
                Kernels.BatchNormTrainingForward(new float[x.Length], mean, inv, new float[channels], new float[] { 1f, 1f, 1f }, x, gamma, beta, rows, channels, spatial, 0.1f, 1e-5f);
                float[] ny = new float[x.Length], fny = new float[x.Length];
                Kernels.BatchNormNormalize(ny, x, mean, inv, gamma, beta, rows, channels, spatial);
                Kernels.ActivationForward(ny, ny, Activation.ReLU, 0f, spatial);
                Kernels.BatchNormNormalize(fny, x, mean, inv, gamma, beta, rows, channels, spatial, relu: true);
                Assert.True(ny.SequenceEqual(fny), "shard forward " + what);
                float[] g = new float[x.Length];
                Kernels.ActivationBackward(g, dy, ny, ny, Activation.ReLU, 0f, spatial);
                float[] s1 = new float[channels], s2 = new float[channels], f1 = new float[channels], f2 = new float[channels];
                Kernels.BatchNormShardGradientSums(s1, s2, g, x, mean, inv, rows, channels, spatial);
                Kernels.BatchNormShardGradientSums(f1, f2, dy, x, mean, inv, rows, channels, spatial, gamma, beta);
                Assert.True(s1.SequenceEqual(f1) && s2.SequenceEqual(f2), "shard sums " + what);
                float[] sdx = new float[x.Length], fsdx = new float[x.Length];
                Kernels.BatchNormShardInputGradient(sdx, g, x, gamma, mean, inv, s1, s2, (long)rows * spatial, rows, channels, spatial);
                Kernels.BatchNormShardInputGradient(fsdx, dy, x, gamma, mean, inv, s1, s2, (long)rows * spatial, rows, channels, spatial, beta);
                Assert.True(sdx.SequenceEqual(fsdx), "shard d input " + what);
            }
        });

        // A fused ReLU's β (and, for the shard sums, γ) must have one value per channel; both or neither.
        var e = Assert.Throws<ArgumentException>(() => Kernels.BatchNormBackward(new float[x.Length], new float[channels], new float[channels], dy, x, gamma, new float[channels], new float[channels], rows, channels, spatial, new float[2]));
        Assert.Equal("reluBeta", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Kernels.BatchNormShardGradientSums(new float[channels], new float[channels], dy, x, new float[channels], new float[channels], rows, channels, spatial, reluGamma: gamma));
        Assert.Equal("reluBeta", e.ParamName);

        (float[] Y, float[] Dx, float[] DGamma, float[] DBeta) Run(bool relu)
        {
            var y = new float[x.Length];
            float[] mean = new float[channels], inv = new float[channels];
            Kernels.BatchNormTrainingForward(y, mean, inv, new float[channels], new float[] { 1f, 1f, 1f }, x, gamma, beta, rows, channels, spatial, 0.1f, 1e-5f, relu);
            float[] g = dy;
            if (!relu)
            {
                Kernels.ActivationForward(y, y, Activation.ReLU, 0f, spatial);
                g = new float[x.Length];
                Kernels.ActivationBackward(g, dy, y, y, Activation.ReLU, 0f, spatial);
            }

            var dx = new float[x.Length];
            float[] dg = new float[channels], db = new float[channels];
            Kernels.BatchNormBackward(dx, dg, db, g, x, gamma, mean, inv, rows, channels, spatial, relu ? beta : default);
            return (y, dx, dg, db);
        }
    }

    // Batch normalisation and its gradients in double: y = γ·x̂ + β, dγ = Σdy·x̂, dβ = Σdy,
    // dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)); the mean rounded to single precision, as the kernels
    // keep it between forward and backward (PyTorch too): around 50 its rounding (up to 1.9e-6) times
    // Σdy (about 50 here) is 1e-4 of dγ, a property of the saved statistics, not of the loops tested.
    private static (double[] Y, double[] Dx, double[] DGamma, double[] DBeta) ReferenceBatchNorm(float[] x, float[] dy, float[] gamma, float[] beta, int rows, int channels, int spatial)
    {
        var y = new double[x.Length];
        var dx = new double[x.Length];
        var dg = new double[channels];
        var db = new double[channels];
        double m = (double)rows * spatial;
        for (int c = 0; c < channels; c++)
        {
            var at = Enumerable.Range(0, rows).SelectMany(r => Enumerable.Range(((r * channels) + c) * spatial, spatial)).ToArray();
            double mean = (float)at.Average(i => (double)x[i]);
            double sigma = Math.Sqrt((at.Sum(i => (x[i] - mean) * (x[i] - mean)) / m) + 1e-5);
            foreach (int i in at)
            {
                double xhat = (x[i] - mean) / sigma;
                y[i] = (gamma[c] * xhat) + beta[c];
                dg[c] += dy[i] * xhat;
                db[c] += dy[i];
            }

            foreach (int i in at)
            {
                double xhat = (x[i] - mean) / sigma;
                dx[i] = gamma[c] / sigma * (dy[i] - (db[c] / m) - (xhat * dg[c] / m));
            }
        }

        return (y, dx, dg, db);
    }

    [Theory]
    [MemberData(nameof(OptimizerTests.Cases), MemberType = typeof(OptimizerTests))]
    public void Every_optimizer_steps_to_the_same_bits_on_each_vector_path(string name)
    {
        // 1,013 values: the 512-bit loop, then the 256-bit loop's one vector (on the wide path), then a scalar tail.
        float[] start = Reference.RandomFloats(1013, 21, scale: 2f);
        float[]? first = null;
        VectorPaths.ForEach(this, path =>
        {
            var (optimizer, _) = OptimizerTests.Create(name);
            float[] p = (float[])start.Clone();
            for (int step = 0; step < 3; step++)
            {
                optimizer.Step(p, Reference.RandomFloats(p.Length, 22 + step));
            }

            first ??= p;
            Assert.True(first.AsSpan().SequenceEqual(p), $"{name} {path}: not the bits of the first path");
        });
    }

    [Fact]
    public void A_deferred_weight_gradient_steps_to_the_bits_of_the_written_one_on_each_vector_path()
    {
        // 303 columns (37 vectors of 8, a 4-wide one, and the last 3 summed without FMA, as MatMul sums
        // them), 50 rows at offset 17; up to 8 batch rows plain SGD computes each value where it applies it,
        // at 9 it writes blocks. 320 columns: 20 vectors of 16, where Adam at batch 1 updates a block's rows
        // in one loop on the 512-bit path (ApplyRows512) and a row at a time on the others.
        const int outFeatures = 50, offset = 17;
        VectorPaths.ForEach(this, path =>
        {
            foreach ((int inFeatures, int rows) in new[] { (303, 1), (303, 3), (303, 8), (303, 9), (320, 1), (320, 2) })
            {
                int count = offset + (inFeatures * outFeatures) + 13;
                foreach (Func<Optimizer> create in new Func<Optimizer>[] { () => new Sgd(0.1f), () => new Sgd(0.05f, weightDecay: 0.01f), () => new Sgd(0.05f, momentum: 0.9f), () => new Adam(0.01f, weightDecay: 0.1f), () => new AdamW(0.01f, weightDecay: 0.1f, amsgrad: true) })
                {
                    float[] x = Reference.RandomFloats(rows * inFeatures, 1), dy = Reference.RandomFloats(rows * outFeatures, 2);
                    float[] written = Reference.RandomFloats(count, 3), deferred = (float[])written.Clone();
                    float[] g = Reference.RandomFloats(count, 4);
                    Kernels.DenseBackward(default, g.AsSpan(offset, inFeatures * outFeatures), default, dy, x, default, rows, inFeatures, outFeatures, accumulate: false);
                    Optimizer a = create(), b = create();
                    for (int step = 0; step < 2; step++)
                    {
                        a.Step(written, g);
                        b.Step(deferred, g, new DeferredWeightGradient(offset, dy, x, rows, inFeatures, outFeatures));
                    }

                    Assert.True(written.AsSpan().SequenceEqual(deferred), $"{a.GetType().Name}, {inFeatures} columns, {rows} rows, {path}");
                    foreach (var (stateA, stateB) in a.StateBuffers.Zip(b.StateBuffers))
                    {
                        Assert.True(stateA.Value.AsSpan().SequenceEqual(stateB.Value), $"{a.GetType().Name} {stateA.Key}, {inFeatures} columns, {rows} rows, {path}");
                    }
                }
            }
        });
    }
}
