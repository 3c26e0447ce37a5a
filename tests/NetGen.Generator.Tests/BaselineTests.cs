using Microsoft.CodeAnalysis;

namespace NetGen.Generator.Tests;

/// <summary>
/// The generated code for representative networks, compared byte for byte with the approved
/// files in Baselines/. On a difference the test fails, writes <c>NAME.received.txt</c> beside
/// the baseline and shows the first differing line. Set NETGEN_UPDATE_BASELINES=1 to accept
/// the new output (then review the diff in git).
/// </summary>
public class BaselineTests
{
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
    [InlineData(nameof(Invalid), Invalid, "Samples.Broken.g.cs")]
    public void Generated_code_matches_the_approved_baseline_and_compiles_without_warnings(string name, string source, string hintName)
    {
        var (output, result) = TestCompiler.Generate(source);
        string generated = TestCompiler.GeneratedText(result, hintName);
        Assert.Empty(TestCompiler.CompilerProblems(output));
        Baseline.Verify(name, generated);
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
