using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NetGen.IO;

namespace NetGen.Tests;

[Network]
[Input(6)]
[Dense(8, Activation = Activation.GeluExact)]
[Dropout(0.4)]
[Dense(3, Activation = Activation.LeakyReLU)]
[Softmax]
[MeanSquaredError]
public partial class ExactGeluNet;

/// <summary>
/// ONNX export: every exported network runs in ONNX Runtime and gives what Forward gives, to 1e-5
/// relative, on random batches, after a few training steps (so that BatchNorm's running statistics
/// are not the identity); a layer with no ONNX form is refused naming it.
/// </summary>
public class OnnxTests
{
    private static float[] RunOnnx(byte[] model, INetwork network, float[]? inputs, int[]? tokens, int batch)
    {
        using var session = new InferenceSession(model);
        int[] dims = new[] { batch }.Concat(network.InputShape).ToArray();
        NamedOnnxValue input = tokens is null
            ? NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(inputs, dims))
            : NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(tokens.Select(t => (long)t).ToArray(), dims));
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(new[] { input });
        DisposableNamedOnnxValue output = Assert.Single(results);
        Assert.Equal("output", output.Name);
        var tensor = (DenseTensor<float>)output.AsTensor<float>();
        Assert.Equal(new[] { batch }.Concat(network.OutputShape), tensor.Dimensions.ToArray());
        return tensor.ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"output {i}: Forward {expected[i]}, ONNX Runtime {actual[i]}");
        }
    }

    private static void Check<TTarget>(ITrainableNetwork<TTarget> net, Func<int, TTarget[]> targets, int batch = 5)
        where TTarget : unmanaged
    {
        // A few steps, so that BatchNorm's running statistics and every parameter are not their initial values.
        var adam = new Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            net.TrainStep(Reference.RandomFloats(batch * net.InputSize, 10 + step), targets(batch), adam);
        }

        float[] x = Reference.RandomFloats(batch * net.InputSize, 99, scale: 2f);
        var expected = new float[batch * net.OutputSize];
        net.Forward(x, expected);
        var stream = new MemoryStream();
        Onnx.Save(net, stream);
        AssertClose(expected, RunOnnx(stream.ToArray(), net, x, null, batch));
    }

    private static int[] Labels(int n, int classes) => Enumerable.Range(0, n).Select(i => (i * 3) % classes).ToArray();

    private static float[] Targets(int n) => Reference.RandomFloats(n, 7);

    [Fact] public void An_mlp() => Check(new ThreeLayerNet(5, seed: 1), n => Labels(n, 4));

    [Fact] public void An_mlp_with_leaky_relu_tanh_gelu_and_no_bias() => Check(new RegressionNet(5, seed: 1), n => Targets(n * 3));

    [Fact] public void An_mlp_with_exact_gelu_dropout_and_softmax() => Check(new ExactGeluNet(5, seed: 1), n => Targets(n * 3));

    [Fact] public void An_mlp_with_batch_norm_and_dropout() => Check(new RegularizedNet(5, seed: 1), n => Labels(n, 4));

    [Fact] public void Binary_cross_entropy_outputs_probabilities() => Check(new XorNet(5, seed: 1), n => Targets(n).Select(v => v > 0 ? 1f : 0f).ToArray());

    [Fact] public void A_small_cnn_with_same_padding_dilation_and_pooling() => Check(new SmallCnn(5, seed: 1), n => Labels(n, 3));

    [Fact] public void A_strided_cnn_with_global_average_pooling() => Check(new GapCnn(5, seed: 1), n => Targets(n * 2));

    [Fact] public void The_sample_cnn() => Check(new FashionMnist.FashionCnn(4, seed: 1), n => Labels(n, 10), batch: 4);

    [Fact] public void The_sample_resnet() => Check(new FashionMnist.FashionResNet(4, seed: 1), n => Labels(n, 10), batch: 4);

    [Fact] public void A_residual_cnn_with_projections() => Check(new ResidualCnn(5, seed: 1), n => Labels(n, ResidualCnn.OutputSize));

    [Fact] public void Dense_and_layer_norm_on_sequences() => Check(new LayerNormNet(5, seed: 1), n => Targets(n * LayerNormNet.OutputSize));

    [Fact] public void Dense_per_position_with_binary_cross_entropy() => Check(new SequenceNet(5, seed: 1), n => Targets(n * SequenceNet.OutputSize).Select(v => v > 0 ? 1f : 0f).ToArray());

    [Fact]
    public void A_network_without_a_loss_exports_its_last_layer()
    {
        var net = new InferenceOnlyNet(3, seed: 1);
        float[] x = Reference.RandomFloats(3 * InferenceOnlyNet.InputSize, 5);
        var expected = new float[3 * InferenceOnlyNet.OutputSize];
        net.Forward(x, expected);
        var stream = new MemoryStream();
        Onnx.Save(net, stream);
        AssertClose(expected, RunOnnx(stream.ToArray(), net, x, null, 3));
    }

    [Fact]
    public void Token_embeddings_run_on_int64_token_ids()
    {
        var net = new EmbeddingNet(5, seed: 1);
        int[] tokens = Enumerable.Range(0, 5 * EmbeddingNet.InputSize).Select(i => (i * 5) % 7).ToArray();
        net.TrainStep(tokens, tokens.Select(t => (t + 1) % 7).ToArray(), new Adam(0.01f));
        var expected = new float[5 * EmbeddingNet.OutputSize];
        net.Forward(tokens, expected);
        var stream = new MemoryStream();
        Onnx.Save(net, stream);
        AssertClose(expected, RunOnnx(stream.ToArray(), net, null, tokens, 5));
    }

    [Fact] public void Attention_without_a_mask() => Check(new EncoderNet(5, seed: 1), n => Targets(n * EncoderNet.OutputSize));

    [Fact] public void Attention_with_dropout_on_its_weights_exports_its_inference_form() => Check(new AttentionDropoutNet(5, seed: 1), n => Targets(n * AttentionDropoutNet.OutputSize));

    [Fact]
    public void A_small_gpt_with_tied_weights_and_causal_attention()
    {
        var net = new TinyGpt(4, seed: 1);
        int[] tokens = Enumerable.Range(0, 4 * TinyGpt.InputSize).Select(i => ((i * 5) + (i / 3)) % TinyGpt.Vocabulary).ToArray();
        var adam = new AdamW(0.01f);
        for (int step = 0; step < 3; step++)
        {
            net.TrainStep(tokens, tokens.Select(t => (t + 1) % TinyGpt.Vocabulary).ToArray(), adam);
        }

        var expected = new float[4 * TinyGpt.OutputSize];
        net.Forward(tokens, expected);
        var stream = new MemoryStream();
        Onnx.Save(net, stream);
        AssertClose(expected, RunOnnx(stream.ToArray(), net, null, tokens, 4));
    }

    [Fact]
    public void The_file_declares_a_dynamic_batch_and_saves_atomically()
    {
        var net = new ThreeLayerNet(1, seed: 1);
        string path = Path.Combine(Path.GetTempPath(), "netgen-" + Guid.NewGuid().ToString("N") + ".onnx");
        try
        {
            Onnx.Save(net, path);
            using var session = new InferenceSession(path);
            Assert.Equal(new[] { -1, 5 }, session.InputMetadata["input"].Dimensions);
            Assert.Equal(new[] { -1, 4 }, session.OutputMetadata["output"].Dimensions);
            Assert.Equal("NetGen", session.ModelMetadata.ProducerName);
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + "*.tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_layer_with_no_onnx_form_is_refused_naming_it_and_no_file_is_written()
    {
        var net = new Unexportable(new ThreeLayerNet(1, seed: 1));
        string path = Path.Combine(Path.GetTempPath(), "netgen-" + Guid.NewGuid().ToString("N") + ".onnx");
        var e = Assert.Throws<NotSupportedException>(() => Onnx.Save(net, path));
        Assert.Equal("Unexportable cannot be exported to ONNX: layer Fancy(3) 'fancy1' has no ONNX form in this version of NetGen.", e.Message);
        Assert.False(File.Exists(path));
    }

    // A network whose graph has a layer without an ONNX form (every layer NetGen has today has one).
    private sealed class Unexportable(ThreeLayerNet inner) : INetwork, IOnnxExportable
    {
        public OnnxGraph OnnxGraph => new(inner.InputShape, false, inner.OutputShape, Array.Empty<OnnxNode>(), Array.Empty<OnnxConstant>(), unsupported: "Fancy(3) 'fancy1'");

        public int InputSize => ThreeLayerNet.InputSize;

        public int OutputSize => ThreeLayerNet.OutputSize;

        public int ParameterCount => ThreeLayerNet.ParameterCount;

        public int MaxBatchSize => inner.MaxBatchSize;

        public Span<float> Parameters => inner.Parameters;

        public Span<float> Gradients => inner.Gradients;

        public IReadOnlyList<ParameterInfo> ParameterLayout => inner.ParameterLayout;

        public IReadOnlyList<ParameterInfo> TiedLayout => inner.TiedLayout;

        public Span<float> State => inner.State;

        public IReadOnlyList<ParameterInfo> StateLayout => inner.StateLayout;

        public SeededRandom RandomSource => inner.RandomSource;

        public string Summary => inner.Summary;

        public IReadOnlyList<int> InputShape => inner.InputShape;

        public IReadOnlyList<int> OutputShape => inner.OutputShape;

        public long BatchesTracked { get; set; }

        public void InitializeParameters(int seed) => inner.InitializeParameters(seed);

        public void ZeroGrad() => inner.ZeroGrad();
    }
}
