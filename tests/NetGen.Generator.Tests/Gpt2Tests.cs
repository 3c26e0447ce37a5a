using System.Text.RegularExpressions;

namespace NetGen.Generator.Tests;

/// <summary>
/// A GPT-2-small-shaped network (12 layers, 12 heads, 768 dimensions, context 1024, vocabulary
/// 50,257, tied output weights): it generates and compiles without warnings, has GPT-2 small's
/// 124,439,808 parameters, and nanoGPT's parameter names in named_parameters order.
/// </summary>
public class Gpt2Tests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// The declaration, read from benchmarks/NetGen.Benchmarks/Gpt2Small.cs, where the benchmarks
    /// construct and train it: one definition for both.
    /// </summary>
    private static string Gpt2Small() => File.ReadAllText(Path.GetFullPath(Path.Combine(TestCompiler.SourceDirectory(), "..", "..", "benchmarks", "NetGen.Benchmarks", "Gpt2Small.cs")));

    private static List<string> NanoGptParameters()
    {
        var names = new List<string> { "transformer.wte.weight", "transformer.wpe.weight" };
        for (int layer = 0; layer < 12; layer++)
        {
            foreach (string p in new[] { "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias" })
            {
                names.Add($"transformer.h.{layer}.{p}");
            }
        }

        names.Add("transformer.ln_f.weight");
        names.Add("transformer.ln_f.bias");
        return names;
    }

    [Fact]
    public void A_gpt2_small_generates_and_compiles_with_nanogpts_names_and_parameter_count()
    {
        string source = Gpt2Small();
        TestCompiler.Generate(source); // warm up the JIT on a compilation of its own
        long memory = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (compiled, result) = TestCompiler.Generate(source);
        clock.Stop();
        memory = GC.GetAllocatedBytesForCurrentThread() - memory;
        Assert.Empty(TestCompiler.CompilerProblems(compiled));
        string code = TestCompiler.GeneratedText(result, "NetGen.Benchmarks.Gpt2Small.g.cs");
        Assert.Contains("public const int ParameterCount = 124439808;", code); // GPT-2 small, tied: 124,439,808
        Assert.Contains("public const int Vocabulary = 50257;", code);
        Assert.Contains("public void Append(int token, global::System.Span<float> logits)", code);
        string layout = code[code.IndexOf("IReadOnlyList<global::NetGen.ParameterInfo> ParameterLayout { get; }", StringComparison.Ordinal)..].Split("});")[0];
        Assert.Equal(NanoGptParameters(), Regex.Matches(layout, "new\\(\"([^\"]+)\"").Select(m => m.Groups[1].Value));
        output.WriteLine($"GPT-2 small: generated {code.Length:N0} characters in {clock.Elapsed.TotalMilliseconds:F0} ms, {memory / 1e6:F0} MB allocated (a second, cold driver run on a new compilation, including parsing and binding).");
    }
}
