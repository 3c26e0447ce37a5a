using NetGen;

namespace TangGpt;

// nanoGPT's GPT at the size of its configuration for small corpora on a CPU: 4 layers, 4 heads,
// 128 dimensions, a context of 64 characters, tied output weights, the exact GELU, and nanoGPT's
// module names, so that the saved safetensors file has the parameter names of nanoGPT's model.
// Initialisation as nanoGPT's: every weight N(0, 0.02²), the projections into the residual stream
// (attn.c_proj, mlp.c_proj) N(0, (0.02/√(2·4))²) = 0.00707, biases 0, LayerNorm 1 and 0.

/// <summary>x + attn(ln_1(x)): causal self-attention, 4 heads.</summary>
[Block]
[LayerNorm(Name = "ln_1")]
[MultiHeadAttention(4, Name = "attn", InitStd = 0.02, OutputInitStd = 0.0070710678)]
public partial class Attention;

/// <summary>x + mlp(ln_2(x)): 128 → 512 → 128 with the exact GELU.</summary>
[Block]
[LayerNorm(Name = "ln_2")]
[Dense(512, Activation = Activation.GeluExact, Name = "mlp.c_fc", InitStd = 0.02)]
[Dense(128, Name = "mlp.c_proj", InitStd = 0.0070710678)]
public partial class Mlp;

/// <summary>One Transformer block (nanoGPT's Block), its layers named in the block's own scope.</summary>
[Block]
[Residual(typeof(Attention), Name = "")]
[Residual(typeof(Mlp), Name = "")]
public partial class DecoderBlock;

/// <summary>
/// A character-level GPT for Tang poems: 6,768 characters (the corpus's 6,767 and the newline
/// between poems), 1.67 M parameters.
/// </summary>
[Network]
[Input(64, Kind = InputKind.Tokens)]
[Embedding(6768, 128, Name = "transformer.wte", InitStd = 0.02)]
[PositionalEmbedding(Name = "transformer.wpe", InitStd = 0.02)]
[Repeat(typeof(DecoderBlock), 4, Name = "transformer.h")]
[LayerNorm(Name = "transformer.ln_f")]
[Dense(6768, UseBias = false, TiedTo = "transformer.wte", Name = "lm_head")]
[SoftmaxCrossEntropy]
public partial class TangPoet;
