namespace NetGen.Tests;

/// <summary>The README's C# cannot rot: every ```csharp block's lines are lines of ReadmeSnippets.cs, which compiles.</summary>
public class ReadmeTests
{
    private static string Root() => Path.GetFullPath(Path.Combine(
        typeof(ReadmeTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "SourceDirectory").Value!,
        "..",
        ".."));

    [Fact]
    public void Every_csharp_block_of_the_readme_is_compiled_in_the_snippets_file()
    {
        string[] readme = File.ReadAllLines(Path.Combine(Root(), "README.md"));
        string[] compiled = File.ReadAllLines(Path.Combine(Root(), "tests", "NetGen.Tests", "ReadmeSnippets.cs")).Select(l => l.Trim()).ToArray();
        int blocks = 0;
        for (int i = 0; i < readme.Length; i++)
        {
            if (readme[i].Trim() != "```csharp")
            {
                continue;
            }

            blocks++;
            int at = 0;
            for (i++; i < readme.Length && readme[i].Trim() != "```"; i++)
            {
                string line = readme[i].Trim();
                if (line.Length == 0)
                {
                    continue;
                }

                int found = Array.IndexOf(compiled, line, at);
                Assert.True(found >= 0, $"README.md line {i + 1} is not in ReadmeSnippets.cs (after line {at + 1}): {line}");
                at = found + 1;
            }
        }

        Assert.True(blocks >= 5, $"only {blocks} C# blocks found");
    }
}
