using System;
using System.Diagnostics;

namespace NetGen;

// Composition: blocks, residual connections and repetition (see Attributes.cs for the layers).

/// <summary>
/// Marks a <c>partial class</c> as a block: a reusable piece of a network, written with the same
/// layer attributes but without <c>[Input]</c> and without a loss. Its input shape comes from
/// where it is used: <see cref="ResidualAttribute"/> and <see cref="RepeatAttribute"/> refer to it
/// by type, and blocks may use other blocks. Nothing is generated for the block itself: the
/// generator inlines it into every network that uses it, under the name of the use.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class BlockAttribute : Attribute
{
}

/// <summary>
/// A residual connection (ResNet): <c>y = x + Block(x)</c>. When the block changes the shape
/// (a stride, more channels), the shortcut needs a <see cref="Projection"/>, a block that maps
/// <c>x</c> to the block's output shape (torchvision's <c>downsample</c>: a 1x1 Conv2D with the
/// same stride, then BatchNorm): <c>y = Projection(x) + Block(x)</c>. The block's layers are
/// named under this layer's <see cref="LayerAttribute.Name"/> (default <c>residual1</c>, ...;
/// an empty name puts them directly in the enclosing scope, as torchvision's BasicBlock does),
/// the projection's under <see cref="ProjectionName"/> below it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class ResidualAttribute : LayerAttribute
{
    /// <summary>Creates the residual connection.</summary>
    /// <param name="block">A class marked <see cref="BlockAttribute"/>: the residual branch.</param>
    public ResidualAttribute(Type block) => Block = block;

    /// <summary>The residual branch.</summary>
    public Type Block { get; }

    /// <summary>A block for the shortcut, needed when the branch changes the shape; none by default (identity).</summary>
    public Type? Projection { get; set; }

    /// <summary>The projection's name below this layer's (default <c>downsample</c>, as torchvision).</summary>
    public string ProjectionName { get; set; } = "downsample";
}

/// <summary>
/// <c>count</c> copies of a block, one after the other, each with its own parameters; named
/// <c>NAME.0</c>, <c>NAME.1</c>, ... as PyTorch's <c>nn.Sequential</c> (default NAME: <c>repeat1</c>, ...).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
[Conditional("NETGEN_KEEP_ATTRIBUTES")]
public sealed class RepeatAttribute : LayerAttribute
{
    /// <summary>Creates the repetition.</summary>
    /// <param name="block">A class marked <see cref="BlockAttribute"/>.</param>
    /// <param name="count">How many copies; positive.</param>
    public RepeatAttribute(Type block, int count)
    {
        Block = block;
        Count = count;
    }

    /// <summary>The repeated block.</summary>
    public Type Block { get; }

    /// <summary>How many copies.</summary>
    public int Count { get; }
}
