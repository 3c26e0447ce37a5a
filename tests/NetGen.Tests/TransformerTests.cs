namespace NetGen.Tests;

/// <summary>
/// The Transformer's layers and a whole tiny GPT against a double-precision reference written
/// here from the definitions (nanoGPT's model.py): loss, outputs, and every parameter's gradient
/// against central finite differences; causality; token checks.
/// </summary>
public class TransformerTests
{
    private abstract record Op;

    private sealed record EmbeddingOp(string Name, int Vocabulary, int Dimension) : Op;

    private sealed record PositionalOp(string Name) : Op;

    private sealed record LayerNormOp(string Name, double Epsilon = 1e-5, bool Bias = true) : Op;

    private sealed record AttentionOp(string Name, int Heads, bool Causal = true, bool Bias = true, float[]? DropoutMask = null) : Op;

    private sealed record DenseOp(string Name, int Out, bool Bias = true, Activation Activation = Activation.None, string? Weight = null) : Op;

    private sealed record ResidualOp(params Op[] Branch) : Op;

    private static Op[] Decoder(string prefix) => new Op[]
    {
        new ResidualOp(new LayerNormOp(prefix + ".ln_1"), new AttentionOp(prefix + ".attn", 2)),
        new ResidualOp(new LayerNormOp(prefix + ".ln_2"), new DenseOp(prefix + ".mlp.c_fc", 16, Activation: Activation.GeluExact), new DenseOp(prefix + ".mlp.c_proj", 8)),
    };

    private static readonly Op[] TinyGptOps = new Op[]
    {
        new EmbeddingOp("transformer.wte", 11, 8),
        new PositionalOp("transformer.wpe"),
    }.Concat(Decoder("transformer.h.0")).Concat(Decoder("transformer.h.1")).Concat(new Op[]
    {
        new LayerNormOp("transformer.ln_f"),
        new DenseOp("lm_head", 11, Bias: false, Weight: "transformer.wte.weight"),
    }).ToArray();

    [Fact]
    public void A_two_layer_gpt_with_tied_weights_matches_finite_differences()
    {
        var net = new TinyGpt(3, seed: 41);
        Assert.Equal(
            new[]
            {
                "transformer.wte.weight", "transformer.wpe.weight",
                "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
                "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
                "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias",
                "transformer.h.0.ln_2.weight", "transformer.h.0.ln_2.bias",
                "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
                "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias",
            },
            net.ParameterLayout.Take(14).Select(p => p.Name));
        Assert.Equal("transformer.ln_f.bias", net.ParameterLayout[^1].Name);
        Assert.DoesNotContain(net.ParameterLayout, p => p.Name.StartsWith("lm_head", StringComparison.Ordinal));

        // wte 88 + wpe 40 + per block (ln 16 + c_attn 216 + c_proj 72 + ln 16 + c_fc 144 + c_proj 136) + ln_f 16.
        Assert.Equal(88 + 40 + (2 * 600) + 16, TinyGpt.ParameterCount);
        Assert.Equal(11, TinyGpt.Vocabulary);
        Check(net, TinyGptOps, batch: 3, length: 5, vocabulary: 11);
    }

    [Fact]
    public void Embedding_position_embedding_and_the_loss_per_position_match_finite_differences()
    {
        var net = new EmbeddingNet(4, seed: 42);
        Op[] ops = { new EmbeddingOp("embedding1", 7, 5), new PositionalOp("positions1"), new DenseOp("dense1", 7) };
        Check(net, ops, batch: 3, length: 4, vocabulary: 7, repeatedTokens: true);
    }

    [Fact]
    public void LayerNorm_with_and_without_bias_matches_finite_differences()
    {
        Op[] ops =
        {
            new DenseOp("dense1", 6), new LayerNormOp("layernorm1", Epsilon: 1e-3), new DenseOp("dense2", 5, Activation: Activation.Tanh),
            new LayerNormOp("layernorm2", Bias: false), new DenseOp("dense3", 4),
        };
        var layerNorm = new LayerNormNet(4, seed: 43);
        CheckRegressor(layerNorm, ops, batch: 3, length: 3, width: 6);
        Assert.Equal(new[] { 5 }, layerNorm.ParameterLayout.Single(p => p.Name == "layernorm2.weight").Shape);
        Assert.DoesNotContain(layerNorm.ParameterLayout, p => p.Name == "layernorm2.bias");
    }

