using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NetGen.SourceGenerators;

namespace NetGen.Generator.Tests;

/// <summary>
/// The pipeline caches: an unrelated edit leaves every tracked step and output Cached or
/// Unchanged, a real change to the layers is Modified, and no Roslyn object (symbol, syntax
/// node, location, compilation) survives into a step's output.
/// </summary>
public class IncrementalityTests
{
    private const string Unrelated = "namespace App; public static class Helper { public static int Twice(int x) => 2 * x; }";

    private static (GeneratorDriver Driver, Compilation Compilation) FirstRun(params string[] sources)
    {
        Compilation compilation = TestCompiler.Compilation(sources);
        GeneratorDriver driver = TestCompiler.Driver().RunGenerators(compilation);
        return (driver, compilation);
    }

    private static GeneratorRunResult Rerun(GeneratorDriver driver, Compilation compilation) =>
        driver.RunGenerators(compilation).GetRunResult().Results.Single();

    private static IncrementalStepRunReason[] Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    private static IncrementalStepRunReason[] OutputReasons(GeneratorRunResult result) =>
        result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    [Fact]
    public void A_clone_of_the_compilation_is_served_from_the_cache()
    {
        var (driver, compilation) = FirstRun(BaselineTests.FashionMlp, BaselineTests.Regression);
        GeneratorRunResult second = Rerun(driver, compilation.Clone());
        Assert.All(Reasons(second, TrackingNames.Networks), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(OutputReasons(second), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void An_unrelated_file_edit_changes_nothing()
    {
        var (driver, compilation) = FirstRun(BaselineTests.FashionMlp, Unrelated);
        SyntaxTree old = compilation.SyntaxTrees.Last();
        Compilation edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(Unrelated.Replace("2 * x", "x + x"), TestCompiler.ParseOptions, old.FilePath));
        GeneratorRunResult second = Rerun(driver, edited);
        Assert.All(Reasons(second, TrackingNames.Networks), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(OutputReasons(second), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void A_comment_in_the_network_file_leaves_the_output_unchanged()
    {
        var (driver, compilation) = FirstRun(BaselineTests.FashionMlp);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        Compilation edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(BaselineTests.FashionMlp.Replace("[Dense(10)]", "[Dense(10)] // ten classes"), TestCompiler.ParseOptions, old.FilePath));
        GeneratorRunResult second = Rerun(driver, edited);
        Assert.All(Reasons(second, TrackingNames.Networks), r => Assert.Contains(r, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged }));
        Assert.All(OutputReasons(second), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void Changing_a_layer_width_regenerates()
    {
        var (driver, compilation) = FirstRun(BaselineTests.FashionMlp);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        Compilation edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(BaselineTests.FashionMlp.Replace("Dense(128", "Dense(64"), TestCompiler.ParseOptions, old.FilePath));
        GeneratorRunResult second = Rerun(driver, edited);
        Assert.Equal(new[] { IncrementalStepRunReason.Modified }, Reasons(second, TrackingNames.Networks));
        Assert.Contains("public const int ParameterCount = 50890;", second.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void No_roslyn_object_survives_into_a_step_output()
    {
        var (driver, _) = FirstRun(BaselineTests.FashionMlp, BaselineTests.Regression, BaselineTests.Invalid);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        foreach (IncrementalGeneratorRunStep step in result.TrackedSteps[TrackingNames.Networks])
        {
            foreach ((object value, _) in step.Outputs)
            {
                AssertNoRoslynObjects(value, new HashSet<object>(ReferenceEqualityComparer.Instance), "output");
            }
        }
    }

    private static void AssertNoRoslynObjects(object? value, HashSet<object> seen, string path)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
        {
            return;
        }

        Type type = value.GetType();
        Assert.False(
            value is ISymbol || value is SyntaxNode || value is Location || value is Compilation || value is SemanticModel || value is SyntaxTree,
            $"{path} is a {type.Name}, a Roslyn object that defeats caching");
        Assert.True(type.Namespace?.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) != true, $"{path} is {type.FullName}");
        if (value is IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items)
            {
                AssertNoRoslynObjects(item, seen, $"{path}[{i++}]");
            }

            return;
        }

        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            AssertNoRoslynObjects(field.GetValue(value), seen, path + "." + field.Name);
        }
    }
}
