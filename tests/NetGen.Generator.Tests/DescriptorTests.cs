using NetGen.SourceGenerators;

namespace NetGen.Generator.Tests;

/// <summary>Every diagnostic has a documentation page, a release-tracking entry and a help link.</summary>
public class DescriptorTests
{
    private static string Root => Path.GetFullPath(Path.Combine(TestCompiler.SourceDirectory(), "..", ".."));

    public static TheoryData<string> Ids()
    {
        var ids = new TheoryData<string>();
        foreach (var d in DiagnosticDescriptors.AnalyzerDescriptors)
        {
            ids.Add(d.Id);
        }

        ids.Add(DiagnosticDescriptors.GeneratorFailure.Id);
        return ids;
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Each_diagnostic_is_documented_and_tracked(string id)
    {
        string page = Path.Combine(Root, "docs", "diagnostics", id + ".md");
        Assert.True(File.Exists(page), $"missing {page}");
        Assert.StartsWith($"# {id}: ", File.ReadAllText(page));
        string releases = File.ReadAllText(Path.Combine(Root, "src", "NetGen.SourceGenerators", "AnalyzerReleases.Unshipped.md"));
        Assert.Contains($"\n{id} |", releases);
        Assert.Contains($"[{id}](docs/diagnostics/{id}.md)", File.ReadAllText(Path.Combine(Root, "README.md")));
    }
}
