using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary>
/// One layer attribute as read from source: a record per kind (in <c>Layers/</c>) with its own
/// named arguments, compared by value so that the pipeline caches. Each kind says how it reads,
/// what arguments are invalid, and how it plans itself (shape rule, tensors, ops).
/// </summary>
internal abstract record LayerSpec
{
    /// <summary>Position among the declaring class's attributes (for diagnostic locations).</summary>
    public int AttributeIndex { get; init; }

    /// <summary>The user's <c>Name = "..."</c>, or null for the generated one.</summary>
    public string? Name { get; init; }

    /// <summary>The prefix of generated names: <c>dense</c> gives <c>dense1</c>, <c>dense2</c>, ...</summary>
    public abstract string NamePrefix { get; }

    /// <summary>How the layer reads in a message or table: <c>Dense(128, ReLU)</c>.</summary>
    public abstract string Display { get; }

    /// <summary>The loss layers end a network.</summary>
    public virtual bool IsLoss => false;

    /// <summary>A ReLU-family activation: a weight before it gets He initialisation.</summary>
    public virtual bool IsReluFamily => false;

    /// <summary>Looked past when finding the activation after a weight (normalisation, dropout).</summary>
    public virtual bool IsTransparentForInitialization => false;

    /// <summary>Whether the layer reads token ids (an Embedding); every other layer reads values.</summary>
    public virtual bool ReadsTokens => false;

    /// <summary>The first error in the layer's own arguments (independent of shapes), or null.</summary>
    public virtual string? ArgumentError() => null;

    /// <summary>
    /// Shape rule and planning: reads <see cref="PlanBuilder.Current"/>, reports shape problems
    /// through <paramref name="site"/> and returns false on an error, or adds its tensors,
    /// parameters and ops and moves <see cref="PlanBuilder.Current"/> on.
    /// </summary>
    public abstract bool Plan(PlanBuilder builder, LayerSite site);

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>"NAME must be non-negative and finite, but is X" when it is not, else null.</summary>
    public static string? NonNegativeFinite(double value, string name) =>
        value >= 0 && !double.IsInfinity(value) ? null : $"{name} must be non-negative and finite, but is {Format(value)}";
}

/// <summary>A network (or a block: no input, no loss, inlined where it is used) as read from source.</summary>
/// <param name="Namespace">The containing namespace, empty for the global namespace.</param>
/// <param name="Name">The class name.</param>
/// <param name="MetadataName">Full metadata name: the hint name, and how blocks are referred to.</param>
/// <param name="Layers">The layers in declaration order.</param>
/// <param name="Problems">Problems found while reading the attributes.</param>
internal sealed record NetworkSpec(
    string Namespace,
    string Name,
    string MetadataName,
    EquatableArray<LayerSpec> Layers,
    EquatableArray<Problem> Problems);

/// <summary>
/// A problem found while reading or planning; the analyzer turns it into a diagnostic. Inside a
/// block, <see cref="Block"/> names the block whose attribute <see cref="AttributeIndex"/> is,
/// and <see cref="UseSite"/> the network attribute that uses the block (the primary location).
/// </summary>
/// <param name="Id">The descriptor id, e.g. NG1001.</param>
/// <param name="AttributeIndex">The attribute it is reported on; <see cref="ClassLocation"/> for the class name.</param>
/// <param name="Args">The message arguments.</param>
internal sealed record Problem(string Id, int AttributeIndex, EquatableArray<string> Args)
{
    public const int ClassLocation = -1;
    public const int NetworkAttributeLocation = -2;

    /// <summary>Reported on the user's member named <see cref="Member"/>.</summary>
    public const int MemberLocation = -3;

    /// <summary>The name of the member the problem is reported on (with <see cref="MemberLocation"/>).</summary>
    public string? Member { get; init; }

    /// <summary>Metadata name of the block that declares the attribute, or null for the class itself.</summary>
    public string? Block { get; init; }

    /// <summary>Attribute index of the use in the network (when <see cref="Block"/> is set).</summary>
    public int UseSite { get; init; } = -1;

    public static Problem Create(string id, int attributeIndex, params string[] args) => new(id, attributeIndex, new EquatableArray<string>(args));
}