    [Fact]
    public void Attention_over_every_position_matches_finite_differences()
    {
        Op[] ops = { new DenseOp("dense1", 6), new AttentionOp("attention1", 3, Causal: false), new DenseOp("dense2", 2) };
        CheckRegressor(new EncoderNet(4, seed: 44), ops, batch: 2, length: 4, width: 6);
    }

    [Fact]
    public void Causal_attention_on_the_input_matches_finite_differences()
    {
        Op[] ops = { new AttentionOp("attention1", 2, Bias: false) };
        CheckRegressor(new CausalOnInputNet(4, seed: 45), ops, batch: 2, length: 4, width: 6);
    }

    [Fact]
    public void Dropout_on_the_attention_weights_matches_finite_differences_and_is_the_identity_at_inference()
    {
        // The mask is drawn from the network's RandomSource in training: replay it for the reference.
        const int batch = 3, length = 4;
        var mask = new float[batch * 3 * length * length];
        Kernels.DropoutMask(mask, 0.3f, new SeededRandom(77));
        Assert.Contains(0f, mask);
        var net = new AttentionDropoutNet(4, seed: 50);
        net.RandomSource.Reset(77);
        float[] x = Reference.RandomFloats(batch * AttentionDropoutNet.InputSize, 300);
        float[] t = Reference.RandomFloats(batch * AttentionDropoutNet.OutputSize, 301);
        double[] theta = Reference.ToDouble(net.Parameters);
        Op[] Ops(float[]? m) => new Op[] { new DenseOp("dense1", 6), new AttentionOp("attention1", 3, Causal: true, DropoutMask: m), new DenseOp("dense2", 2) };
        double[] Outputs(float[]? m) => Run(Ops(m), theta, net.ParameterLayout, Reference.ToDouble(x), batch, length, width: 6);
        double LossOf() => Reference.MeanSquaredError(Outputs(mask), t);
        float loss = net.ComputeGradients(x, t);
        Assert.Equal(LossOf(), loss, 1e-5);
        Assert.NotEqual(Reference.MeanSquaredError(Outputs(null), t), loss, 1e-3); // the mask mattered
        CheckGradients(net, theta, LossOf);
        var outputs = new float[batch * AttentionDropoutNet.OutputSize];
        net.Forward(x, outputs);
        Reference.AssertClose(Outputs(null), outputs, 1e-5, 1e-4, "outputs at inference");

        // Split across threads, the masks are drawn before the split, in sample order: the same batch.
        var split = new AttentionDropoutNet(4, seed: 50) { Threads = 2, MinSamplesPerThread = 1 };
        split.RandomSource.Reset(77);
        Assert.Equal(loss, split.ComputeGradients(x, t), 1e-6);
        Reference.AssertClose(Reference.ToDouble(net.Gradients), split.Gradients.ToArray(), 1e-6, 1e-5, "gradients on two threads");
    }

    [Fact]
    public void Attention_with_heads_wider_than_a_vector_matches_finite_differences()
    {
        Op[] ops = { new DenseOp("dense1", 20), new AttentionOp("attention1", 2) };
        CheckRegressor(new WideHeadNet(3, seed: 49), ops, batch: 2, length: 3, width: 20);
    }

