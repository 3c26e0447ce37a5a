using System.Collections.Immutable;
using System.Reflection;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using NetGen.SourceGenerators;

namespace NetGen.Generator.Tests;

/// <summary>Compiles sources in memory against .NET 10 and NetGen, runs the generator and the analyzer.</summary>
internal static class TestCompiler
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Preview);

    private static readonly ImmutableArray<MetadataReference> References = Net100.References.All
        .Cast<MetadataReference>()
        .Append(MetadataReference.CreateFromFile(typeof(NetworkAttribute).Assembly.Location))
        .ToImmutableArray();

    public static CSharpCompilation Compilation(params string[] sources) => CSharpCompilation.Create(
        "UserAssembly",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"User{i}.cs")),
        References,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver() => CSharpGeneratorDriver.Create(
        new[] { new NetworkGenerator().AsSourceGenerator() },
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns the updated compilation and the generated sources by hint name.</summary>
    public static (Compilation Output, GeneratorRunResult Result) Generate(params string[] sources)
    {
        GeneratorDriver driver = Driver().RunGeneratorsAndUpdateCompilation(Compilation(sources), out Compilation output, out _);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        return (output, result);
    }

    public static string GeneratedText(GeneratorRunResult result, string hintName) =>
        result.GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

    /// <summary>
    /// The code generated for <c>[Network]</c> with <paramref name="layers"/> on <c>Models.Net</c>
    /// (after <paramref name="blocks"/>, any block classes it uses), checked to compile without a warning.
    /// </summary>
    public static string GenerateNet(string layers, string blocks = "")
    {
        string source = $$"""
            using NetGen;

            namespace Models;

            {{blocks}}

            [Network]
            {{layers}}
            public partial class Net;
            """;
        var (compiled, result) = Generate(source);
        Assert.Empty(CompilerProblems(compiled));
        return GeneratedText(result, "Models.Net.g.cs");
    }

    /// <summary>The analyzer's diagnostics, in source order.</summary>
    public static async Task<ImmutableArray<Diagnostic>> Analyze(params string[] sources)
    {
        var (output, _) = Generate(sources);
        ImmutableArray<Diagnostic> all = await output
            .WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer()))
            .GetAnalyzerDiagnosticsAsync();
        return all.OrderBy(d => d.Location.SourceSpan.Start).ToImmutableArray();
    }

    /// <summary>Compiler errors and warnings of the generated output (user code included).</summary>
    public static ImmutableArray<Diagnostic> CompilerProblems(Compilation output) =>
        output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();

    /// <summary>This project's source directory, recorded at build time.</summary>
    public static string SourceDirectory() => typeof(TestCompiler).Assembly
        .GetCustomAttributes<System.Reflection.AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SourceDirectory").Value!;
}
