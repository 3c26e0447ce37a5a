using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace NetGen.Generator.Tests;

/// <summary>Each diagnostic at its exact location (the text it underlines) with its exact message.</summary>
public class AnalyzerTests
{
    private static async Task<Diagnostic> Single(string source, string id, string underlined, string message, DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompiler.Analyze(source);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(severity, d.Severity);
        Assert.Equal(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(underlined, source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Equal($"https://github.com/netgen-dotnet/netgen/blob/main/docs/diagnostics/{id}.md", d.Descriptor.HelpLinkUri);
        return d;
    }

    private static string Net(string layers, string declaration = "public partial class Net;") =>
        "using NetGen;\n\nnamespace App;\n\n[Network]\n" + layers + "\n" + declaration + "\n";

    [Fact]
    public async Task NG0001_a_network_class_that_is_not_partial()
    {
        var d = await Single(
            Net("[Input(4)]\n[Dense(2)]", "public class Net { }"),
            "NG0001", "Net", "'Net' has NetGen layer attributes but is not partial; add the 'partial' modifier so that NetGen can generate its members");
        Assert.Equal(8, d.Location.GetLineSpan().StartLinePosition.Line + 1);
    }

    [Fact]
    public Task NG0002_no_input_layer() => Single(
        Net("[Dense(2)]\n[SoftmaxCrossEntropy]"),
        "NG0002", "Network", "Network 'Net' has no [Input] layer; start its layers with [Input(shape)], the shape of one sample");

    [Fact]
    public Task NG0003_input_that_is_not_first() => Single(
        Net("[Input(4)]\n[Dense(3)]\n[Input(3)]"),
        "NG0003", "Input(3)", "Input(3) at layer 2 of 'Net': [Input] must be the first layer and appear only once");

    [Fact]
    public Task NG0004_layers_split_across_partial_declarations() => Single(
        Net("[Input(4)]\n[Dense(3)]") + "\n[Dense(2)]\npublic partial class Net { }\n",
        "NG0004", "Dense(2)", "The layer attributes of 'Net' are split across partial declarations; put them all on one declaration so that their order is defined");

    [Fact]
    public Task NG0005_layers_without_network() => Single(
        "using NetGen;\n\n[Input(4)]\n[Dense(2)]\npublic partial class Net;\n",
        "NG0005", "Input(4)", "'Net' has NetGen layer attributes but no [Network] or [Block] attribute; nothing is generated for it", DiagnosticSeverity.Warning);

    [Fact]
    public Task NG0006_a_nested_network() => Single(
        "using NetGen;\n\npublic partial class Outer\n{\n    [Network]\n    [Input(4)]\n    [Dense(2)]\n    public partial class Inner;\n}\n",
        "NG0006", "Inner", "Network 'Inner' must be a non-generic, non-static class declared directly in a namespace");

    [Fact]
    public Task NG0006_a_partial_record_is_unsupported_and_not_called_non_partial() => Single(
        "using NetGen;\n\nnamespace App;\n\n[Network]\n[Input(4)]\n[Dense(2)]\npublic partial record Net;\n",
        "NG0006", "Net", "Network 'Net' must be a non-generic, non-static class declared directly in a namespace");

    [Fact]
    public async Task NG0012_a_member_named_like_a_generated_one_is_reported_on_it_and_nothing_is_generated()
    {
        string source = Net("[Input(4)]\n[Dense(2)]", "public partial class Net\n{\n    public int InputSize => 4;\n\n    public void Forward(string text) { }\n}");
        await Single(source, "NG0012", "InputSize", "'Net' declares a member named 'InputSize', which NetGen generates for every network; rename it (NetGen generates nothing for 'Net' until then)");
        var (output, result) = TestCompiler.Generate(source);
        Assert.Empty(result.GeneratedSources);
        Assert.Empty(TestCompiler.CompilerProblems(output));
    }

    [Fact]
    public Task NG0007_a_layer_after_the_loss() => Single(
        Net("[Input(4)]\n[Dense(3)]\n[SoftmaxCrossEntropy]\n[Dense(2)]"),
        "NG0007", "Dense(2)", "Dense(2) at layer 3 comes after the loss SoftmaxCrossEntropy at layer 2; the loss must be the last layer");

    [Fact]
    public Task NG1001_softmax_cross_entropy_on_an_image() => Single(
        Net("[Input(1, 8, 8)]\n[Conv2D(4, 3)]\n[SoftmaxCrossEntropy]"),
        "NG1001", "SoftmaxCrossEntropy", "SoftmaxCrossEntropy at layer 2 needs a vector of at least 2 class scores, or a sequence [T, classes] of them, but receives [4, 6, 6] (144 values)");

    [Fact]
    public Task NG1001_softmax_cross_entropy_on_a_single_score() => Single(
        Net("[Input(4)]\n[Dense(1)]\n[SoftmaxCrossEntropy]"),
        "NG1001", "SoftmaxCrossEntropy", "SoftmaxCrossEntropy at layer 2 needs a vector of at least 2 class scores, or a sequence [T, classes] of them, but receives [1] (1 value)");

    [Fact]
    public Task NG1008_global_average_pooling_after_a_flatten_suggests_removing_it() => Single(
        Net("[Input(2, 4, 4)]\n[Flatten]\n[GlobalAveragePool]"),
        "NG1008", "GlobalAveragePool", "GlobalAveragePool at layer 2 needs a [C, H, W] input but receives [32] (32 values); remove the [Flatten] before it");

    [Fact]
    public Task NG1008_global_average_pooling_on_a_dense_output_suggests_no_flatten() => Single(
        Net("[Input(8)]\n[Dense(4)]\n[GlobalAveragePool]"),
        "NG1008", "GlobalAveragePool", "GlobalAveragePool at layer 2 needs a [C, H, W] input but receives [4] (4 values); a vector has no height and width: for images give [Input(channels, height, width)]");

    [Theory]
    [InlineData("[Input(1, 8, 8)]\n[Conv2D(16, 2147483647, Padding = Padding.Same)]", "Conv2D(16, 2147483647, Padding = Padding.Same)")]
    [InlineData("[Input(2147483647)]\n[Dense(2)]", "Dense(2)")]
    [InlineData("[Input(65536, 65536)]\n[Dense(2)]", "Input(65536, 65536)")]
    public async Task NG9001_sizes_that_overflow_are_reported_on_the_attribute(string layers, string underlined)
    {
        string source = Net(layers);
        ImmutableArray<Diagnostic> diagnostics = await TestCompiler.Analyze(source);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("NG9001", d.Id);
        Assert.Equal(underlined, source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Contains("2,147,483,647", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public Task NG1011_heads_that_do_not_divide_the_dimension() => Single(
        Net("[Input(64, Kind = InputKind.Tokens)]\n[Embedding(100, 130)]\n[MultiHeadAttention(4)]"),
        "NG1011", "MultiHeadAttention(4)", "MultiHeadAttention(4, causal) at layer 2: the model dimension 130 of [64, 130] is not divisible by 4 heads; choose heads that divide it (each head gets dimension / heads values)");

    [Theory]
    [InlineData("[Input(128)]\n[MultiHeadAttention(4)]", "MultiHeadAttention(4)", "MultiHeadAttention(4, causal) at layer 1 needs a sequence [T, D] (positions by features), but receives [128] (128 values)")]
    [InlineData("[Input(128)]\n[PositionalEmbedding]", "PositionalEmbedding", "PositionalEmbedding at layer 1 needs a sequence [T, D] (positions by features), but receives [128] (128 values)")]
    [InlineData("[Input(3, 8, 8)]\n[LayerNorm]", "LayerNorm", "LayerNorm at layer 1 needs a sequence [T, D] (positions by features), but receives [3, 8, 8] (192 values)")]
    public Task NG1012_sequence_layers_on_something_that_is_not_a_sequence(string layers, string underlined, string message) =>
        Single(Net(layers), "NG1012", underlined, message);

    [Fact]
    public Task NG1013_an_embedding_after_float_values() => Single(
        Net("[Input(64)]\n[Embedding(100, 32)]"),
        "NG1013", "Embedding(100, 32)", "Embedding(100, 32) at layer 1 looks up token ids, but receives [64] (64 values); an Embedding must follow a token input, [Input(T, Kind = InputKind.Tokens)]");

    [Fact]
    public Task NG1014_a_token_input_without_an_embedding_first() => Single(
        Net("[Input(64, Kind = InputKind.Tokens)]\n[Dense(32)]"),
        "NG1014", "Dense(32)", "Dense(32) at layer 1 receives token ids [64] (64 values), which are not values; start the layers after a token input with [Embedding(vocabulary, dimension)]");

    [Fact]
    public Task NG1014_a_token_input_alone() => Single(
        Net("[Input(64, Kind = InputKind.Tokens)]"),
        "NG1014", "Input(64, Kind = InputKind.Tokens)", "Input(64, Tokens) at layer 0 receives token ids [64] (64 values), which are not values; start the layers after a token input with [Embedding(vocabulary, dimension)]");

    [Fact]
    public Task NG1015_a_position_embedding_of_another_length() => Single(
        Net("[Input(64, Kind = InputKind.Tokens)]\n[Embedding(100, 32)]\n[PositionalEmbedding(128)]"),
        "NG1015", "PositionalEmbedding(128)", "PositionalEmbedding(128) at layer 2 has 128 positions, but the sequence [64, 32] has 64; give it the sequence's length or leave the length out");

    [Fact]
    public Task NG1016_weights_tied_across_shapes() => Single(
        Net("[Input(64, Kind = InputKind.Tokens)]\n[Embedding(100, 32, Name = \"wte\")]\n[Dense(64)]\n[Dense(100, TiedTo = \"wte\")]\n[SoftmaxCrossEntropy]"),
        "NG1016", "Dense(100, TiedTo = \"wte\")", "Dense(100, tied to wte) at layer 3 is tied to 'wte', whose weight is [100, 32], but its own weight would be [100, 64]; tie it to an embedding of the same shape");

    [Fact]
    public Task NG1017_weights_tied_to_a_name_that_is_no_embedding() => Single(
        Net("[Input(64, Kind = InputKind.Tokens)]\n[Embedding(100, 32, Name = \"wte\")]\n[Dense(100, TiedTo = \"embedding\")]\n[SoftmaxCrossEntropy]"),
        "NG1017", "Dense(100, TiedTo = \"embedding\")", "Dense(100, tied to embedding) at layer 2 is tied to 'embedding', but no Embedding layer before it has that name; the embeddings before it are 'wte'");

    [Theory]
    [InlineData("[Input(4, 4, Kind = InputKind.Tokens)]\n[Embedding(10, 4)]", "Input(4, 4, Kind = InputKind.Tokens)", "Input(4, 4, Tokens) at layer 0: a token input is one sequence of ids: give its length alone, e.g. [Input(64, Kind = InputKind.Tokens)]")]
    [InlineData("[Input(4, Kind = InputKind.Tokens)]\n[Embedding(0, 4)]", "Embedding(0, 4)", "Embedding(0, 4) at layer 1: vocabulary must be positive, but is 0")]
    [InlineData("[Input(4, 8)]\n[MultiHeadAttention(0)]", "MultiHeadAttention(0)", "MultiHeadAttention(0, causal) at layer 1: heads must be positive, but is 0")]
    [InlineData("[Input(4, 8)]\n[LayerNorm(Epsilon = 0)]", "LayerNorm(Epsilon = 0)", "LayerNorm(ε = 0) at layer 1: Epsilon must be positive and finite, but is 0")]
    public Task NG9001_transformer_arguments(string layers, string underlined, string message) =>
        Single(Net(layers), "NG9001", underlined, message);

    [Fact]
    public Task NG1002_softmax_before_softmax_cross_entropy() => Single(
        Net("[Input(4)]\n[Dense(3)]\n[Softmax]\n[SoftmaxCrossEntropy]"),
        "NG1002", "Softmax", "Softmax at layer 2 is followed by SoftmaxCrossEntropy, which applies softmax itself; remove the softmax or it is applied twice", DiagnosticSeverity.Warning);

    [Fact]
    public Task NG1002_sigmoid_activation_before_binary_cross_entropy() => Single(
        Net("[Input(4)]\n[Dense(1, Activation = Activation.Sigmoid)]\n[BinaryCrossEntropy]"),
        "NG1002", "Dense(1, Activation = Activation.Sigmoid)", "Dense(1, Sigmoid) at layer 1 is followed by BinaryCrossEntropy, which applies sigmoid itself; remove the sigmoid or it is applied twice", DiagnosticSeverity.Warning);

    [Theory]
    [InlineData("[Input(4)]\n[Dense(0)]", "Dense(0)", "Dense(0) at layer 1: units must be positive, but is 0")]
    [InlineData("[Input(4)]\n[Dense(-3)]", "Dense(-3)", "Dense(-3) at layer 1: units must be positive, but is -3")]
    [InlineData("[Input]\n[Dense(2)]", "Input", "Input() at layer 0: the shape is empty; give one sample's dimensions, e.g. [Input(784)] or [Input(1, 28, 28)]")]
    [InlineData("[Input(1, 0, 28)]\n[Dense(2)]", "Input(1, 0, 28)", "Input(1, 0, 28) at layer 0: dimension 1 is 0; every dimension must be positive")]
    [InlineData("[Input(4)]\n[LeakyReLU(-0.5)]", "LeakyReLU(-0.5)", "LeakyReLU(-0.5) at layer 1: alpha must be non-negative, but is -0.5")]
    [InlineData("[Input(100000, 100000)]\n[Dense(2)]", "Input(100000, 100000)", "Input(100000, 100000) at layer 0: one sample would exceed 2,147,483,647 values")]
    [InlineData("[Input(100000)]\n[Dense(100000)]", "Dense(100000)", "Dense(100000) at layer 1: the network's parameters would exceed 2,147,483,647 values")]
    [InlineData("[Input(1, 8, 8)]\n[Conv2D(0, 3)]", "Conv2D(0, 3)", "Conv2D(0, 3) at layer 1: filters must be positive, but is 0")]
    [InlineData("[Input(1, 8, 8)]\n[Conv2D(4, 3, Stride = 0)]", "Conv2D(4, 3, Stride = 0)", "Conv2D(4, 3, Stride = 0) at layer 1: Stride must be positive, but is 0")]
    [InlineData("[Input(1, 8, 8)]\n[MaxPool2D(2, Stride = 0)]", "MaxPool2D(2, Stride = 0)", "MaxPool2D(2, Stride = 0) at layer 1: Stride must be positive, but is 0")]
    [InlineData("[Input(1, 8, 8)]\n[MaxPool2D(2, PaddingPixels = 2)]", "MaxPool2D(2, PaddingPixels = 2)", "MaxPool2D(2, Padding = 2) at layer 1: PaddingPixels must be at most half the window (1), as in PyTorch, but is 2: a window of padding alone has no value")]
    [InlineData("[Input(1, 8, 8)]\n[MaxPool2D(0)]", "MaxPool2D(0)", "MaxPool2D(0) at layer 1: the kernel side must be positive, but is 0")]
    [InlineData("[Input(4)]\n[Dropout(1.0)]", "Dropout(1.0)", "Dropout(1) at layer 1: rate must lie in [0, 1), but is 1")]
    [InlineData("[Input(4)]\n[Dropout(-0.1)]", "Dropout(-0.1)", "Dropout(-0.1) at layer 1: rate must lie in [0, 1), but is -0.1")]
    [InlineData("[Input(4, 6)]\n[MultiHeadAttention(2, Dropout = 1.0)]", "MultiHeadAttention(2, Dropout = 1.0)", "MultiHeadAttention(2, causal, Dropout = 1) at layer 1: Dropout must lie in [0, 1), but is 1")]
    [InlineData("[Input(4)]\n[Dense(3)]\n[SoftmaxCrossEntropy(LabelSmoothing = 1.5)]", "SoftmaxCrossEntropy(LabelSmoothing = 1.5)", "SoftmaxCrossEntropy(LabelSmoothing = 1.5) at layer 2: LabelSmoothing must lie in [0, 1], but is 1.5")]
    [InlineData("[Input(4)]\n[Dense(3, L2 = -0.01)]", "Dense(3, L2 = -0.01)", "Dense(3, L2 = -0.01) at layer 1: L2 must be non-negative and finite, but is -0.01")]
    [InlineData("[Input(4)]\n[Dense(3, L1 = -1)]", "Dense(3, L1 = -1)", "Dense(3, L1 = -1) at layer 1: L1 must be non-negative and finite, but is -1")]
    [InlineData("[Input(4)]\n[BatchNorm(Momentum = 1.5)]", "BatchNorm(Momentum = 1.5)", "BatchNorm(Momentum = 1.5, Epsilon = 1E-05) at layer 1: Momentum must lie in [0, 1], but is 1.5")]
    [InlineData("[Input(4)]\n[BatchNorm(Epsilon = 0)]", "BatchNorm(Epsilon = 0)", "BatchNorm(Momentum = 0.1, Epsilon = 0) at layer 1: Epsilon must be positive, but is 0")]
    public Task NG9001_invalid_arguments(string layers, string underlined, string message) =>
        Single(Net(layers), "NG9001", underlined, message);

    [Fact]
    public Task NG1003_batchnorm_on_a_non_vector() => Single(
        Net("[Input(3, 8)]\n[Dense(4)]\n[BatchNorm]"),
        "NG1003", "BatchNorm", "BatchNorm at layer 2 normalises the features of a vector [features] or the channels of an image [C, H, W], but receives [3, 4] (12 values)");

    [Fact]
    public Task NG1004_a_kernel_larger_than_the_padded_input() => Single(
        Net("[Input(1, 8, 8)]\n[Conv2D(16, 3)]\n[MaxPool2D(2)]\n[Conv2D(32, 5)]"),
        "NG1004", "Conv2D(32, 5)", "Conv2D(32, 5) at layer 3 receives [16, 3, 3]; its 5x5 window does not fit the padded 3x3 input");

    [Fact]
    public Task NG1004_dilation_counts_in_the_window() => Single(
        Net("[Input(1, 6, 6)]\n[Conv2D(4, 3, Dilation = 4, PaddingPixels = 1)]"),
        "NG1004", "Conv2D(4, 3, Dilation = 4, PaddingPixels = 1)", "Conv2D(4, 3, Dilation = 4, Padding = 1) at layer 1 receives [1, 6, 6]; its 9x9 (kernel 3, dilation 4) window does not fit the padded 8x8 input");

    [Fact]
    public Task NG1005_a_pool_that_shrinks_a_side_to_zero() => Single(
        Net("[Input(32, 1, 1)]\n[MaxPool2D(2)]"),
        "NG1005", "MaxPool2D(2)", "MaxPool2D(2) at layer 1 receives [32, 1, 1]; its output would be [32, 0, 0]");

    [Fact]
    public Task NG1006_same_padding_with_an_even_kernel() => Single(
        Net("[Input(1, 8, 8)]\n[Conv2D(4, 4, Padding = Padding.Same)]"),
        "NG1006", "Conv2D(4, 4, Padding = Padding.Same)", "Conv2D(4, 4, Same) at layer 1: Same padding needs 3 rows and columns in total, which do not split evenly; NetGen pads 1 before and 2 after, as TensorFlow and PyTorch do", DiagnosticSeverity.Warning);

    [Fact]
    public Task NG1007_dense_after_an_image() => Single(
        Net("[Input(1, 8, 8)]\n[Conv2D(4, 3)]\n[Dense(10)]"),
        "NG1007", "Dense(10)", "Dense(10) at layer 2 receives [4, 6, 6] (144 values): Dense acts on the last axis, giving [4, 6, 10]; insert [Flatten] to connect every value", DiagnosticSeverity.Warning);

    [Fact]
    public Task NG1008_a_convolution_after_a_flat_vector() => Single(
        Net("[Input(784)]\n[Conv2D(16, 3)]"),
        "NG1008", "Conv2D(16, 3)", "Conv2D(16, 3) at layer 1 needs a [C, H, W] input but receives [784] (784 values); a vector has no height and width: for images give [Input(channels, height, width)]");

    [Fact]
    public Task NG0007_dropout_after_the_loss() => Single(
        Net("[Input(4)]\n[Dense(3)]\n[SoftmaxCrossEntropy]\n[Dropout(0.5)]"),
        "NG0007", "Dropout(0.5)", "Dropout(0.5) at layer 3 comes after the loss SoftmaxCrossEntropy at layer 2; the loss must be the last layer");

    [Fact]
    public async Task Valid_networks_have_no_diagnostics()
    {
        Assert.Empty(await TestCompiler.Analyze(BaselineTests.FashionMlp, BaselineTests.Regression, BaselineTests.Sequence, BaselineTests.InferenceOnly, BaselineTests.Regularized));
    }

    [Fact]
    public async Task An_invalid_network_still_binds_so_that_only_NetGen_reports_errors()
    {
        const string source = """
            using NetGen;

            namespace App;

            [Network]
            [Input(784)]
            [Dense(0)]
            [SoftmaxCrossEntropy]
            public partial class Broken;

            public static class Use
            {
                public static float Train(float[] x, int[] y)
                {
                    var net = new Broken(maxBatchSize: 8, seed: 1);
                    net.Forward(x, new float[10]);
                    return net.TrainStep(x, y, new Sgd(0.1f));
                }
            }
            """;
        var (output, _) = TestCompiler.Generate(source);
        Assert.Empty(TestCompiler.CompilerProblems(output));
        Diagnostic d = Assert.Single(await TestCompiler.Analyze(source));
        Assert.Equal("NG9001", d.Id);
    }

    [Fact]
    public async Task Pragma_suppresses_a_warning()
    {
        string source = Net("[Input(4)]\n[Dense(3)]\n#pragma warning disable NG1002\n[Softmax]\n#pragma warning restore NG1002\n[SoftmaxCrossEntropy]");
        Assert.Empty(await TestCompiler.Analyze(source));
    }

    [Fact]
    public void Training_with_the_wrong_target_type_is_a_compile_error_that_says_why()
    {
        const string source = """
            using NetGen;

            namespace App;

            [Network]
            [Input(4)]
            [Dense(3)]
            [SoftmaxCrossEntropy]
            public partial class Classifier;

            [Network]
            [Input(4)]
            [Dense(3)]
            public partial class Encoder;

            public static class Use
            {
                public static void Train(float[] x, float[] t, int[] y)
                {
                    new Classifier(4).TrainStep(x, t, new Sgd(0.1f));
                    new Encoder(4).ComputeGradients(x, y);
                }
            }
            """;
        var (output, _) = TestCompiler.Generate(source);
        Diagnostic[] errors = TestCompiler.CompilerProblems(output).OrderBy(d => d.Location.SourceSpan.Start).ToArray();
        Assert.Equal(2, errors.Length);
        Assert.All(errors, e => Assert.Equal("CS0619", e.Id));
        Assert.Contains("Classifier is trained with int class labels: its loss is SoftmaxCrossEntropy.", errors[0].GetMessage());
        Assert.Contains("Encoder has no loss layer, so it cannot be trained; add one, e.g. [SoftmaxCrossEntropy], as its last layer.", errors[1].GetMessage());
    }

    [Fact]
    public void The_generator_never_throws_on_broken_source()
    {
        string[] broken =
        {
            "using NetGen; [Network][Input(null)][Dense(2)] partial class A;",
            "using NetGen; [Network][Input(\"x\")][Dense(units: \"y\")] partial class B;",
            "using NetGen; [Network][Dense(2, Activation = (Activation)42)][Input(3)] partial class C;",
            "using NetGen; [Network][Input(3)][LeakyReLU(double.NaN)][SoftmaxCrossEntropy] partial class D;",
            "using NetGen; [Network] partial class E;",
            "using NetGen; [Network][Input(3)][MeanSquaredError][BinaryCrossEntropy] partial class F<T>;",
            "using NetGen; [Network][Input(100000, 100000)][Dense(100000)] partial class G;",
        };
        foreach (string source in broken)
        {
            var (_, result) = TestCompiler.Generate(source);
            Assert.DoesNotContain(result.Diagnostics, d => d.Id == "NG9999");
        }
    }
}
