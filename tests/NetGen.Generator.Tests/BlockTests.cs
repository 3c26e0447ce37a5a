using System.Collections.Immutable;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NetGen.SourceGenerators;

namespace NetGen.Generator.Tests;

/// <summary>
/// Blocks, [Residual] and [Repeat]: their diagnostics at exact locations, a shape error inside a
/// block reported at the use with the block's attribute beside it, every independent argument
/// error reported, and the pipeline's caching when a block changes.
/// </summary>
public class BlockTests
{
    private const string Branch = """
        [Block]
        [Dense(8, Activation = Activation.ReLU)]
        [Dense(8)]
        public partial class Branch;

        """;

    private static string Source(string body) => "using NetGen;\n\nnamespace App;\n\n" + body + "\n";

    private static string Message(Diagnostic d) => d.GetMessage(CultureInfo.InvariantCulture);

    private static string Text(string source, Location location) => source.Substring(location.SourceSpan.Start, location.SourceSpan.Length);

    private static async Task<Diagnostic> Single(string source, string id, string underlined, string message)
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompiler.Analyze(source);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(message, Message(d));
        Assert.Equal(underlined, Text(source, d.Location));
        return d;
    }

    [Fact]
    public async Task Valid_residual_and_repeated_networks_have_no_diagnostics_and_compile_without_warnings()
    {
        string source = Source(Branch + """
            [Block]
            [Residual(typeof(Branch), Name = "")]
            [ReLU]
            public partial class Unit;

            [Network]
            [Input(8)]
            [Residual(typeof(Branch))]
            [Repeat(typeof(Unit), 2, Name = "units")]
            [Dense(2)]
            [SoftmaxCrossEntropy]
            public partial class Net;
            """);
        Assert.Empty(await TestCompiler.Analyze(source));
        var (output, result) = TestCompiler.Generate(source);
        Assert.Empty(TestCompiler.CompilerProblems(output));
        string code = TestCompiler.GeneratedText(result, "App.Net.g.cs");
        Assert.Contains("new(\"residual1.dense2.bias\"", code);
        Assert.Contains("new(\"units.1.dense1.weight\"", code);
        Assert.Single(result.GeneratedSources);
    }

    [Fact]
    public async Task NG0008_a_cycle_is_reported_on_each_block_in_it_and_nothing_loops()
    {
        string source = Source("""
            [Block]
            [Dense(8)]
            [Residual(typeof(B))]
            public partial class A;

            [Block]
            [Repeat(typeof(A), 2)]
            public partial class B;

            [Network]
            [Input(8)]
            [Residual(typeof(A))]
            public partial class Net;
            """);
        ImmutableArray<Diagnostic> diagnostics = await TestCompiler.Analyze(source);
        Assert.Equal(new[] { "NG0008", "NG0008" }, diagnostics.Select(d => d.Id));
        Assert.Equal("Residual(B) at layer 1 of block 'A' makes block 'A' use itself (A -> B -> A); a block cannot contain itself", Message(diagnostics[0]));
        Assert.Equal("Residual(typeof(B))", Text(source, diagnostics[0].Location));
        Assert.Equal("Repeat(A, 2) at layer 0 of block 'B' makes block 'B' use itself (B -> A -> B); a block cannot contain itself", Message(diagnostics[1]));
        Assert.Equal("Repeat(typeof(A), 2)", Text(source, diagnostics[1].Location));

        // The network that uses the cycle gets the surface of an invalid network, and the build stops on NG0008 alone.
        var (output, result) = TestCompiler.Generate(source);
        Assert.Empty(TestCompiler.CompilerProblems(output));
        Assert.Contains("NetGen could not generate Net", TestCompiler.GeneratedText(result, "App.Net.g.cs"));
    }

    [Fact]
    public Task NG0009_a_residual_of_a_class_that_is_not_a_block() => Single(
        Source("public partial class Plain;\n\n[Network]\n[Input(8)]\n[Residual(typeof(Plain))]\npublic partial class Net;"),
        "NG0009", "Residual(typeof(Plain))", "Residual(Plain) at layer 1 uses 'Plain', which is not a [Block]; mark it with [Block], or use a class that has it");

    [Fact]
    public Task NG0009_a_projection_that_is_not_a_block() => Single(
        Source(Branch + "public partial class Plain;\n\n[Network]\n[Input(8)]\n[Residual(typeof(Branch), Projection = typeof(Plain))]\npublic partial class Net;"),
        "NG0009", "Residual(typeof(Branch), Projection = typeof(Plain))", "Residual(Branch, Projection = Plain) at layer 1 uses 'Plain', which is not a [Block]; mark it with [Block], or use a class that has it");

    [Fact]
    public Task NG0010_an_input_inside_a_block() => Single(
        Source("[Block]\n[Input(8)]\n[Dense(8)]\npublic partial class Bad;"),
        "NG0010", "Input(8)", "Input(8) at layer 0 of block 'Bad' cannot be part of a block: a block's input shape comes from where it is used");

    [Fact]
    public Task NG0010_a_loss_inside_a_block() => Single(
        Source("[Block]\n[Dense(8)]\n[MeanSquaredError]\npublic partial class Bad;"),
        "NG0010", "MeanSquaredError", "MeanSquaredError at layer 1 of block 'Bad' cannot be part of a block: the loss belongs to the network that uses the block");

    [Fact]
    public Task NG0011_two_layers_with_one_name() => Single(
        Source("[Network]\n[Input(8)]\n[Dense(8, Name = \"fc\")]\n[Dense(4, Name = \"fc\")]\npublic partial class Net;"),
        "NG0011", "Dense(4, Name = \"fc\")", "Dense(4) at layer 2 is named 'fc', as another layer beside it; names must be unique (they name the parameters in saved files)");

    [Fact]
    public Task NG0011_two_uses_of_a_block_with_one_name() => Single(
        Source(Branch + "[Network]\n[Input(8)]\n[Residual(typeof(Branch), Name = \"block\")]\n[Residual(typeof(Branch), Name = \"block\")]\npublic partial class Net;"),
        "NG0011", "Residual(typeof(Branch), Name = \"block\")", "Residual(Branch) at layer 2 is named 'block', as another layer beside it; names must be unique (they name the parameters in saved files)");

    private const string DownBranch = """
        [Block]
        [Conv2D(32, 3, Stride = 2, PaddingPixels = 1, UseBias = false)]
        [BatchNorm]
        [ReLU]
        [Conv2D(32, 3, Padding = Padding.Same, UseBias = false)]
        [BatchNorm]
        public partial class Down;

        """;

    [Fact]
    public Task NG1009_a_residual_branch_that_changes_the_shape_without_a_projection() => Single(
        Source(DownBranch + "[Network]\n[Input(16, 28, 28)]\n[Residual(typeof(Down))]\npublic partial class Net;"),
        "NG1009", "Residual(typeof(Down))", "Residual(Down) at layer 1: block 'Down' maps [16, 28, 28] to [32, 14, 14], which cannot be added to its input; give the shortcut a projection that maps [16, 28, 28] to [32, 14, 14] (Projection = typeof(...), e.g. a 1x1 Conv2D with the block's stride and filters, then BatchNorm)");

    [Fact]
    public Task NG1010_a_projection_that_gives_another_shape() => Single(
        Source(DownBranch + "[Block]\n[Conv2D(32, 1)]\npublic partial class Project;\n\n[Network]\n[Input(16, 28, 28)]\n[Residual(typeof(Down), Projection = typeof(Project))]\npublic partial class Net;"),
        "NG1010", "Residual(typeof(Down), Projection = typeof(Project))", "Residual(Down, Projection = Project) at layer 1: the projection 'Project' maps [16, 28, 28] to [32, 28, 28], but block 'Down' gives [32, 14, 14]; both must give the same shape to be added");

    [Fact]
    public async Task A_shape_error_inside_a_block_is_reported_at_the_use_with_the_blocks_attribute_beside_it()
    {
        string source = Source("[Block]\n[Conv2D(4, 3)]\npublic partial class ConvBranch;\n\n[Network]\n[Input(8)]\n[Dense(8)]\n[Residual(typeof(ConvBranch), Name = \"stage\")]\npublic partial class Net;");
        Diagnostic d = await Single(
            source,
            "NG1008",
            "Residual(typeof(ConvBranch), Name = \"stage\")",
            "Conv2D(4, 3) at layer 0 of block 'ConvBranch' (stage) needs a [C, H, W] input but receives [8] (8 values); a vector has no height and width: for images give [Input(channels, height, width)]");
        Assert.Equal("Conv2D(4, 3)", Text(source, Assert.Single(d.AdditionalLocations)));
    }

    [Theory]
    [InlineData("[Repeat(typeof(Branch), 0)]", "Repeat(Branch, 0) at layer 1: count must be positive, but is 0")]
    [InlineData("[Dense(8, Name = \"a b\")]", "Dense(8) at layer 1: Name \"a b\" must be dot-separated segments of letters, digits and underscores, as a PyTorch module path")]
    [InlineData("[Dense(8, Name = \"\")]", "Dense(8) at layer 1: Name is empty; only a [Residual] may have an empty name (its layers then join the enclosing scope)")]
    public async Task NG9001_invalid_block_arguments(string layer, string message)
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompiler.Analyze(Source(Branch + "[Network]\n[Input(8)]\n" + layer + "\npublic partial class Net;"));
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("NG9001", d.Id);
        Assert.Equal(message, Message(d));
    }

    [Fact]
    public async Task Every_independent_argument_error_is_reported()
    {
        string source = Source("[Network]\n[Input(8)]\n[Dense(0)]\n[Dropout(1.5)]\n[LeakyReLU(-1)]\n[Dense(2)]\npublic partial class Net;");
        ImmutableArray<Diagnostic> diagnostics = await TestCompiler.Analyze(source);
        Assert.Equal(new[] { "Dense(0)", "Dropout(1.5)", "LeakyReLU(-1)" }, diagnostics.Select(d => Text(source, d.Location)));
        Assert.All(diagnostics, d => Assert.Equal("NG9001", d.Id));
    }

    [Fact]
    public void Editing_a_block_regenerates_the_networks_that_use_it_and_only_those()
    {
        string blockFile = Source(Branch);
        string user = Source("[Network]\n[Input(8)]\n[Residual(typeof(Branch))]\n[Dense(2)]\n[SoftmaxCrossEntropy]\npublic partial class Net;");
        Compilation compilation = TestCompiler.Compilation(blockFile, user, BaselineTests.FashionMlp);
        GeneratorDriver driver = TestCompiler.Driver().RunGenerators(compilation);

        SyntaxTree old = compilation.SyntaxTrees.First();
        Compilation edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(blockFile.Replace("[Dense(8)]", "[Dense(8, UseBias = false)]"), TestCompiler.ParseOptions, old.FilePath));
        GeneratorRunResult second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        var plans = second.TrackedSteps[TrackingNames.Plans].SelectMany(s => s.Outputs).ToArray();
        Assert.Equal(2, plans.Length);
        Assert.Contains(plans, o => o.Reason == IncrementalStepRunReason.Modified && ((PlanResult)o.Value).Name == "Net");
        Assert.Contains(plans, o => o.Reason == IncrementalStepRunReason.Unchanged && ((PlanResult)o.Value).Name == "FashionMlp");
        Assert.DoesNotContain("residual1.dense2.bias", second.GeneratedSources.Single(s => s.HintName == "App.Net.g.cs").SourceText.ToString());

        // An edit elsewhere leaves every step and output cached.
        const string unrelated = "namespace App; public static class Helper { public static int Twice(int x) => 2 * x; }";
        compilation = TestCompiler.Compilation(blockFile, user, BaselineTests.FashionMlp, unrelated);
        driver = TestCompiler.Driver().RunGenerators(compilation);
        old = compilation.SyntaxTrees.Last();
        edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(unrelated.Replace("2 * x", "x + x"), TestCompiler.ParseOptions, old.FilePath));
        second = driver.RunGenerators(edited).GetRunResult().Results.Single();
        Assert.All(second.TrackedSteps[TrackingNames.Plans].SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        Assert.All(second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void A_user_member_named_like_anything_the_generator_uses_privately_still_compiles()
    {
        // Every name the generator used to put in the user's class, and the names of the
        // per-layer members it writes now (inside the nested implementation class).
        string[] names =
        {
            "P", "G", "A", "D", "S", "W", "I", "Input", "Probabilities", "Columns", "ScratchSize", "ActivationsPerSample",
            "GradientsPerSample", "IndicesPerSample", "ForwardPass", "BackwardPass", "Dense1Forward", "Dense1Backward",
            "Dense1Weight", "Dense1Bias", "Dense1Out", "Residual1Add", "Residual1AddForward", "Conv1Window", "Maxpool1Argmax",
            "Batchnorm1Scratch", "Batchnorm1RunningMean", "_parameters", "_gradients", "_state", "_scratch", "_activations",
            "_activationGradients", "_indices", "_lastBatch", "GenerationError", "random",
        };
        string members = string.Join("\n", names.Select(n => $"    private const int {n} = 1;"))
            + "\n    public int Use() => " + string.Join(" + ", names) + ";";
        string source = Source(Branch.Replace("[Dense(8)]", "[Dense(8)]\n[Dense(4, Name = \"dense1\")]\n[Dense(8)]") + $$"""
            [Block]
            [Dense(4)]
            public partial class Small;

            [Network]
            [Input(2, 8, 8)]
            [Conv2D(4, 3)]
            [BatchNorm]
            [MaxPool2D(2)]
            [Flatten]
            [Dense(8)]
            [Residual(typeof(Small), Projection = typeof(Small))]
            [Dropout(0.5)]
            [Dense(2)]
            [SoftmaxCrossEntropy]
            public partial class Net
            {
            {{members}}
            }
            """);
        var (output, result) = TestCompiler.Generate(source);
        Assert.True(TestCompiler.CompilerProblems(output).IsEmpty, string.Join("\n", TestCompiler.CompilerProblems(output)));
        Assert.Contains("private sealed class __NetGen", TestCompiler.GeneratedText(result, "App.Net.g.cs"));
    }
}
