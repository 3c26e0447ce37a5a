using System;
using System.Diagnostics;

namespace NetGen;

// Sequences and the Transformer: token input, embeddings, LayerNorm and self-attention (see
// Attributes.cs for the other layers).

/// <summary>What a network's input holds (<see cref="InputAttribute.Kind"/>).</summary>
public enum InputKind
{
    /// <summary>Float values: the generated methods take <c>ReadOnlySpan&lt;float&gt;</c>.</summary>
    Values = 0,

    /// <summary>
    /// Token ids: the generated methods take <c>ReadOnlySpan&lt;int&gt;</c>, each id checked against the
    /// vocabulary of the <see cref="EmbeddingAttribute"/> that must come first.
    /// </summary>
    Tokens = 1,
}

/// <summary>
/// A lookup table from token ids to vectors (PyTorch's <c>nn.Embedding</c>, GPT-2's <c>wte</c>):
/// a sequence of T ids becomes <c>[T, dimension]</c>. The weight is <c>[vocabulary, dimension]</c>;
/// its gradient adds up the rows of every position that used the id. Must follow a token input.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class EmbeddingAttribute : LayerAttribute
{
    /// <summary>Creates the embedding.</summary>
    /// <param name="vocabulary">Number of distinct ids; every id must lie in [0, vocabulary).</param>
    /// <param name="dimension">Length of each vector.</param>
    public EmbeddingAttribute(int vocabulary, int dimension)
    {
        Vocabulary = vocabulary;
        Dimension = dimension;
    }

    /// <summary>Number of distinct ids.</summary>
    public int Vocabulary { get; }

    /// <summary>Length of each vector.</summary>
    public int Dimension { get; }

    /// <summary>Initialise from N(0, InitStd²); 0 (the default) means 1, PyTorch's N(0, 1).</summary>
    public double InitStd { get; set; }
}

/// <summary>
/// A learned position embedding added to a <c>[T, D]</c> sequence (GPT-2's <c>wpe</c>):
/// <c>y[t] = x[t] + weight[t]</c>, weight <c>[T, D]</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class PositionalEmbeddingAttribute : LayerAttribute
{
    /// <summary>Creates the position embedding; its length is the sequence's.</summary>
    public PositionalEmbeddingAttribute()
    {
    }

    /// <summary>Creates the position embedding for a context of <paramref name="contextLength"/> positions, which must equal the sequence's length.</summary>
    /// <param name="contextLength">Positions in the table.</param>
    public PositionalEmbeddingAttribute(int contextLength) => ContextLength = contextLength;

    /// <summary>Positions in the table; 0: the sequence's length.</summary>
    public int ContextLength { get; }

    /// <summary>Initialise from N(0, InitStd²); 0 (the default) means 1, PyTorch's N(0, 1).</summary>
    public double InitStd { get; set; }
}

/// <summary>
/// Layer normalisation over the last axis (PyTorch's <c>nn.LayerNorm(D)</c>): each position is
/// normalised by its own mean and (biased) variance, then scaled by <c>weight</c> (initially 1) and
/// shifted by <c>bias</c> (initially 0). The same in training and at inference.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class LayerNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance for stability (default 1e-5, PyTorch's).</summary>
    public double Epsilon { get; set; } = 1e-5;

    /// <summary>Whether the layer has the bias (shift) vector (default true).</summary>
    public bool UseBias { get; set; } = true;
}

/// <summary>
/// Multi-head scaled dot-product self-attention on a <c>[T, D]</c> sequence, as in GPT-2 and
/// nanoGPT's <c>CausalSelfAttention</c>: one fused projection to queries, keys and values
/// (<c>c_attn</c>, weight <c>[3D, D]</c>), per head <c>softmax(q·kᵀ/√(D/heads))·v</c> with the
/// causal mask (a position attends to itself and the positions before it), and an output
/// projection (<c>c_proj</c>, <c>[D, D]</c>). The parameters are named <c>{Name}.c_attn.weight</c>,
/// <c>{Name}.c_proj.weight</c> and so on.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class MultiHeadAttentionAttribute : LayerAttribute
{
    /// <summary>Creates the attention layer.</summary>
    /// <param name="heads">Number of heads; must divide the model dimension D.</param>
    public MultiHeadAttentionAttribute(int heads) => Heads = heads;

    /// <summary>Number of heads.</summary>
    public int Heads { get; }

    /// <summary>Whether a position attends only to itself and earlier positions (default true, a decoder).</summary>
    public bool Causal { get; set; } = true;

    /// <summary>Whether the projections have biases (default true).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>
    /// Initialise both projections from N(0, InitStd²); 0 (the default): Glorot uniform. nanoGPT
    /// uses 0.02.
    /// </summary>
    public double InitStd { get; set; }

    /// <summary>
    /// Initialise the output projection from N(0, OutputInitStd²) instead (nanoGPT:
    /// 0.02/√(2·layers)); 0 (the default): as <see cref="InitStd"/>.
    /// </summary>
    public double OutputInitStd { get; set; }

    /// <summary>
    /// Dropout on the attention weights in training (nanoGPT's <c>attn_dropout</c>, PyTorch's
    /// <c>dropout</c> argument): each weight is zeroed with this probability after the softmax and
    /// the rest scaled by 1/(1 − p); the identity at inference. Default 0; must lie in [0, 1).
    /// </summary>
    public double Dropout { get; set; }
}
