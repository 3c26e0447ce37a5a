using System.Text;
using System.Text.RegularExpressions;

namespace NetGen.Generator.Tests;

/// <summary>
/// A ResNet-50-shaped network (bottleneck blocks 3-4-6-3, 224x224x3) written with blocks and
/// names: it generates and compiles without warnings, has torchvision's resnet50 parameter count,
/// and its parameter and state names are torchvision's state_dict keys, in named_parameters order.
/// </summary>
public class ResNetTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly int[] Depths = { 3, 4, 6, 3 };
    private static readonly int[] Widths = { 64, 128, 256, 512 };

    /// <summary>The declaration, as a user reproducing torchvision.models.resnet50 would write it.</summary>
    public static string ResNet50()
    {
        var s = new StringBuilder("using NetGen;\n\nnamespace Models;\n\n");
        foreach (int width in Widths)
        {
            int stride = width == 64 ? 1 : 2;
            foreach ((string suffix, int s2) in new[] { ("", 1), ("Down", stride) })
            {
                s.Append($"""
                    [Block]
                    [Conv2D({width}, 1, UseBias = false, Name = "conv1")]
                    [BatchNorm(Name = "bn1")]
                    [ReLU(Name = "relu")]
                    [Conv2D({width}, 3, Stride = {s2}, PaddingPixels = 1, UseBias = false, Name = "conv2")]
                    [BatchNorm(Name = "bn2")]
                    [ReLU(Name = "relu2")]
                    [Conv2D({4 * width}, 1, UseBias = false, Name = "conv3")]
                    [BatchNorm(Name = "bn3")]
                    public partial class Bottleneck{width}{suffix};


                    """);
            }

            s.Append($"""
                [Block]
                [Conv2D({4 * width}, 1, Stride = {stride}, UseBias = false, Name = "0")]
                [BatchNorm(Name = "1")]
                public partial class Downsample{width};


                """);
        }

        s.Append("""
            [Network]
            [Input(3, 224, 224)]
            [Conv2D(64, 7, Stride = 2, PaddingPixels = 3, UseBias = false, Name = "conv1")]
            [BatchNorm(Name = "bn1")]
            [ReLU(Name = "relu")]
            [MaxPool2D(3, Stride = 2, PaddingPixels = 1, Name = "maxpool")]

            """);
        for (int stage = 0; stage < 4; stage++)
        {
            for (int b = 0; b < Depths[stage]; b++)
            {
                string name = $"layer{stage + 1}.{b}";
                s.Append(b == 0
                    ? $"[Residual(typeof(Bottleneck{Widths[stage]}Down), Projection = typeof(Downsample{Widths[stage]}), Name = \"{name}\")]\n"
                    : $"[Residual(typeof(Bottleneck{Widths[stage]}), Name = \"{name}\")]\n");
                s.Append($"[ReLU(Name = \"{name}.relu3\")]\n");
            }
        }

        s.Append("""
            [GlobalAveragePool(Name = "avgpool")]
            [Dense(1000, Name = "fc")]
            [SoftmaxCrossEntropy]
            public partial class ResNet50;

            """);
        return s.ToString();
    }

    /// <summary>torchvision's resnet50 parameter names, in named_parameters() order.</summary>
    private static List<string> TorchvisionParameters(bool state)
    {
        string[] bn = state ? new[] { "running_mean", "running_var" } : new[] { "weight", "bias" };
        var names = new List<string>();
        void Conv(string n)
        {
            if (!state)
            {
                names.Add(n + ".weight");
            }
        }

        void Bn(string n) => names.AddRange(bn.Select(p => n + "." + p));
        Conv("conv1");
        Bn("bn1");
        for (int stage = 0; stage < 4; stage++)
        {
            for (int b = 0; b < Depths[stage]; b++)
            {
                string block = $"layer{stage + 1}.{b}";
                for (int k = 1; k <= 3; k++)
                {
                    Conv($"{block}.conv{k}");
                    Bn($"{block}.bn{k}");
                }

                if (b == 0)
                {
                    Conv($"{block}.downsample.0");
                    Bn($"{block}.downsample.1");
                }
            }
        }

        if (!state)
        {
            names.Add("fc.weight");
            names.Add("fc.bias");
        }

        return names;
    }

    private static List<string> Layout(string code, string property) =>
        Regex.Matches(code[code.IndexOf($"IReadOnlyList<global::NetGen.ParameterInfo> {property} {{ get; }}", StringComparison.Ordinal)..].Split("});")[0], "new\\(\"([^\"]+)\"")
            .Select(m => m.Groups[1].Value).ToList();

    [Fact]
    public void A_resnet50_generates_and_compiles_with_torchvisions_names_and_parameter_count()
    {
        string source = ResNet50();
        TestCompiler.Generate(source); // warm up: the JIT, on a compilation of its own
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (compiled, result) = TestCompiler.Generate(source);
        clock.Stop();
        Assert.Empty(TestCompiler.CompilerProblems(compiled));
        string code = TestCompiler.GeneratedText(result, "Models.ResNet50.g.cs");
        Assert.Contains("public const int ParameterCount = 25557032;", code); // torchvision.models.resnet50: 25,557,032
        Assert.Equal(TorchvisionParameters(state: false), Layout(code, "ParameterLayout"));
        Assert.Equal(TorchvisionParameters(state: true), Layout(code, "StateLayout"));
        output.WriteLine($"ResNet-50: generated {code.Length:N0} characters in {clock.Elapsed.TotalMilliseconds:F0} ms (a second, cold driver run on a new compilation, including parsing and binding).");
    }
}
