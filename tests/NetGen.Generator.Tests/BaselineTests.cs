using Microsoft.CodeAnalysis;

namespace NetGen.Generator.Tests;

/// <summary>
/// The generated code for representative networks, compared byte for byte with the approved
/// files in Baselines/. On a difference the test fails, writes <c>NAME.received.txt</c> beside
/// the baseline and shows the first differing line. Set NETGEN_UPDATE_BASELINES=1 to accept
/// the new output (then review the diff in git).
/// </summary>
public class BaselineTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly Xunit.Abstractions.ITestOutputHelper _output = output;

    public const string FashionMlp = """
        using NetGen;

        namespace Samples;

        [Network]
        [Input(784)]
        [Dense(128, Activation = Activation.ReLU)]
        [Dense(10)]
        [SoftmaxCrossEntropy]
        public partial class FashionMlp;
        """;

    public const string Regression = """
        using NetGen;

        namespace Samples.Regression;

        [Network]
        [Input(6)]
        [Dense(5)]
        [LeakyReLU(0.2)]
        [Dense(4, UseBias = false, Activation = Activation.Gelu)]
        [Tanh]
        [Dense(3)]
        [MeanSquaredError]
        internal partial class Regressor;
        """;

    public const string Sequence = """
        using NetGen;

        [Network]
        [Input(3, 4)]
        [Sigmoid]
        [Dense(2)]
        [BinaryCrossEntropy]
        partial class TokenTagger;
        """;

    public const string InferenceOnly = """
        using NetGen;

        namespace Samples;

        [Network]
        [Input(8)]
        [Dense(4, Activation = Activation.Softmax)]
        public partial class Encoder;
        """;

    public const string Regularized = """
        using NetGen;

        namespace Samples;

        [Network]
        [Input(784)]
        [Dense(256, L2 = 0.0001)]
        [BatchNorm]
        [ReLU]
        [Dropout(0.25)]
        [Dense(10)]
        [SoftmaxCrossEntropy]
        public partial class RegularizedMlp;
        """;

    public const string Cnn = """
        using NetGen;

        namespace Samples;

        [Network]
        [Input(1, 28, 28)]
        [Conv2D(16, 3, Padding = Padding.Same, UseBias = false)]
        [BatchNorm]
        [ReLU]
        [MaxPool2D(2)]
        [Conv2D(32, 3, Stride = 2, Activation = Activation.ReLU)]
        [AvgPool2D(2)]
        [Flatten]
        [Dense(10)]
        [SoftmaxCrossEntropy]
        public partial class FashionCnn;
        """;

    public const string Vgg = """
        using NetGen;

        namespace Samples;

        [Network]
        [Input(3, 32, 32)]
        [Conv2D(64, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [Conv2D(64, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [MaxPool2D(2)]
        [Conv2D(128, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [Conv2D(128, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [MaxPool2D(2)]
        [Conv2D(256, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [Conv2D(256, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [Conv2D(256, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [MaxPool2D(2)]
        [Conv2D(512, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [Conv2D(512, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [Conv2D(512, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [MaxPool2D(2)]
        [Conv2D(512, 3, Padding = Padding.Same, Activation = Activation.ReLU)]
        [MaxPool2D(2)]
        [Flatten]
        [Dense(512, Activation = Activation.ReLU)]
        [Dropout(0.5)]
        [Dense(10)]
        [SoftmaxCrossEntropy]
        public partial class Vgg11;
        """;

    public const string Residual = """
        using NetGen;

        namespace Samples;

        [Block]
        [Conv2D(8, 3, PaddingPixels = 1, UseBias = false)]
        [BatchNorm]
        [ReLU]
        [Conv2D(8, 3, PaddingPixels = 1, UseBias = false)]
        [BatchNorm]
        public partial class Basic;

        [Block]
        [Conv2D(16, 3, Stride = 2, PaddingPixels = 1, UseBias = false)]
        [BatchNorm]
        [ReLU]
        [Conv2D(16, 3, PaddingPixels = 1, UseBias = false)]
        [BatchNorm]
        public partial class BasicDown;

        [Block]
        [Conv2D(16, 1, Stride = 2, UseBias = false)]
        [BatchNorm]
        public partial class Project;

        [Network]
        [Input(1, 8, 8)]
        [Conv2D(8, 3, PaddingPixels = 1)]
        [Residual(typeof(Basic))]
        [ReLU]
        [Residual(typeof(BasicDown), Projection = typeof(Project))]
        [ReLU]
        [GlobalAveragePool]
        [Dense(10)]
        [SoftmaxCrossEntropy]
        public partial class TinyResNet;
        """;

    public const string Gpt = """
        using NetGen;

        namespace Samples;

        [Block]
        [LayerNorm(Name = "ln_1")]
        [MultiHeadAttention(2, Name = "attn", InitStd = 0.02, OutputInitStd = 0.01)]
        public partial class Attention;

        [Block]
        [LayerNorm(Name = "ln_2")]
        [Dense(32, Activation = Activation.GeluExact, Name = "mlp.c_fc", InitStd = 0.02)]
        [Dense(8, Name = "mlp.c_proj", InitStd = 0.01)]
        public partial class Mlp;

        [Block]
        [Residual(typeof(Attention), Name = "")]
        [Residual(typeof(Mlp), Name = "")]
        public partial class Decoder;

        [Network]
        [Input(4, Kind = InputKind.Tokens)]
        [Embedding(16, 8, Name = "transformer.wte", InitStd = 0.02)]
        [PositionalEmbedding(Name = "transformer.wpe", InitStd = 0.02)]
        [Repeat(typeof(Decoder), 2, Name = "transformer.h")]
        [LayerNorm(Name = "transformer.ln_f")]
        [Dense(16, UseBias = false, TiedTo = "transformer.wte", Name = "lm_head")]
        [SoftmaxCrossEntropy]
        public partial class TinyGpt;
        """;

    public const string Invalid = """
        using NetGen;

        namespace Samples;

        [Network]
        [Input(784)]
        [Dense(0)]
        [SoftmaxCrossEntropy]
        public partial class Broken;
        """;

    [Theory]
    [InlineData(nameof(FashionMlp), FashionMlp, "Samples.FashionMlp.g.cs")]
    [InlineData(nameof(Regression), Regression, "Samples.Regression.Regressor.g.cs")]
    [InlineData(nameof(Sequence), Sequence, "TokenTagger.g.cs")]
    [InlineData(nameof(InferenceOnly), InferenceOnly, "Samples.Encoder.g.cs")]
    [InlineData(nameof(Regularized), Regularized, "Samples.RegularizedMlp.g.cs")]
    [InlineData(nameof(Cnn), Cnn, "Samples.FashionCnn.g.cs")]
    [InlineData(nameof(Residual), Residual, "Samples.TinyResNet.g.cs")]
    [InlineData(nameof(Gpt), Gpt, "Samples.TinyGpt.g.cs")]
    [InlineData(nameof(Invalid), Invalid, "Samples.Broken.g.cs")]
    public void Generated_code_matches_the_approved_baseline_and_compiles_without_warnings(string name, string source, string hintName)
    {
        var (output, result) = TestCompiler.Generate(source);
        string generated = TestCompiler.GeneratedText(result, hintName);
        Assert.Empty(TestCompiler.CompilerProblems(output));
        Baseline.Verify(name, generated);
    }

    [Fact]
    public void A_vgg11_style_network_generates_and_compiles_and_the_time_is_reported()
    {
        // Warm the generator up, then time a cold driver on the eleven-convolution network.
        TestCompiler.Generate(FashionMlp);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (output, result) = TestCompiler.Generate(Vgg);
        clock.Stop();
        Assert.Empty(TestCompiler.CompilerProblems(output));
        string code = TestCompiler.GeneratedText(result, "Samples.Vgg11.g.cs");
        Assert.Contains("public const int ParameterCount = 10262858;", code);
        _output.WriteLine($"VGG-11 style network: generated {code.Length:N0} characters in {clock.Elapsed.TotalMilliseconds:F0} ms (driver run, including parsing and binding).");
    }

    [Fact]
    public void A_declaration_without_a_name_generates_nothing()
    {
        // While typing, the class name can be missing: the user's own syntax error is the one to
        // see, not errors inside a generated "partial class  :".
        var (output, result) = TestCompiler.Generate("using NetGen;\n\nnamespace App;\n\n[Network]\n[Input(4)]\n[Dense(2)]\npublic partial class\n{\n}\n");
        Assert.Empty(result.GeneratedSources);
        Assert.All(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error), d => Assert.False(d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal), d.ToString()));
    }

    [Fact]
    public void Output_is_stable_across_runs()
    {
        string first = TestCompiler.GeneratedText(TestCompiler.Generate(FashionMlp).Result, "Samples.FashionMlp.g.cs");
        string second = TestCompiler.GeneratedText(TestCompiler.Generate(FashionMlp).Result, "Samples.FashionMlp.g.cs");
        Assert.Equal(first, second);
    }
}

