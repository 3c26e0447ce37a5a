using System.Collections.Immutable;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using NetGen.CodeFixes;
using NetGen.SourceGenerators;

namespace NetGen.Generator.Tests;

/// <summary>The "Insert [Flatten]" fix for NG1007, applied through a real workspace; the result has no NG1007.</summary>
public class CodeFixTests
{
    private static async Task<string> Fix(string source)
    {
        using var workspace = new AdhocWorkspace();
        ProjectId projectId = ProjectId.CreateNewId();
        Solution solution = workspace.CurrentSolution
            .AddProject(projectId, "User", "User", LanguageNames.CSharp)
            .WithProjectCompilationOptions(projectId, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary))
            .WithProjectParseOptions(projectId, TestCompiler.ParseOptions)
            .AddMetadataReferences(projectId, Net100.References.All.Cast<MetadataReference>().Append(MetadataReference.CreateFromFile(typeof(NetworkAttribute).Assembly.Location)));
        DocumentId documentId = DocumentId.CreateNewId(projectId);
        solution = solution.AddDocument(documentId, "Net.cs", SourceText.From(source));
        Document document = solution.GetDocument(documentId)!;
        Compilation compilation = (await document.Project.GetCompilationAsync())!;
        ImmutableArray<Diagnostic> diagnostics = await compilation
            .WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NetworkAnalyzer()))
            .GetAnalyzerDiagnosticsAsync();
        Diagnostic ng1007 = Assert.Single(diagnostics, d => d.Id == "NG1007");

        var actions = new List<CodeAction>();
        var fix = new InsertFlattenCodeFix();
        await fix.RegisterCodeFixesAsync(new CodeFixContext(document, ng1007, (action, _) => actions.Add(action), CancellationToken.None));
        CodeAction only = Assert.Single(actions);
        Assert.Equal("Insert [Flatten]", only.Title);
        ImmutableArray<CodeActionOperation> operations = await only.GetOperationsAsync(CancellationToken.None);
        Solution changed = operations.OfType<ApplyChangesOperation>().Single().ChangedSolution;
        string fixedText = (await changed.GetDocument(documentId)!.GetTextAsync()).ToString();

        // The fixed network has no NG1007 any more.
        Assert.DoesNotContain(await TestCompiler.Analyze(fixedText), d => d.Id == "NG1007");
        return fixedText;
    }

    [Fact]
    public async Task Inserts_a_flatten_line_above_dense_keeping_indentation_and_comments()
    {
        const string before = """
            using NetGen;

            namespace App
            {
                [Network]
                [Input(1, 8, 8)]
                [Conv2D(4, 3)]
                // the classifier
                [Dense(10)]
                public partial class Net;
            }
            """;
        const string after = """
            using NetGen;

            namespace App
            {
                [Network]
                [Input(1, 8, 8)]
                [Conv2D(4, 3)]
                // the classifier
                [Flatten]
                [Dense(10)]
                public partial class Net;
            }
            """;
        Assert.Equal(after.ReplaceLineEndings(), (await Fix(before)).ReplaceLineEndings());
    }

    [Fact]
    public async Task Inserts_into_a_shared_attribute_list_and_keeps_qualification()
    {
        const string before = "[NetGen.Network, NetGen.Input(1, 8, 8), NetGen.Conv2D(4, 3), NetGen.Dense(10)]\npublic partial class Net;\n";
        const string after = "[NetGen.Network, NetGen.Input(1, 8, 8), NetGen.Conv2D(4, 3), NetGen.Flatten, NetGen.Dense(10)]\npublic partial class Net;\n";
        Assert.Equal(after, await Fix(before));
    }
}