    [Fact]
    public void Changing_a_token_never_changes_the_outputs_of_earlier_positions()
    {
        var net = new TinyGpt(1, seed: 46);
        int[] tokens = { 3, 1, 4, 1, 5 };
        var before = new float[TinyGpt.OutputSize];
        net.Forward(tokens, before);
        for (int t = 0; t < 5; t++)
        {
            int[] changed = (int[])tokens.Clone();
            changed[t] = (changed[t] + 6) % 11;
            var after = new float[TinyGpt.OutputSize];
            net.Forward(changed, after);
            for (int i = 0; i < TinyGpt.OutputSize; i++)
            {
                int position = i / 11;
                if (position < t)
                {
                    Assert.Equal(before[i], after[i]);
                }
            }

            Assert.NotEqual(before.AsSpan(t * 11, 11).ToArray(), after.AsSpan(t * 11, 11).ToArray());
        }
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_refused_with_their_position_and_nothing_changes()
    {
        var net = new TinyGpt(2, seed: 47);
        int[] tokens = { 1, 2, 3, 4, 5, 6, 7, 11, 9, 10 };
        int[] labels = new int[10];
        net.ComputeGradients(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, labels);
        float[] gradients = net.Gradients.ToArray();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => net.ComputeGradients(tokens, labels));
        Assert.Equal("tokens", e.ParamName);
        Assert.StartsWith("'tokens'[7] (sample 1, position 2) is 11; token ids must lie in [0, 11).", e.Message);
        Assert.Equal(gradients, net.Gradients.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Forward(new[] { -1, 0, 0, 0, 0 }, new float[TinyGpt.OutputSize]));
        var wrongLabels = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new[] { 1, 2, 3, 4, 5 }, new int[1]));
        Assert.Contains("one label per position, 5 per sample", wrongLabels.Message);
    }

    [Fact]
    public void Accumulated_micro_batches_give_the_gradient_of_the_whole_batch()
    {
        var net = new TinyGpt(4, seed: 48);
        int[] tokens = Enumerable.Range(0, 20).Select(i => (i * 7) % 11).ToArray();
        int[] labels = Enumerable.Range(0, 20).Select(i => (i * 5) % 11).ToArray();
        net.ComputeGradients(tokens, labels);
        float[] whole = net.Gradients.ToArray();
        net.ZeroGrad();
        net.AccumulateGradients(tokens.AsSpan(0, 10), labels.AsSpan(0, 10));
        net.AccumulateGradients(tokens.AsSpan(10, 10), labels.AsSpan(10, 10));
        float[] summed = net.Gradients.ToArray().Select(g => g / 2).ToArray();
        Reference.AssertClose(Reference.ToDouble(whole), summed, 1e-6, 1e-4, "accumulated gradients");
    }

    private static void Check(ITrainableNetwork<int, int> net, Op[] ops, int batch, int length, int vocabulary, bool repeatedTokens = false)
    {
        int[] tokens = Enumerable.Range(0, batch * length).Select(i => repeatedTokens ? i % 3 : ((i * 5) + 2) % vocabulary).ToArray();
        int[] labels = Enumerable.Range(0, batch * length).Select(i => ((i * 3) + 1) % vocabulary).ToArray();
        double[] theta = Reference.ToDouble(net.Parameters);
        IReadOnlyList<ParameterInfo> layout = net.ParameterLayout;
        double[] Logits() => Run(ops, theta, layout, tokens.Select(t => (double)t).ToArray(), batch, length, width: 0);
        double LossOf() => Reference.SoftmaxCrossEntropy(Logits(), labels, vocabulary);

        float loss = net.ComputeGradients(tokens, labels);
        Assert.Equal(LossOf(), loss, 1e-5);
        CheckGradients(net, theta, LossOf);
        var outputs = new float[batch * net.OutputSize];
        net.Forward(tokens, outputs);
        Reference.AssertClose(Reference.Activate(Activation.Softmax, Logits(), vocabulary), outputs, 1e-6, 1e-4, "probabilities");
    }

    private static void CheckRegressor(ITrainableNetwork<float> net, Op[] ops, int batch, int length, int width)
    {
        float[] x = Reference.RandomFloats(batch * net.InputSize, 300);
        float[] t = Reference.RandomFloats(batch * net.OutputSize, 301);
        double[] theta = Reference.ToDouble(net.Parameters);
        double[] Outputs() => Run(ops, theta, net.ParameterLayout, Reference.ToDouble(x), batch, length, width);
        double LossOf() => Reference.MeanSquaredError(Outputs(), t);

        float loss = net.ComputeGradients(x, t);
        Assert.Equal(LossOf(), loss, 1e-5);
        CheckGradients(net, theta, LossOf);
        var outputs = new float[batch * net.OutputSize];
        net.Forward(x, outputs);
        Reference.AssertClose(Outputs(), outputs, 1e-5, 1e-4, "outputs");
    }

    private static void CheckGradients(INetwork net, double[] theta, Func<double> lossOf)
    {
        Assert.Equal(net.ParameterCount, theta.Length);
        float[] gradients = net.Gradients.ToArray();
        for (int i = 0; i < theta.Length; i++)
        {
            double fd = Reference.CentralDifference(lossOf, theta, i);
            string name = net.ParameterLayout.Last(p => p.Offset <= i).Name;
            double error = Math.Abs(gradients[i] - fd);
            Assert.True(error <= 2e-5 + (2e-3 * Math.Abs(fd)), $"gradient of {name} (parameter {i}): finite difference {fd:G9}, generated {gradients[i]:G9}");
        }
    }

    /// <summary>
    /// The reference forward pass, in double, on a batch of sequences stored row after row
    /// (<c>[batch·length, width]</c>); token ids come in as doubles with width 0.
    /// </summary>
    private static double[] Run(Op[] ops, double[] theta, IReadOnlyList<ParameterInfo> layout, double[] x, int batch, int length, int width)
    {
        double[] Slice(string name)
        {
            ParameterInfo p = layout.Single(q => q.Name == name);
            return theta.AsSpan(p.Offset, p.Length).ToArray();
        }

        int rows = batch * length;
        double[] RunOps(IEnumerable<Op> list, double[] h)
        {
            foreach (Op op in list)
            {
                switch (op)
                {
                    case EmbeddingOp e:
                    {
                        double[] w = Slice(e.Name + ".weight");
                        var y = new double[rows * e.Dimension];
                        for (int r = 0; r < rows; r++)
                        {
                            Array.Copy(w, (int)h[r] * e.Dimension, y, r * e.Dimension, e.Dimension);
                        }

                        h = y;
                        width = e.Dimension;
                        break;
                    }

                    case PositionalOp p:
                    {
                        double[] w = Slice(p.Name + ".weight");
                        h = h.Select((v, i) => v + w[i % (length * width)]).ToArray();
                        break;
                    }

                    case LayerNormOp ln:
                        h = LayerNorm(h, Slice(ln.Name + ".weight"), ln.Bias ? Slice(ln.Name + ".bias") : null, width, ln.Epsilon);
                        break;
                    case AttentionOp a:
                    {
                        double[] qkv = Reference.Dense(h, Slice(a.Name + ".c_attn.weight"), a.Bias ? Slice(a.Name + ".c_attn.bias") : null, rows, width, 3 * width);
                        double[] heads = Attention(qkv, batch, length, width, a.Heads, a.Causal, a.DropoutMask);
                        h = Reference.Dense(heads, Slice(a.Name + ".c_proj.weight"), a.Bias ? Slice(a.Name + ".c_proj.bias") : null, rows, width, width);
                        break;
                    }

                    case DenseOp d:
                        h = Reference.Dense(h, Slice(d.Weight ?? d.Name + ".weight"), d.Bias ? Slice(d.Name + ".bias") : null, rows, width, d.Out);
                        h = Reference.Activate(d.Activation, h, d.Out);
                        width = d.Out;
                        break;
                    case ResidualOp r:
                    {
                        double[] branch = RunOps(r.Branch, h);
                        h = h.Select((v, i) => v + branch[i]).ToArray();
                        break;
                    }
                }
            }

            return h;
        }

        return RunOps(ops, x);
    }

    private static double[] LayerNorm(double[] x, double[] weight, double[]? bias, int cols, double epsilon)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length; r += cols)
        {
            double mean = 0, variance = 0;
            for (int c = 0; c < cols; c++)
            {
                mean += x[r + c];
            }

            mean /= cols;
            for (int c = 0; c < cols; c++)
            {
                variance += (x[r + c] - mean) * (x[r + c] - mean);
            }

            variance /= cols;
            for (int c = 0; c < cols; c++)
            {
                y[r + c] = ((x[r + c] - mean) / Math.Sqrt(variance + epsilon) * weight[c]) + (bias?[c] ?? 0);
            }
        }

        return y;
    }

    // softmax(q·kᵀ/√hs)·v per sequence and head, as nanoGPT's CausalSelfAttention writes it; with a
    // dropout mask ([batch, heads, T, T] factors), its attn_dropout on the weights.
    private static double[] Attention(double[] qkv, int batch, int length, int d, int heads, bool causal, float[]? dropoutMask = null)
    {
        int hs = d / heads;
        var y = new double[batch * length * d];
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < heads; h++)
            {
                for (int t = 0; t < length; t++)
                {
                    int keys = causal ? t + 1 : length;
                    var scores = new double[keys];
                    for (int s = 0; s < keys; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hs; i++)
                        {
                            dot += qkv[(((b * length) + t) * 3 * d) + (h * hs) + i] * qkv[(((b * length) + s) * 3 * d) + d + (h * hs) + i];
                        }

                        scores[s] = dot / Math.Sqrt(hs);
                    }

                    double[] p = Reference.Activate(Activation.Softmax, scores, keys);
                    for (int i = 0; i < hs; i++)
                    {
                        double sum = 0;
                        for (int s = 0; s < keys; s++)
                        {
                            double factor = dropoutMask is null ? 1 : dropoutMask[(((((b * heads) + h) * length) + t) * length) + s];
                            sum += p[s] * factor * qkv[(((b * length) + s) * 3 * d) + (2 * d) + (h * hs) + i];
                        }

                        y[(((b * length) + t) * d) + (h * hs) + i] = sum;
                    }
                }
            }
        }

        return y;
    }
}