internal static class Baseline
{
    public static void Verify(string name, string actual)
    {
        string dir = Path.Combine(TestCompiler.SourceDirectory(), "Baselines");
        string approved = Path.Combine(dir, name + ".g.cs.txt");
        string received = Path.Combine(dir, name + ".received.txt");
        if (Environment.GetEnvironmentVariable("NETGEN_UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(approved, actual);
            File.Delete(received);
            return;
        }

        if (!File.Exists(approved))
        {
            File.WriteAllText(received, actual);
            Assert.Fail($"No approved baseline {approved}; the output was written to {received}. Review it and rerun with NETGEN_UPDATE_BASELINES=1.");
        }

        string expected = File.ReadAllText(approved);
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        File.WriteAllText(received, actual);
        string[] e = expected.Split('\n'), a = actual.Split('\n');
        int line = 0;
        while (line < e.Length && line < a.Length && e[line] == a[line])
        {
            line++;
        }

        Assert.Fail(
            $"{name}: the generated code differs from {approved} at line {line + 1}:\n" +
            $"- {(line < e.Length ? e[line] : "<end of file>")}\n" +
            $"+ {(line < a.Length ? a[line] : "<end of file>")}\n" +
            $"The whole output is in {received}; diff the two, and accept with NETGEN_UPDATE_BASELINES=1.");
    }
}
