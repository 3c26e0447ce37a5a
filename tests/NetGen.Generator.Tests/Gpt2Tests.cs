using System.Text.RegularExpressions;

namespace NetGen.Generator.Tests;

/// <summary>
/// A GPT-2-small-shaped network (12 layers, 12 heads, 768 dimensions, context 1024, vocabulary
/// 50,257, tied output weights): it generates and compiles without warnings, has GPT-2 small's
/// 124,439,808 parameters, and nanoGPT's parameter names in named_parameters order.
/// </summary>
public class Gpt2Tests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The declaration (also in benchmarks/NetGen.Benchmarks/Gpt2Small.cs, where it runs).</summary>
    public const string Gpt2Small = """
        using NetGen;

        namespace Models;

        [Block]
        [LayerNorm(Name = "ln_1")]
        [MultiHeadAttention(12, Name = "attn", InitStd = 0.02, OutputInitStd = 0.0040824829)]
        public partial class Gpt2Attention;

        [Block]
        [LayerNorm(Name = "ln_2")]
        [Dense(3072, Activation = Activation.Gelu, Name = "mlp.c_fc", InitStd = 0.02)]
        [Dense(768, Name = "mlp.c_proj", InitStd = 0.0040824829)]
        public partial class Gpt2Mlp;

        [Block]
        [Residual(typeof(Gpt2Attention), Name = "")]
        [Residual(typeof(Gpt2Mlp), Name = "")]
        public partial class Gpt2Block;

        [Network]
        [Input(1024, Kind = InputKind.Tokens)]
        [Embedding(50257, 768, Name = "transformer.wte", InitStd = 0.02)]
        [PositionalEmbedding(Name = "transformer.wpe", InitStd = 0.01)]
        [Repeat(typeof(Gpt2Block), 12, Name = "transformer.h")]
        [LayerNorm(Name = "transformer.ln_f")]
        [Dense(50257, UseBias = false, TiedTo = "transformer.wte", Name = "lm_head")]
        [SoftmaxCrossEntropy]
        public partial class Gpt2Small;
        """;

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
        TestCompiler.Generate(Gpt2Small); // warm up the JIT on a compilation of its own
        long memory = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (compiled, result) = TestCompiler.Generate(Gpt2Small);
        clock.Stop();
        memory = GC.GetAllocatedBytesForCurrentThread() - memory;
        Assert.Empty(TestCompiler.CompilerProblems(compiled));
        string code = TestCompiler.GeneratedText(result, "Models.Gpt2Small.g.cs");
        Assert.Contains("public const int ParameterCount = 124439808;", code); // GPT-2 small, tied: 124,439,808
        Assert.Contains("public const int Vocabulary = 50257;", code);
        Assert.Contains("public void Append(int token, global::System.Span<float> logits)", code);
        string layout = code[code.IndexOf("IReadOnlyList<global::NetGen.ParameterInfo> ParameterLayout { get; }", StringComparison.Ordinal)..].Split("});")[0];
        Assert.Equal(NanoGptParameters(), Regex.Matches(layout, "new\\(\"([^\"]+)\"").Select(m => m.Groups[1].Value));
        output.WriteLine($"GPT-2 small: generated {code.Length:N0} characters in {clock.Elapsed.TotalMilliseconds:F0} ms, {memory / 1e6:F0} MB allocated (a second, cold driver run on a new compilation, including parsing and binding).");
    }
}
