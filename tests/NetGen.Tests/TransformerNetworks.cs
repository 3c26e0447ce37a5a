using NetGen;

namespace NetGen.Tests;

// Sequences and the Transformer: a tiny GPT with nanoGPT's module names, and small networks that
// isolate one layer kind each.

/// <summary>nanoGPT's attention half of a block: ln_1, then causal self-attention.</summary>
[Block]
[LayerNorm(Name = "ln_1")]
[MultiHeadAttention(2, Name = "attn", InitStd = 0.3)]
public partial class TinyAttention;

/// <summary>nanoGPT's MLP half: ln_2, c_fc with the exact GELU, c_proj.</summary>
[Block]
[LayerNorm(Name = "ln_2")]
[Dense(16, Activation = Activation.GeluExact, Name = "mlp.c_fc")]
[Dense(8, Name = "mlp.c_proj")]
public partial class TinyMlp;

/// <summary>A decoder block: x + attn(ln_1(x)), then + mlp(ln_2(x)), named in the block's own scope.</summary>
[Block]
[Residual(typeof(TinyAttention), Name = "")]
[Residual(typeof(TinyMlp), Name = "")]
public partial class TinyDecoder;

/// <summary>A 2-layer GPT: 11 tokens, 8 dimensions, 2 heads, context 5, tied output weights.</summary>
[Network]
[Input(5, Kind = InputKind.Tokens)]
[Embedding(11, 8, Name = "transformer.wte", InitStd = 0.5)]
[PositionalEmbedding(Name = "transformer.wpe", InitStd = 0.5)]
[Repeat(typeof(TinyDecoder), 2, Name = "transformer.h")]
[LayerNorm(Name = "transformer.ln_f")]
[Dense(11, UseBias = false, TiedTo = "transformer.wte", Name = "lm_head")]
[SoftmaxCrossEntropy]
public partial class TinyGpt;

/// <summary>Embedding, position embedding and a per-position Dense with the next-token loss.</summary>
[Network]
[Input(4, Kind = InputKind.Tokens)]
[Embedding(7, 5)]
[PositionalEmbedding(4)]
[Dense(7)]
[SoftmaxCrossEntropy]
public partial class EmbeddingNet;

/// <summary>LayerNorm on a float sequence, with and without bias, between layers with parameters.</summary>
[Network]
[Input(3, 6)]
[Dense(6)]
[LayerNorm(Epsilon = 1e-3)]
[Dense(5, Activation = Activation.Tanh)]
[LayerNorm(UseBias = false)]
[Dense(4)]
[MeanSquaredError]
public partial class LayerNormNet;

/// <summary>Attention that sees every position (an encoder), on a float sequence.</summary>
[Network]
[Input(4, 6)]
[Dense(6)]
[MultiHeadAttention(3, Causal = false)]
[Dense(2)]
[MeanSquaredError]
public partial class EncoderNet;

/// <summary>Causal attention straight on the input: its input needs no gradient.</summary>
[Network]
[Input(4, 6)]
[MultiHeadAttention(2, UseBias = false)]
[MeanSquaredError]
public partial class CausalOnInputNet;

/// <summary>Heads of 10 values: the kernels' vector loops (8 at a time) and their scalar tails.</summary>
[Network]
[Input(3, 20)]
[Dense(20)]
[MultiHeadAttention(2)]
[MeanSquaredError]
public partial class WideHeadNet;

/// <summary>Causal attention with dropout on its weights (nanoGPT's attn_dropout).</summary>
[Network]
[Input(4, 6)]
[Dense(6)]
[MultiHeadAttention(3, Dropout = 0.3)]
[Dense(2)]
[MeanSquaredError]
public partial class AttentionDropoutNet;

/// <summary>nanoGPT's attention half at 64 dimensions (large enough that its products split across threads).</summary>
[Block]
[LayerNorm(Name = "ln_1")]
[MultiHeadAttention(4, Name = "attn", InitStd = 0.1)]
public partial class WideAttention;

/// <summary>nanoGPT's MLP half at 64 dimensions.</summary>
[Block]
[LayerNorm(Name = "ln_2")]
[Dense(256, Activation = Activation.GeluExact, Name = "mlp.c_fc")]
[Dense(64, Name = "mlp.c_proj")]
public partial class WideMlp;

/// <summary>A decoder block at 64 dimensions.</summary>
[Block]
[Residual(typeof(WideAttention), Name = "")]
[Residual(typeof(WideMlp), Name = "")]
public partial class WideDecoder;

/// <summary>
/// A 1-layer GPT with 32 positions of 64 dimensions: at batch 1, c_fc is 32 x 256 x 64 = 524,288
/// multiply-adds, two threads' worth, so Threads = 2 splits its products instead of the batch.
/// </summary>
[Network]
[Input(32, Kind = InputKind.Tokens)]
[Embedding(40, 64, Name = "transformer.wte", InitStd = 0.3)]
[PositionalEmbedding(Name = "transformer.wpe", InitStd = 0.3)]
[Repeat(typeof(WideDecoder), 1, Name = "transformer.h")]
[LayerNorm(Name = "transformer.ln_f")]
[Dense(40, UseBias = false, TiedTo = "transformer.wte", Name = "lm_head")]
[SoftmaxCrossEntropy]
public partial class WideGpt;

/// <summary>A language model with an output layer large enough to split across threads in generation (4,096 x 128).</summary>
[Network]
[Input(4, Kind = InputKind.Tokens)]
[Embedding(4096, 128, Name = "wte", InitStd = 0.5)]
[PositionalEmbedding(Name = "wpe", InitStd = 0.5)]
[LayerNorm(Name = "ln_f")]
[Dense(4096, UseBias = false, Name = "lm_head")]
[SoftmaxCrossEntropy]
public partial class WideVocabularyLm;
