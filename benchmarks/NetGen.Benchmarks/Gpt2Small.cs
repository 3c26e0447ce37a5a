// GPT-2 small's shape. tests/NetGen.Generator.Tests/Gpt2Tests.cs reads this file and checks its
// names, size and generated code; Transformer.cs (Gpt2Scale) constructs and trains it.
using NetGen;

namespace NetGen.Benchmarks;

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
